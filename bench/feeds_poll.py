"""What a poll of watched feeds costs: ``.venv/bin/python bench/feeds_poll.py [--feeds 20]
[--items 50]``.

Serves ``--feeds`` RSS feeds of ``--items`` items each from a local server on 127.0.0.1, every
item a different article page, one item in ten about the shipped story ("Cuties", on topic) and
the rest English-like text of the same length (words drawn with their English frequencies, as
in ``bench/speed.py``; every sentence differs, so no embedding is reused). The corpus is the
shipped story. Then it times, each from a fresh state unless said:

1. the first poll, every item new (``fetch_items`` on: plausible items' pages are fetched,
   extracted, de-duplicated and scored again);
2. the same poll with ``fetch_items`` off (titles and summaries only);
3. a second poll of unchanged feeds that answer conditional requests (all 304);
4. a second poll of unchanged feeds without validators (all bodies again, every item known);

and, during the first poll run through ``StoryBot.poll_feeds`` on an event loop, the worst
delay of a 10 ms ticker on that loop (what a question waiting on the loop would feel).
``host_interval_seconds`` is 0 here (one local host); with the shipped 5 s, requests to one host
are spaced by 5 s each, which dominates when many feeds or items share a host.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the tests' local web server
sys.path.insert(0, str(REPO / "bench"))

from feed_server import CUTIES_SENTENCES, rss  # noqa: E402
from speed import english_words  # noqa: E402
from web_server import Route, WebServer, linked_html  # noqa: E402

from bot.config import config_from_dict  # noqa: E402
from bot.engine import StoryBot  # noqa: E402

SEED = 7
ON_TOPIC_EVERY = 10
NAMES = ["Amira", "Jonas", "Keiko", "Luis", "Maren", "Oskar", "Priya", "Tomas", "Wen", "Zoe"]
CITIES = ["Austin", "Lyon", "Dakar", "Leeds", "Quebec", "Tyler", "Oslo", "Perth", "Turin"]


def sentence(rng: random.Random, words: list[str], weights: list[float], n: int) -> str:
    chosen = rng.choices(words, weights, k=n)
    return " ".join(chosen).capitalize() + "."


def on_topic(rng: random.Random) -> tuple[str, str, list[str]]:
    """A new article about the story, varied so that no two are the same text."""
    name, city, n = rng.choice(NAMES), rng.choice(CITIES), rng.randrange(2, 900)
    title = f"{name} in {city}: Netflix and the Cuties controversy, part {n}"
    summary = (
        f"Critics in {city} renewed calls to remove Cuties from Netflix; {n} people joined "
        "the petition this week."
    )
    parent = f"{name}, a parent in {city}, said {n} families had cancelled their subscriptions."
    sentences = [*rng.sample(CUTIES_SENTENCES, 4), parent]
    return title, summary, sentences


def off_topic(rng, words, weights) -> tuple[str, str, list[str]]:
    title = sentence(rng, words, weights, rng.randrange(7, 12))[:-1]
    summary = " ".join(sentence(rng, words, weights, rng.randrange(10, 18)) for _ in range(2))
    return title, summary, [sentence(rng, words, weights, rng.randrange(15, 30)) for _ in range(5)]


def serve_feeds(web: WebServer, feeds: int, items: int, validators: bool) -> int:
    rng = random.Random(SEED)
    words, weights = english_words()
    pages = 0
    for f in range(feeds):
        entries = []
        for i in range(items):
            path = f"/f{f}/item{i}"
            made = on_topic(rng) if i % ON_TOPIC_EVERY == 0 else off_topic(rng, words, weights)
            title, summary, sentences = made
            web.html(path, linked_html(title, sentences))
            entries.append((title, web.url(path), summary))
            pages += 1
        headers = {"Content-Type": "application/rss+xml"}
        web.routes[f"/f{f}/rss"] = Route(
            headers=headers, body=rss(entries, f"Feed {f}"), etag=f'"f{f}"' if validators else ""
        )
    return pages


def make_bot(work: Path, fetch_items: bool) -> StoryBot:
    if work.exists():
        shutil.rmtree(work)
    (work / "corpus").mkdir(parents=True)
    shutil.copy(REPO / "corpus" / "seed-story.txt", work / "corpus")
    data = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    data["fetch"]["allow_hosts"] = ["127.0.0.1"]
    data["feeds"].update(host_interval_seconds=0.0, fetch_items=fetch_items)
    return StoryBot(config_from_dict(data, base=work))


def item_pages_fetched(web: WebServer) -> int:
    return sum(1 for path, _ in web.requests if "/item" in path)


async def poll_with_ticker(bot: StoryBot) -> tuple[float, float, object]:
    """(seconds, worst ticker delay in ms, report) of one poll run on this event loop."""
    worst = 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst
        while running:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            worst = max(worst, time.perf_counter() - before - 0.01)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    report = await bot.poll_feeds()
    seconds = time.perf_counter() - started
    running = False
    await task
    return seconds, worst * 1000, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=50)
    args = parser.parse_args()
    total = args.feeds * args.items
    rows = []
    with tempfile.TemporaryDirectory() as temp, WebServer() as web:
        work = Path(temp)
        serve_feeds(web, args.feeds, args.items, validators=True)

        def add_feeds(bot: StoryBot) -> None:
            for f in range(args.feeds):
                bot.feeds_add(web.url(f"/f{f}/rss"))

        bot = make_bot(work / "a", fetch_items=True)
        bot.match("warm up the embedder and spaCy")
        add_feeds(bot)
        web.requests.clear()
        seconds, lag, report = asyncio.run(poll_with_ticker(bot))
        fetched = item_pages_fetched(web)
        rows.append(
            ("first poll, fetch_items on", seconds, len(report.candidates), fetched, f"{lag:.0f}")
        )
        web.requests.clear()
        started = time.perf_counter()
        again = bot.poll_feeds_sync(force=True)
        assert {r.status for r in again.feeds} == {"not modified"}
        rows.append(("second poll, unchanged feeds (304)", time.perf_counter() - started,
                     len(again.candidates), item_pages_fetched(web), ""))  # fmt: skip

        bot = make_bot(work / "b", fetch_items=False)
        add_feeds(bot)
        web.requests.clear()
        started = time.perf_counter()
        plain = bot.poll_feeds_sync()
        rows.append(("first poll, fetch_items off", time.perf_counter() - started,
                     len(plain.candidates), item_pages_fetched(web), ""))  # fmt: skip

        serve_feeds(web, args.feeds, args.items, validators=False)
        started = time.perf_counter()
        full = bot.poll_feeds_sync(force=True)
        judged = sum(r.judged for r in full.feeds)
        rows.append((f"second poll, no validators ({judged} judged)",
                     time.perf_counter() - started, len(full.candidates), 0, ""))  # fmt: skip

    print(f"# Poll cost: {args.feeds} feeds x {args.items} items = {total} items "
          f"(1 in {ON_TOPIC_EVERY} on topic), one local host, 4 workers\n")  # fmt: skip
    print("| poll | wall time | per item | candidates | item pages fetched | loop lag max |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, seconds, candidates, fetched, lag in rows:
        print(
            f"| {name} | {seconds:.2f} s | {seconds / total * 1000:.1f} ms | {candidates} "
            f"| {fetched} | {lag + ' ms' if lag else '—'} |"
        )


if __name__ == "__main__":
    main()
