"""Hostile feeds, timed: ``nice -n 5 .venv/bin/python bench/hostile_feeds.py``.

The third attack round's feed findings (docs/reliability-round3.md), measured rather than
asserted in unit tests. Each case is parsed twice, each time in a fresh process (peak RSS is per
process; "growth" is peak RSS minus RSS after the imports):

- ``before``: what storybot did until round 3, ``feedparser.parse`` on the bytes as fetched;
- ``after``: ``items.read_items`` (``safexml`` first, then feedparser on what it kept).

Cases (all under the fetcher's 5 MB cap):

- ``entities``: an internal DTD entity of 2,000 characters referenced ``--refs`` times
  (default 25,000: 50 MB of text from a 127 KB body; the attack round used 250,000 and 2 GB);
- ``many-items``: a valid RSS feed of 90,000 short items;
- ``deep``: one item nesting 200,000 elements;
- ``wide``: 50 items of 100 descriptions of escaped HTML each (6 MB: just over the cap, to
  show the per-entry text bound).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def body(case: str, refs: int) -> bytes:
    if case == "entities":
        return (
            '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "' + "A" * 2000 + '">\n]>\n'
            '<rss version="2.0"><channel><title>t</title><item><title>x</title>'
            "<link>http://x.test/1</link><description>" + "&big;" * refs + "</description>"
            "</item></channel></rss>"
        ).encode()
    if case == "many-items":
        items = "".join(f"<item><title>S{i}</title><link>/{i}</link></item>" for i in range(90_000))
        return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    if case == "wide":
        chunk = "&lt;p&gt;&lt;b&gt;w&lt;/b&gt;&lt;/p&gt;" * 30
        parts = "".join(f"<description>{chunk}</description>" for _ in range(100))
        items = "".join(
            f"<item><title>t{i}</title><link>http://x.test/{i}</link>{parts}</item>"
            for i in range(50)
        )
        return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    deep = "<b>" * 200_000 + "x" + "</b>" * 200_000
    return (
        '<rss version="2.0"><channel><title>t</title><item><title>ok</title>'
        f"<link>http://x.test/ok</link><description>{deep}</description></item></channel></rss>"
    ).encode()


def worker(case: str, mode: str, refs: int) -> dict:
    import io

    import feedparser

    from bot.sources.feeds.items import read_items
    from bot.sources.web.fetch import Page

    data = body(case, refs)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    if mode == "before":
        parsed = feedparser.parse(io.BytesIO(data))
        entries = len(parsed.entries)
        text = sum(len(e.get("summary", "")) + len(e.get("title", "")) for e in parsed.entries)
    else:
        real, produced = feedparser.parse, []

        def spy(*args, **kwargs):  # what feedparser produced, as measured before
            produced.append(real(*args, **kwargs))
            return produced[-1]

        feedparser.parse = spy
        page = Page("http://x.test/f", "http://x.test/f", "application/rss+xml", "", "", data=data)
        entries = len(read_items(page, "feed", limit=50).items)
        text = sum(len(e.get("summary", "")) + len(e.get("title", "")) for e in produced[0].entries)
    cpu = time.process_time() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "case": case,
        "mode": mode,
        "body_kb": round(len(data) / 1000),
        "cpu_s": round(cpu, 2),
        "rss_growth_mb": round((peak - base) / 1024),
        "entries": entries,
        "text_chars": text,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refs", type=int, default=25_000)
    parser.add_argument("--cases", nargs="*", default=["entities", "many-items", "deep", "wide"])
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.refs)))
        return
    print(f"{'case':<11} {'mode':<7} {'body':>8} {'cpu':>8} {'RSS growth':>11} {'entries':>8}")
    for case in args.cases:
        for mode in ("before", "after"):
            run = subprocess.run(
                [sys.executable, __file__, "--refs", str(args.refs), "--worker", case, mode],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if run.returncode:
                print(f"{case:<11} {mode:<7} failed: {run.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(run.stdout)
            print(
                f"{case:<11} {mode:<7} {r['body_kb']:>6} KB {r['cpu_s']:>6} s "
                f"{r['rss_growth_mb']:>8} MB {r['entries']:>8}  ({r['text_chars']:,} chars parsed)"
            )


if __name__ == "__main__":
    main()
