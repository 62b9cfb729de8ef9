"""`storybot run` / `storybot sync`, the [discord] config section, the ask cooldown."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import ConfigError, DiscordSettings, config_from_dict, load_config
from bot.discord.cooldown import UserCooldowns
from conftest import REPO, write_config


@pytest.mark.parametrize("command", ["run", "sync"])
@pytest.mark.parametrize("token", [None, "   "])
def test_without_token_one_line_error_and_exit_2(command, token, monkeypatch, capsys):
    if token is None:
        monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    else:
        monkeypatch.setenv("DISCORD_TOKEN", token)
    code = main(["--config", str(REPO / "config.toml"), command])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "DISCORD_TOKEN" in err


def test_other_commands_do_not_import_discord(tmp_path):
    # A config of its own: loading the corpus writes the passage cache to the state directory.
    (tmp_path / "corpus").mkdir()
    shutil.copy(REPO / "corpus" / "seed-story.txt", tmp_path / "corpus")
    config = write_config(tmp_path)
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        f"code = main(['--config', {str(config)!r}, 'sources', 'list', '--json'])\n"
        "assert code == 0, code\n"
        "assert 'discord' not in sys.modules, 'discord.py imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_discord_section_defaults_and_shipped_file():
    assert config_from_dict({}, base=Path(".")).discord == DiscordSettings()
    shipped = load_config(REPO / "config.toml").discord
    assert shipped == DiscordSettings()
    assert (shipped.ask_rate, shipped.ask_per_seconds) == (3, 30.0)


def test_discord_section_parses_ids_and_roles(tmp_path):
    path = write_config(
        tmp_path,
        "",
    )
    text = path.read_text().replace(
        "guild_ids = []",
        'guild_ids = [123456789012345678, "223456789012345678"]',
    )
    text = text.replace("moderator_roles = []", 'moderator_roles = ["Editors", 42]')
    text = text.replace("ask_per_seconds = 30", "ask_per_seconds = 10")
    text = text.replace("review_channel_id = 0", "review_channel_id = 323456789012345678")
    text = text.replace("announce_channel_id = 0", 'announce_channel_id = "423456789012345678"')
    path.write_text(text)
    settings = load_config(path).discord
    assert settings.guild_ids == (123456789012345678, 223456789012345678)
    assert settings.moderator_roles == ("Editors", "42")
    assert settings.ask_per_seconds == 10.0
    assert settings.review_channel_id == 323456789012345678
    assert settings.announce_channel_id == 423456789012345678
    assert (DiscordSettings().review_channel_id, DiscordSettings().announce_channel_id) == (0, 0)


@pytest.mark.parametrize(
    "table",
    [
        {"guild_ids": 5},
        {"guild_ids": ["not-a-number"]},
        {"ask_rate": 0},
        {"ask_rate": "3"},
        {"colour": "blue"},
        {"review_channel_id": "#reviews"},
        {"review_channel_id": -1},
        {"announce_channel_id": True},
        {"announce_channel_id": [1]},
    ],
)
def test_bad_discord_settings_are_refused(table):
    with pytest.raises(ConfigError, match=r"\[discord\]"):
        config_from_dict({"discord": table}, base=Path("."))


def test_cooldown_window_slides():
    now = [0.0]
    cooldowns = UserCooldowns(3, 30, clock=lambda: now[0])
    assert [cooldowns.hit(1) for _ in range(3)] == [None, None, None]
    now[0] = 10.0
    assert cooldowns.hit(1) == pytest.approx(20.0)
    assert cooldowns.hit(2) is None
    now[0] = 30.0
    assert cooldowns.hit(1) is None
    assert UserCooldowns(1, 0).hit(1) is None and UserCooldowns(1, 0).hit(1) is None
