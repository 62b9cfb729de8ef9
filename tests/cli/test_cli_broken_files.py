"""Broken files give one-line errors, and ``health`` sees them (third attack round, findings 7
and 8): a tampered model or tokenizer, a damaged state database, ids beyond SQLite's range."""

from __future__ import annotations

import logging
import shutil

import pytest

from bot.cli import main
from bot.search import embeddings, modelfiles
from conftest import SHIPPED_CORPUS, write_config


@pytest.fixture
def config(tmp_path) -> str:
    (tmp_path / "corpus").mkdir()
    shutil.copy(SHIPPED_CORPUS / "seed-story.txt", tmp_path / "corpus")
    return str(write_config(tmp_path))


@pytest.fixture
def tampered(monkeypatch):
    """The packaged model or tokenizer no longer matches its hash (no embedder cached)."""
    monkeypatch.setattr(embeddings, "_EMBEDDERS", {})

    def tamper(which: str) -> None:
        name = "DEFAULT_MODEL_SHA256" if which == "model" else "DEFAULT_TOKENIZER_SHA256"
        monkeypatch.setattr(modelfiles, name, "0" * 64)

    return tamper


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error:"), err
    return " ".join(err.split())


@pytest.mark.parametrize("which", ["model", "tokenizer"])
def test_health_checks_the_model_and_tokenizer_hashes(config, capsys, tampered, which):
    assert main(["--config", config, "health"]) == 0
    capsys.readouterr()
    tampered(which)
    assert main(["--config", config, "health"]) == 1
    assert "not the expected" in one_line_error(capsys)


def test_health_sees_a_missing_tokenizer_of_ones_own(tmp_path, config, capsys):
    path = tmp_path / "config.toml"
    path.write_text(path.read_text().replace("# tokenizer = ", "tokenizer = "))
    assert 'tokenizer = "my-tokenizer.json"' in path.read_text()
    assert main(["--config", config, "health"]) == 1
    assert "tokenizer not found" in one_line_error(capsys)


def test_health_sees_a_state_database_it_cannot_write(tmp_path, config, capsys):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "storybot.sqlite3").write_bytes(b"not a database, " * 512)
    assert main(["--config", config, "health"]) == 1
    assert "state database" in one_line_error(capsys)


@pytest.mark.parametrize("which", ["model", "tokenizer"])
def test_a_tampered_model_is_one_line_not_a_traceback(config, capsys, tampered, which):
    tampered(which)
    assert main(["--config", config, "ask", "Who directed Cuties?"]) == 1
    assert "sha256" in one_line_error(capsys)


@pytest.mark.parametrize("which", ["model", "tokenizer"])
@pytest.mark.parametrize("argv", [["sources", "list"], ["feeds", "list"]])
def test_bookkeeping_never_loads_the_model_so_a_tampered_one_does_not_stop_it(
    config, capsys, tampered, which, argv
):
    tampered(which)  # (issue 21: these commands load neither spaCy nor the model)
    assert main(["--config", config, *argv]) == 0


@pytest.mark.parametrize(
    "argv", [["sources", "log"], ["feeds", "list"], ["feeds", "queue"], ["stats"]]
)
def test_a_damaged_state_database_is_one_line_not_a_traceback(tmp_path, config, capsys, argv):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "storybot.sqlite3").write_bytes(b"not a database, " * 512)
    assert main(["--config", config, *argv]) == 1
    assert "state database" in one_line_error(capsys)


@pytest.mark.parametrize(
    "argv",
    [
        ["feeds", "remove", str(10**30)],
        ["feeds", "accept", str(10**30)],
        ["feeds", "ignore", "-3"],
        ["feeds", "queue", "-n", str(10**30)],
        ["sources", "log", "-n", str(10**30)],
    ],
)
def test_ids_beyond_sqlite_are_usage_errors(config, capsys, argv):
    with pytest.raises(SystemExit) as exited:
        main(["--config", config, *argv])
    assert exited.value.code == 2
    assert "not between" in capsys.readouterr().err


def test_a_question_that_cannot_be_recorded_logs_one_line(make_bot, caplog, monkeypatch):
    bot = make_bot()

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bot.question_log, "record", full)
    with caplog.at_level(logging.ERROR):
        answer = bot.ask("Who directed Cuties?", record=True)
    assert answer.answered
    (record,) = [r for r in caplog.records if "could not record" in r.getMessage()]
    assert record.exc_info is None and "No space left" in record.getMessage()
