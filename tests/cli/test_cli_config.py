"""Config discovery (--config, $STORYBOT_CONFIG, ./config.toml, the user config dir) and a
missing or empty corpus as an error with the fix, from a folder other than the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import find_config_path, load_config, user_config_path
from conftest import SHIPPED_CORPUS, write_config


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fake home with no config anywhere; the current directory is an empty folder in it."""
    home = tmp_path / "home"
    (home / "elsewhere").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("STORYBOT_CONFIG", raising=False)
    monkeypatch.chdir(home / "elsewhere")
    return home


def story_folder(directory: Path) -> Path:
    """``directory`` with config.toml and a copy of the shipped corpus; returns the config."""
    (directory / "corpus").mkdir(parents=True)
    shutil.copy(SHIPPED_CORPUS / "seed-story.txt", directory / "corpus")
    return write_config(directory)


def storybot(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ.copy(),
        timeout=120,
    )


def test_the_user_config_dir_follows_xdg(home, monkeypatch):
    assert user_config_path() == home / ".config" / "storybot" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg"))
    assert user_config_path() == home / "xdg" / "storybot" / "config.toml"


def test_discovery_order(home, monkeypatch):
    assert find_config_path() is None
    user = story_folder(home / ".config" / "storybot")
    assert find_config_path() == user
    local = write_config(Path.cwd())
    assert find_config_path() == local
    named = story_folder(home / "named")
    monkeypatch.setenv("STORYBOT_CONFIG", str(named))
    assert find_config_path() == named
    assert find_config_path(str(user)) == user  # --config wins over everything


def test_a_missing_config_named_by_the_environment_says_so(home, monkeypatch):
    from bot.config import ConfigError

    monkeypatch.setenv("STORYBOT_CONFIG", str(home / "nope.toml"))
    with pytest.raises(ConfigError, match=r"nope.toml \(named by \$STORYBOT_CONFIG\)"):
        load_config()


def test_asking_outside_the_repository_is_an_error_with_the_fix(home):
    result = storybot("ask", "Who directed Cuties?", cwd=Path.cwd())
    assert result.returncode == 1
    assert "don't cover" not in result.stdout
    err = " ".join(result.stderr.split())
    assert f"there is no corpus directory: {Path.cwd() / 'corpus'}" in err
    assert "no config file found" in err and str(Path.cwd() / "config.toml") in err
    assert "--config PATH" in err and "STORYBOT_CONFIG=PATH" in err
    assert str(home / ".config" / "storybot" / "config.toml") in err
    assert not (Path.cwd() / "state").exists()  # nothing written where it was run


def test_the_user_config_is_found_from_any_folder(home):
    story_folder(home / ".config" / "storybot")
    result = storybot("ask", "Who directed Cuties?", cwd=Path.cwd())
    assert result.returncode == 0, result.stderr
    assert "Sundance" in result.stdout


def test_an_empty_corpus_is_an_error_naming_the_config(home, capsys):
    from bot.cli import main

    config = write_config(home / "elsewhere")
    (home / "elsewhere" / "corpus").mkdir()
    assert main(["ask", "Who directed Cuties?"]) == 1
    out, err = capsys.readouterr()
    assert "don't cover" not in out
    err = " ".join(err.split())
    assert "the corpus has no sources" in err and f"config {config}" in err
    assert "storybot sources add" in err
    # Listing an empty corpus is not an error; adding to a corpus that is not there yet starts it.
    assert main(["sources", "list"]) == 0
    shutil.rmtree(home / "elsewhere" / "corpus")
    doc = home / "note.txt"
    doc.write_text("The zebra parade was cancelled by the town council on Monday.\n" * 10)
    assert main(["sources", "add", "--file", str(doc), "--title", "Zebra parade"]) == 0
    assert "starting a new corpus" in capsys.readouterr().err
    assert main(["ask", "Who cancelled the zebra parade?"]) == 0
