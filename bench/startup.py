"""Command-line start-up, timed: ``.venv/bin/python bench/startup.py [--runs 7]``.

Median wall time of fresh ``storybot`` processes: ``--help`` and ``--version`` (parse only: no
spaCy, scipy, numpy or discord.py may be imported first; tests/cli/test_cli_help.py checks the
imports, this measures the time), ``health`` (config and corpus, no spaCy), and a first answer
(``ask --no-log``: spaCy, the corpus, the index).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {
    "--help": ["--help"],
    "--version": ["--version"],
    "health": ["health"],
    "ask (first answer)": ["ask", "--no-log", "--json", "Who directed Cuties?"],
}


def median_seconds(argv: list[str], runs: int, home: Path) -> float:
    exe = Path(sys.executable).parent / "storybot"
    config = ["--config", str(home / "config.toml")]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(exe), *config, *argv], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (median)")
    args = parser.parse_args()
    print("| command | median s |")
    print("|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:  # the shipped config and corpus, state in tmp
        home = Path(tmp)
        shutil.copy(REPO / "config.toml", home)
        shutil.copytree(REPO / "corpus", home / "corpus")
        for name, argv in COMMANDS.items():
            print(f"| storybot {name} | {median_seconds(argv, args.runs, home):.2f} |")


if __name__ == "__main__":
    main()
