"""Command-line habits: unquoted questions, ``storybot`` alone, the file type before the title,
dates checked, ``--config DIR``, a first add into a new corpus, and ``ask --batch`` streaming
(``-`` for stdin; an answer per line as lines arrive, whatever comes next)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys

import pytest

from bot.cli import main
from conftest import REPO, write_config
from helpers import run_cli


def test_the_words_of_an_unquoted_question_are_the_question(capsys, config_path):
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", "--json", "who", "directed",
                       "cuties")  # fmt: skip
    record = json.loads(out)
    assert code == 0 and record["question"] == "who directed cuties" and record["answered"]


def test_storybot_alone_prints_the_help(capsys):
    code, out, err = run_cli(capsys)
    assert code == 2 and "usage: storybot" in out and "COMMAND" in out and "ask" in out
    assert "required" not in err


def test_add_file_checks_the_type_before_the_title(capsys, config_path, tmp_path):
    picture = tmp_path / "x.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    code, _, err = run_cli(capsys, "--config", str(config_path), "sources", "add", "--file",
                       str(picture))  # fmt: skip
    assert code == 2 and "only .htm, .html, .markdown, .md, .text, .txt files" in err
    assert "--title" not in err


@pytest.mark.parametrize("date", ["last tuesday", "2020-13-01", "10/09/2020"])
def test_published_must_be_a_date(capsys, config_path, tmp_path, date):
    doc = tmp_path / "note.txt"
    doc.write_text("The petition reached 600,000 signatures in a week. " * 5, encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config_path), "sources", "add", "--file", str(doc), "--title",
              "Note", "--published", date])  # fmt: skip
    assert exit_.value.code == 2
    assert "a date like 2020-09-10" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "corpus").glob("*.txt")) == ["seed-story.txt"]


def test_a_config_directory_is_named_as_one(capsys, config_path):
    code, _, err = run_cli(capsys, "--config", str(config_path.parent), "sources", "list")
    assert code == 1 and "is a directory, not a config file" in err
    assert f"did you mean {config_path}" in err


def test_the_first_add_into_a_new_corpus_just_works(capsys, tmp_path):
    config = write_config(tmp_path)  # [corpus] dir = "corpus", which does not exist yet
    assert not (tmp_path / "corpus").exists()
    doc = tmp_path / "note.md"
    doc.write_text("# A note\n\n" + "The petition reached 600,000 signatures. " * 8, "utf-8")
    code, out, err = run_cli(capsys, "--config", str(config), "sources", "add", "--file", str(doc))
    assert code == 0 and "added a-note" in out, err
    assert "starting a new corpus" in err and "not found" not in err


def test_batch_from_stdin_answers_each_line_as_it_arrives(config_path):
    """A pipe that has not ended (and may never end) gets its answers: each line's answer is
    written before the next line is sent. Blank and bad lines get an error line each."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config_path), "ask", "--batch", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )

    def answer_to(line: bytes) -> dict:
        process.stdin.write(line)
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 120)  # a deadline, not a timing
        assert ready, "no answer while the pipe stays open"
        return json.loads(process.stdout.readline())

    try:
        assert answer_to(b"Who directed Cuties?\n")["answered"] is True
        blank = answer_to(b"\n")
        assert blank["line"] == 2 and "error" in blank
        bad = answer_to(b'{"q": \n')
        assert bad["line"] == 3 and "'q' string field" in bad["error"]
        assert answer_to(b'{"q": "How many people signed the petition?"}\n')["answered"]
    finally:
        process.stdin.close()
        process.wait(60)
    assert process.returncode == 0, process.stderr.read()


def test_verbose_shows_storybots_own_lines_once_and_not_spacys(config_path):
    # A question loads spaCy (``sources list`` no longer does: nothing of it to show).
    command = ["ask", "--json", "who directed it"]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "-v", "--config", str(config_path), *command],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("INFO bot.cli: corpus ") == 1, result.stderr
    assert "Created vocabulary" not in result.stderr  # spaCy's INFO, printed twice before
    assert "INFO spacy" not in result.stderr and "[INFO]" not in result.stderr
