"""Loading hostile corpora, timed: ``.venv/bin/python bench/hostile.py``.

The reliability tests check that these corpora load correctly (tests/reliability/
test_reliability_hostile_corpus.py); how long that takes and how much memory it needs are
figures, measured here rather than asserted in unit tests. Each case runs in a fresh process
(peak RSS is per case; "growth" is peak RSS minus RSS after importing and loading spaCy):

- ``one-mb-lines``: two 1 MB single-line sources (a run-on line without full stops, and one line
  of 40,000 sentences), indexed from an empty passage cache;
- ``traps``: the shipped story next to a sparse 50 MB file, a FIFO and a symlink to /dev/zero
  (each refused without being read: startup must not block or read 50 MB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MB = 1_000_000


def header(source_id: str) -> str:
    return f'+++\nid = "{source_id}"\ntitle = "T {source_id}"\nkind = "source"\n+++\n'


def make(case: str, corpus: Path) -> None:
    corpus.mkdir(parents=True)
    if case == "one-mb-lines":
        words = " ".join(f"giraffe{i % 997} word" for i in range(90_000))[:MB]
        sentences = " ".join(f"The gnu number {i} ran far." for i in range(40_000))[:MB]
        for name, text in (("run-on", words), ("one-line", sentences)):
            (corpus / f"{name}.txt").write_text(header(name) + text, encoding="utf-8")
    else:
        shutil.copy(REPO / "corpus" / "seed-story.txt", corpus)
        with (corpus / "huge.txt").open("wb") as handle:
            handle.write(header("huge").encode())
            handle.truncate(50 * MB)
        os.mkfifo(corpus / "pipe.txt")
        os.symlink("/dev/zero", corpus / "zero.txt")


def worker(directory: Path) -> dict:
    import tomllib

    from bot.config import config_from_dict
    from bot.engine import StoryBot
    from bot.search.text import Analyzer

    analyzer = Analyzer()
    analyzer.terms("warm up spaCy")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    data = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    started = time.perf_counter()
    bot = StoryBot(config_from_dict(data, base=directory), analyzer=analyzer)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        "peak_mb": peak,
        "growth_mb": peak - before,
        "sources": len(bot.sources),
        "skipped": len(bot.load_errors),
        "passages": bot.passage_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    print("| case | load s | peak RSS MB | growth MB | sources | skipped | passages |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for case in ("one-mb-lines", "traps"):
        with tempfile.TemporaryDirectory() as tmp:
            make(case, Path(tmp) / "corpus")
            done = subprocess.run(
                [sys.executable, __file__, "--worker", tmp],
                capture_output=True,
                text=True,
                check=True,
                timeout=600,
            )
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"| {case} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['growth_mb']:.0f} | "
                f"{r['sources']} | {r['skipped']} | {r['passages']:,} |"
            )


if __name__ == "__main__":
    main()
