"""Bookkeeping commands, timed: ``nice -n 5 .venv/bin/python bench/bookkeeping.py [--runs 5]``.

Commands that only read files or SQLite (``sources list``, ``sources log``, ``feeds list``,
``feeds queue``, ``stats``, ``stories list``) and a URL the SSRF guard refuses (``sources add
http://127.0.0.1/``) must not load spaCy or the embedding model. Each runs as a fresh process
over the shipped config and corpus (state in a temporary directory, warmed by one answer first);
the table shows the median wall seconds and the median CPU seconds (user + system of the child).
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


def run(exe: Path, home: Path, argv: list[str]) -> tuple[float, float, int]:
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        [str(exe), "--config", str(home / "config.toml"), *argv], capture_output=True
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
    args = parser.parse_args()
    exe = Path(sys.executable).parent / "storybot"
    print("| command | exit | median wall s | median CPU s |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        shutil.copy(REPO / "config.toml", home)
        shutil.copytree(REPO / "corpus", home / "corpus")
        # Warm caches and a question log, as on a deployment.
        subprocess.run(
            [str(exe), "--config", str(home / "config.toml"), "ask", "Who directed Cuties?"],
            capture_output=True,
            check=True,
        )
        for name, argv in COMMANDS.items():
            runs = [run(exe, home, argv) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"| storybot {name} | {runs[0][2]} | {wall:.2f} | {cpu:.2f} |")


if __name__ == "__main__":
    main()
