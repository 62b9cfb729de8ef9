"""Bookkeeping commands, timed: ``nice -n 5 .venv/bin/python bench/bookkeeping.py [--runs 5]``.

Commands that only read files or SQLite (``sources list``, ``sources log``, ``feeds list``,
``feeds queue``, ``stats``, ``stories list``) and a URL the SSRF guard refuses (``sources add
http://127.0.0.1/``) must not load spaCy or the embedding model. Each runs as a fresh process
over the shipped config and corpus (state in a temporary directory, warmed by one answer first);
the table shows the median wall seconds and the median CPU seconds (user + system of the child).

``--before DIR``: also time the same commands with the code checked out in DIR (e.g.
``git archive eefcfa7 | tar -x -C /tmp/before``), run as ``python -m bot`` from there, in the
same run, alternating: the machine's load then weighs on both alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "sources list": ["sources", "list"],
    "sources log": ["sources", "log"],
    "feeds list": ["feeds", "list"],
    "feeds queue": ["feeds", "queue"],
    "stats": ["stats"],
    "stories list": ["stories", "list"],
    "sources add (refused URL)": ["sources", "add", "http://127.0.0.1/x"],
}


def run(code: Path, home: Path, argv: list[str]) -> tuple[float, float, int]:
    """One fresh ``storybot`` process of the code in ``code`` (a repository checkout)."""
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(home / "config.toml"), *argv],
        capture_output=True,
        cwd=code,
    )
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (median)")
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    args = parser.parse_args()
    codes = {"now": REPO} | ({"before": args.before} if args.before else {})
    print(f"| command | {' | '.join(f'{k} wall s | {k} CPU s' for k in codes)} |")
    print(f"|---|{'---:|---:|' * len(codes)}")
    with tempfile.TemporaryDirectory() as tmp:
        homes = {}
        for key, code in codes.items():
            home = homes[key] = Path(tmp) / key
            home.mkdir()
            shutil.copy(REPO / "config.toml", home)
            shutil.copytree(REPO / "corpus", home / "corpus")
            # Warm caches and a question log (one unanswered), as on a deployment.
            for question in ("Who directed Cuties?", "What is the price of tea in China?"):
                run(code, home, ["ask", question])
            run(code, home, ["feeds", "add", "https://news.example/feed.xml"])
        for name, argv in COMMANDS.items():
            if name == "stories list" and args.before:
                continue  # no such command before
            cells = []
            runs: dict[str, list] = {key: [] for key in codes}
            for _ in range(args.runs):
                for key, code in codes.items():
                    runs[key].append(run(code, homes[key], argv))
            for key in codes:
                wall = statistics.median(r[0] for r in runs[key])
                cpu = statistics.median(r[1] for r in runs[key])
                cells.append(f"{wall:.2f} | {cpu:.2f}")
            print(f"| storybot {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
