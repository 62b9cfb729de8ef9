"""bot/files.py: the one atomic-write helper (modes, what it never replaces), reading only regular
files within a size limit, and the corpus directory lock across processes."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot import files
from bot.files import (
    FileTooLarge,
    NotRegularFile,
    StillLocked,
    atomic_write,
    locked_directory,
    read_regular_file,
)

REPO = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

MODES = r"""
import json, os, sys, tomllib
from pathlib import Path
os.umask(int(sys.argv[2], 8))  # before bot.files reads the umask at import
from bot.config import config_from_dict
from bot.engine import StoryBot

base = Path(sys.argv[1])
data = tomllib.loads(Path(sys.argv[3]).read_text(encoding="utf-8"))
bot = StoryBot(config_from_dict(data, base=base, path=None))
bot.add_source("The harbour ferry sails at noon every day.", "Ferry times")
modes = {}
for path in [*base.rglob("*.txt"), *base.rglob("*.npz"), *base.rglob("*.sqlite3")]:
    modes[str(path.relative_to(base))] = oct(path.stat().st_mode & 0o777)
print(json.dumps(modes))
"""


@pytest.mark.parametrize(("umask", "expected"), [("022", "0o644"), ("027", "0o640")])
def test_every_file_written_gets_the_usual_mode(tmp_path, umask, expected):
    """Corpus files and caches get the mode a plain write would give (umask), not mkstemp's
    0600 (before: cache files were 0600); the database, which holds what members asked, is
    0600 whatever the umask (before: 0644)."""
    (tmp_path / "corpus").mkdir()
    modes = json.loads(
        subprocess.run(
            [sys.executable, "-c", MODES, str(tmp_path), umask, str(REPO / "config.toml")],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
            env=ENV,
        ).stdout
    )
    kinds = {Path(name).suffix for name in modes}
    assert kinds == {".txt", ".npz", ".sqlite3"}, modes
    assert modes.pop("state/storybot.sqlite3") == "0o600"
    assert set(modes.values()) == {expected}, modes


@pytest.mark.parametrize("kind", ["symlink", "directory", "fifo"])
def test_atomic_write_never_replaces_what_is_not_a_regular_file(tmp_path, kind):
    target = tmp_path / "kept.html"
    target.write_text("keep me", encoding="utf-8")
    path = tmp_path / "report.html"
    if kind == "symlink":
        path.symlink_to(target)
    elif kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    with pytest.raises(NotRegularFile, match="not a regular file"):
        atomic_write(path, b"new")
    assert target.read_text(encoding="utf-8") == "keep me"
    assert not stat.S_ISREG(os.lstat(path).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.html", "report.html"]
    atomic_write(target, b"replaced")  # a regular file is replaced as before
    assert target.read_bytes() == b"replaced"


def test_read_regular_file_checks_the_size_while_reading(tmp_path, monkeypatch):
    """A file that grows after its size was read (here: fstat lies) is still read no further
    than the limit plus one byte."""
    path = tmp_path / "growing.txt"
    path.write_bytes(b"x" * 100_000)
    real_fstat = os.fstat

    def small_fstat(fd):
        result = real_fstat(fd)
        return os.stat_result((*result[:6], 10, *result[7:]))

    monkeypatch.setattr(files.os, "fstat", small_fstat)
    with pytest.raises(FileTooLarge) as caught:
        read_regular_file(path, 1_000)
    assert caught.value.size == 1_001
    assert read_regular_file(path, 200_000) == b"x" * 100_000


HOLDER = r"""
import sys, time
from pathlib import Path
from bot.files import locked_directory
with locked_directory(Path(sys.argv[1]), 5):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_directory_lock_is_exclusive_across_processes_and_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=ENV,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StillLocked), locked_directory(tmp_path, 0.2):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        with locked_directory(tmp_path, 5):  # released by the holder's death
            pass
        assert list(tmp_path.iterdir()) == []  # no lock file left behind
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()


def test_atomic_write_is_the_only_file_writer_in_bot():
    """Every file storybot writes goes through files.atomic_write (SQLite writes its own)."""
    writers = re.compile(
        r"\.write_(text|bytes)\(|\bopen\([^)]*[\"'][wax]b?[\"']|mkstemp\(|O_WRONLY|O_CREAT"
        r"|np\.save[z]?\((?!buffer)"
    )
    found = [
        f"{path.relative_to(REPO)}: {line.strip()}"
        for path in sorted((REPO / "bot").rglob("*.py"))
        if path.name != "files.py"
        for line in path.read_text(encoding="utf-8").splitlines()
        if writers.search(line)
    ]
    assert found == []
