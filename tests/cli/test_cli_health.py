"""``storybot health``: the container health check, fast and honest about what is wrong."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys

from bot.cli import main
from conftest import REPO, SHIPPED_CORPUS, write_config


def story(tmp_path):
    (tmp_path / "corpus").mkdir()
    shutil.copy(SHIPPED_CORPUS / "seed-story.txt", tmp_path / "corpus")
    return write_config(tmp_path)


def test_healthy_and_unhealthy(tmp_path, capsys, monkeypatch):
    config = str(story(tmp_path))
    assert main(["--config", config, "health"]) == 0
    assert "ok: 1 source(s) in" in capsys.readouterr().out
    assert (tmp_path / "state").is_dir()

    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    # Exit 2 like storybot run: a service manager must not restart for it.
    assert main(["--config", config, "health", "--discord"]) == 2
    assert "set the DISCORD_TOKEN environment variable" in capsys.readouterr().err
    assert main(["--config", config, "run"]) == 2
    assert "set the DISCORD_TOKEN environment variable" in capsys.readouterr().err
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    assert main(["--config", config, "health", "--discord"]) == 0

    shutil.rmtree(tmp_path / "state")
    (tmp_path / "state").write_text("a file where the state directory should be")
    assert main(["--config", config, "health"]) == 1
    assert "state directory" in capsys.readouterr().err
    (tmp_path / "state").unlink()

    (tmp_path / "corpus" / "seed-story.txt").unlink()
    assert main(["--config", config, "health"]) == 1
    assert "the corpus has no sources" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "corpus")
    assert main(["--config", config, "health"]) == 1
    assert "there is no corpus directory" in capsys.readouterr().err


def test_health_loads_no_search_stack(tmp_path):
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        f"assert main(['--config', {str(story(tmp_path))!r}, 'health']) == 0\n"
        "loaded = [m for m in ('spacy', 'numpy', 'scipy', 'discord') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_run_fails_like_health_when_the_state_directory_is_not_writable(
    tmp_path, capsys, monkeypatch
):
    config = str(story(tmp_path))
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    (tmp_path / "state").write_text("a file where the state directory should be")
    assert main(["--config", config, "health", "--discord"]) == 1
    health = capsys.readouterr().err
    assert main(["--config", config, "run"]) == 1  # before loading or connecting anything
    assert capsys.readouterr().err == health and "state directory" in health


def test_the_state_database_is_private(tmp_path):
    """It holds what members asked: 0600 in a 0700 directory, whatever the umask."""
    from bot.insights.database import connect
    from bot.insights.questionlog import QuestionLog  # noqa: F401 (the component in use)

    old = os.umask(0o022)
    try:
        path = tmp_path / "state" / "storybot.sqlite3"
        with connect(path) as db:
            db.execute("CREATE TABLE t (x)")
        with connect(path) as db:
            db.execute("INSERT INTO t VALUES (1)")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for extra in path.parent.glob("storybot.sqlite3-*"):  # WAL files as the database
        assert stat.S_IMODE(extra.stat().st_mode) == 0o600, extra


def test_the_systemd_unit_keeps_exit_2_from_restarting_and_sandboxes():
    """RestartPreventExitStatus= applies to the main process only (not ExecStartPre=)."""
    unit = (REPO / "deploy" / "storybot.service").read_text(encoding="utf-8")
    lines = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in unit.splitlines()
             if "=" in line and not line.startswith("#")}  # fmt: skip
    assert "ExecStartPre" not in lines and lines["RestartPreventExitStatus"] == "2"
    assert lines["ExecStart"].endswith("storybot run")
    assert lines["UMask"] == "0077" and lines["StateDirectory"] == "storybot"
    assert lines["Environment"] != "STORYBOT_CONFIG=/srv/storybot/config.toml"
    assert "/etc/storybot/config.toml" in unit


def test_health_warns_of_a_story_whose_corpus_directory_is_gone(tmp_path, capsys):
    config = str(story(tmp_path))
    note = tmp_path / "fire.txt"
    note.write_text("The harbour fire started at the grain silo on Tuesday night. " * 3)
    for name in ("fire", "empty"):  # a story with a source, and one nobody added to yet
        assert main(["--config", config, "stories", "create", name]) == 0
    add = ["--story", "fire", "sources", "add", "--file", str(note), "--title", "Fire"]
    assert main(["--config", config, *add]) == 0
    capsys.readouterr()
    assert main(["--config", config, "health"]) == 0
    assert capsys.readouterr().err == ""

    shutil.rmtree(tmp_path / "state" / "stories" / "2" / "corpus")
    shutil.rmtree(tmp_path / "state" / "stories" / "3" / "corpus")
    assert main(["--config", config, "health"]) == 0  # the bot still runs its other stories
    err = capsys.readouterr().err
    assert "story 'fire' (id 2) has no corpus directory" in err and "'empty'" not in err
