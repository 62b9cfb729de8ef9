"""``storybot health``: the container health check, fast and honest about what is wrong."""

from __future__ import annotations

import shutil
import subprocess
import sys

from bot.cli import main
from conftest import SHIPPED_CORPUS, write_config


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
    assert main(["--config", config, "health", "--discord"]) == 1
    assert "DISCORD_TOKEN is not set" in capsys.readouterr().err
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
