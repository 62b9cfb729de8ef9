"""Operator CLI edges (second attack round, as a careless moderator): special files handed to
``sources add --file``, a huge line in ``ask --batch``, ``stats --html`` onto a symlink, and
bytes that are not UTF-8 on the command line.

The runs that could hang or eat memory without the fix run in a subprocess with a time limit
and a 2 GB address-space limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from bot.cli import ask, main
from conftest import REPO, write_config

# Runs ``storybot`` once per JSON argv list given, in one process (spaCy loads once); prints
# the exit codes as JSON.
CLI = (
    "import json, resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
    "from bot.cli import main; print(json.dumps([main(argv) for argv in json.loads(sys.argv[1])]))"
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "seed-story.txt").write_bytes(
        (REPO / "corpus" / "seed-story.txt").read_bytes()
    )
    return write_config(tmp_path)


def run_limited(runs: list[list[str]], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", CLI, json.dumps(runs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_add_file_takes_regular_files_only(config_path, tmp_path):
    """Before: a symlink to /dev/zero was read until MemoryError (its size is 0), a FIFO made
    the command wait forever for a writer."""
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "folder.txt").mkdir()
    runs = [
        ["--config", str(config_path), "sources", "add", "--file", str(path), "--title", "N"]
        for path in (tmp_path / "zero.txt", tmp_path / "pipe.txt", tmp_path / "folder.txt")
    ]
    result = run_limited(runs)
    assert json.loads(result.stdout) == [1, 1, 1], result.stderr
    assert result.stderr.count("not a regular file") == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "corpus").glob("*.txt")) == ["seed-story.txt"]


def test_a_huge_batch_line_is_reported_not_held_or_echoed(config_path, tmp_path, capsys):
    """Before: the whole file was read, a 100 MB line took 1.1 GB and came back in the error
    record. Now a line is read 16 KB at most; a longer one is reported by number."""
    huge = "zebra " * 4_000_000  # 24 MB on one line
    batch = tmp_path / "q.txt"
    batch.write_text(f"Who directed Cuties?\n{huge}\n" + '{"q": "Who is Amy?"}\n', "utf-8")
    tracemalloc.start()
    try:
        with batch.open("rb") as handle:
            questions = [q for _, q in ask._batch_questions(handle, batch.name)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak  # bytes: nowhere near the line's 24 MB
    assert questions[0] == "Who directed Cuties?" and questions[2] == "Who is Amy?"
    code = main(["--config", str(config_path), "ask", "--batch", str(batch)])
    out, _ = capsys.readouterr()
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    # Answered, or shown the closest passages: either way the line was asked.
    assert [r["answered"] or bool(r.get("closest")) for r in records] == [True, False, True]
    assert records[1]["line"] == 2 and "longer than" in records[1]["error"]
    assert records[1]["question"] is None
    assert len(out) < 20_000


def test_a_batch_file_that_is_a_device_is_refused(config_path):
    result = run_limited([["--config", str(config_path), "ask", "--batch", "/dev/zero"]])
    assert json.loads(result.stdout) == [1], result.stderr
    assert "not a regular file or a pipe" in result.stderr


@pytest.mark.parametrize("kind", ["symlink", "directory"])
def test_stats_html_never_replaces_a_symlink_or_directory(config_path, tmp_path, capsys, kind):
    """Before: the report replaced a symlink named as the output with a regular file."""
    target = tmp_path / "elsewhere.html"
    target.write_text("keep me", encoding="utf-8")
    report = tmp_path / "report.html"
    if kind == "symlink":
        report.symlink_to(target)
    else:
        report.mkdir()
    code = main(["--config", str(config_path), "stats", "--html", str(report)])
    _, err = capsys.readouterr()
    assert code == 1 and "not a regular file" in err
    assert report.is_symlink() if kind == "symlink" else report.is_dir()
    assert target.read_text(encoding="utf-8") == "keep me"
    code = main(["--config", str(config_path), "stats", "--html", str(tmp_path / "new.html")])
    assert code == 0 and (tmp_path / "new.html").read_text("utf-8").startswith("<!DOCTYPE")


def test_non_utf8_bytes_on_the_command_line(config_path, capsys):
    """Before: ``sources log --id $'\\xff'`` (a surrogate-escaped argv) was a traceback."""
    odd = os.fsdecode(b"\xff")
    code = main(["--config", str(config_path), "sources", "log", "--id", odd])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("when (UTC)\twho\taction"), err
    code = main(["--config", str(config_path), "sources", "remove", "seed-story", "--by", odd])
    capsys.readouterr()
    assert code == 0
    code = main(["--config", str(config_path), "sources", "log", "--json"])
    out, _ = capsys.readouterr()
    (entry,) = [json.loads(line) for line in out.splitlines()]
    assert entry["actor"] == "?" and entry["action"] == "remove"
