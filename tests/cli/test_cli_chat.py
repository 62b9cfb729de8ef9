"""``storybot chat`` in a real pseudo-terminal: readline editing and history, the ``:commands``,
Ctrl-C clearing the line (the prompt stays), Ctrl-D leaving; and through a pipe."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from conftest import SHIPPED_CORPUS, write_config

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
UP = "\x1b[A"
CTRL_C, CTRL_D = "\x03", "\x04"


@pytest.fixture
def config(tmp_path) -> Path:
    (tmp_path / "corpus").mkdir()
    shutil.copy(SHIPPED_CORPUS / "seed-story.txt", tmp_path / "corpus")
    return write_config(tmp_path)


# The child makes the pseudo-terminal its controlling terminal (after Popen's setsid), so that
# Ctrl-C becomes SIGINT as in a real terminal; then it runs storybot. No fork in this (threaded)
# test process: subprocess spawns it.
BOOT = (
    "import fcntl, runpy, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "sys.argv[0] = 'storybot'; runpy.run_module('bot', run_name='__main__')"
)


class Terminal:
    """storybot in a pseudo-terminal that is its controlling terminal."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, TERM="xterm", COLUMNS="100", LINES="40")
        self.fd, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-c", BOOT, *args],
            stdin=child,
            stdout=child,
            stderr=child,
            start_new_session=True,
            env=env,
        )
        os.close(child)
        self.seen = ""

    def expect(self, pattern: str, timeout: float = 60) -> str:
        """Read until ``pattern`` (a regex) appears in the output since the last match."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.seen)
            if found:
                before, self.seen = self.seen[: found.end()], self.seen[found.end() :]
                return before
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; output: {self.seen[-2000:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"{pattern!r} not seen before exit: {self.seen!r}")
                self.seen += ANSI.sub("", chunk.decode("utf-8", "replace"))

    def send(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def exit_code(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            if select.select([self.fd], [], [], 0.1)[0]:
                with contextlib.suppress(OSError):
                    os.read(self.fd, 65536)  # keep the terminal drained
        if self.process.poll() is None:
            self.process.kill()
            raise AssertionError("storybot chat did not exit")
        os.close(self.fd)
        return self.process.returncode


PROMPT = r"ask> $"


def test_chat_line_editing_history_commands_and_keys(config):
    term = Terminal("--config", str(config), "chat")
    term.expect(PROMPT)
    term.send(":help\r")
    helped = term.expect(PROMPT)
    assert ":k N" in helped and ":sources" in helped and "Ctrl-C" in helped
    term.send("How did Netflix defend Cuties?\r")
    first = term.expect(PROMPT)
    assert "social commentary" in first and "[2]" in first
    term.send(":k 1\r")
    assert "up to 1 excerpt" in term.expect(PROMPT)
    # Up recalls the last line (not "^[[A"); ":k 1" is the last, one more Up is the question.
    term.send(UP + UP + "\r")
    again = term.expect(PROMPT)
    assert "^[[A" not in again and "How did Netflix defend Cuties?" in again
    assert "social commentary" in again and "[1]" in again and "[2]" not in again
    # Editing: type, move left over "X", delete it, go on typing.
    term.send("Who directed CutiesX" + "\x1b[D" + "\x1b[3~" + "?\r")
    edited = term.expect(PROMPT)
    assert "Sundance" in edited
    term.send(":sources\r")
    assert "seed-story" in term.expect(PROMPT)
    term.send(":bogus\r")
    assert "unknown command :bogus" in term.expect(PROMPT)
    # Ctrl-C drops a half-typed line and keeps the prompt; the line is not asked.
    # (Ctrl-C a moment after readline echoed the text, as fingers would: Python's readline sees
    # a signal that arrives in the instant between two waits for a key only at the next key.)
    term.send("Who won the Super")
    term.expect("Who won the Super$")
    time.sleep(0.3)
    term.send(CTRL_C)
    term.expect(PROMPT)
    term.send("Who won the Super Bowl?\r")
    assert "Nothing in the sources is about that." in term.expect(PROMPT)
    term.send(CTRL_D)
    assert term.exit_code() == 0

    history = (config.parent / "state" / "chat_history").read_text()
    assert "Who directed Cuties?" in history and ":k 1" in history
    assert "Who won the Super\n" not in history  # the interrupted line was never entered

    # A new session recalls the saved history.
    term = Terminal("--config", str(config), "chat")
    term.expect(PROMPT)
    term.send(UP + "\r")
    assert "Nothing in the sources is about that." in term.expect(
        PROMPT
    )  # the Super Bowl question again
    term.send(":quit\r")
    assert term.exit_code() == 0


def test_chat_with_no_log_keeps_no_history_file(config):
    term = Terminal("--config", str(config), "chat", "--no-log")
    term.expect(PROMPT)
    term.send("Who directed Cuties?\r")
    assert "Sundance" in term.expect(PROMPT)
    term.send(CTRL_D)
    assert term.exit_code() == 0
    assert not (config.parent / "state" / "chat_history").exists()
    assert not (config.parent / "state" / "storybot.sqlite3").exists()


def test_chat_through_a_pipe(config):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "chat"],
        input="Who directed Cuties?\n\n:sources\n:k 0\n:help\nExit polls on Cuties?\n"
        "Who won the Super Bowl?\n:quit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Sundance" in result.stdout and "seed-story" in result.stdout
    assert ":k takes a number from 1 to 10" in result.stdout
    assert "Nothing in the sources is about that." in result.stdout
    # :help and :sources are commands, never questions: only the questions are recorded (and a
    # question starting with "exit" is a question).
    from bot.insights.questionlog import QuestionLog

    log = QuestionLog(config.parent / "state" / "storybot.sqlite3")
    assert [(r["question"], r["origin"]) for r in log.rows()] == [
        ("Who directed Cuties?", "cli"),
        ("Exit polls on Cuties?", "cli"),
        ("Who won the Super Bowl?", "cli"),
    ]


def test_chat_names_the_story_it_was_given(config, tmp_path):
    note = tmp_path / "fire.txt"
    note.write_text(
        "The silo fire started in the conveyor on Tuesday night, firefighters said. Crews from "
        "three towns fought it for six hours before it was out, and the owner blamed a fault."
    )

    def storybot(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "bot", "--config", str(config), *argv]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)

    assert storybot("stories", "create", "silo-fire").returncode == 0
    added = storybot(
        "--story", "silo-fire", "sources", "add", "--file", str(note), "--title", "Fire"
    )
    assert added.returncode == 0, added.stderr
    chat = storybot("--story", "silo-fire", "chat", stdin=":quit\n")
    assert chat.returncode == 0 and "the story silo-fire, 1 source(s)" in chat.stdout
    assert "the story" not in storybot("chat", stdin=":quit\n").stdout
