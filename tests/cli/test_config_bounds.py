"""Config accepts only what works (third attack round, finding 9; issue 21, item 1): every
number finite and bounded, unknown sections and keys refused everywhere, retention at least a
day; each refusal is a ConfigError naming the setting."""

from __future__ import annotations

import tomllib

import pytest

from bot.cli import main
from bot.config import ConfigError, config_from_dict
from conftest import SHIPPED_CONFIG, write_config

INF, NAN = float("inf"), float("nan")


def shipped() -> dict:
    return tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))


def load(tmp_path, section: str, key: str, value) -> None:
    data = shipped()
    data.setdefault(section, {})[key] = value
    config_from_dict(data, base=tmp_path)


@pytest.mark.parametrize(
    "section, key, value",
    [
        ("fetch", "timeout_seconds", INF),
        ("fetch", "timeout_seconds", NAN),
        ("fetch", "timeout_seconds", 1e308),
        ("fetch", "max_bytes", 10**15),
        ("fetch", "max_redirects", 10**6),
        ("feeds", "poll_minutes", INF),
        ("feeds", "poll_minutes", NAN),
        ("feeds", "poll_minutes", 1e12),
        ("feeds", "max_backoff_minutes", 1e12),
        ("feeds", "host_interval_seconds", INF),
        ("feeds", "min_relevance", NAN),
        ("stats", "retention_days", 10**12),
        ("stats", "retention_days", 0),
        ("stats", "retention_days", -5),
        ("retrieval", "k1", INF),
        ("retrieval", "k1", NAN),
        ("retrieval", "delta", INF),
        ("retrieval", "b", NAN),
        ("semantic", "weight", NAN),
        ("discord", "ask_per_seconds", NAN),
        ("discord", "ask_per_seconds", INF),
        ("discord", "ask_rate", 10**12),
        ("corpus", "max_source_bytes", 10**15),
    ],
)
def test_numbers_that_would_crash_later_are_refused_by_name(tmp_path, section, key, value):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, section, key, value)
    assert f"[{section}]" in str(caught.value) and key in str(caught.value)


@pytest.mark.parametrize(
    "agent", ["storybot\r\nX-Injected: 1", "storybot\n", "tab\there", "", "é" * 3, "a" * 501]
)
def test_a_user_agent_that_is_not_one_printable_line_is_refused(tmp_path, agent):
    with pytest.raises(ConfigError, match=r"\[fetch\] user_agent"):
        load(tmp_path, "fetch", "user_agent", agent)


def test_retention_zero_says_how_to_keep_forever(tmp_path):
    with pytest.raises(ConfigError, match="36500"):
        load(tmp_path, "stats", "retention_days", 0)
    load(tmp_path, "stats", "retention_days", 36_500)  # the documented "forever"


@pytest.mark.parametrize(
    "toml, named",
    [
        ("[retreival]\ntop_k = 5\n", "[retreival]"),
        ("[aliases]\ngrops = [['a', 'b']]\n", "[aliases] grops"),
        ("[corpus]\ndirectory = 'x'\n", "[corpus] directory"),
        ("top_k = 5\n", "[top_k]"),
    ],
)
def test_unknown_sections_and_keys_are_errors_everywhere(tmp_path, toml, named):
    with pytest.raises(ConfigError) as caught:
        config_from_dict(tomllib.loads(toml), base=tmp_path)
    assert named in str(caught.value)


def test_the_cli_names_the_bad_setting_in_one_line(tmp_path, capsys):
    config = write_config(tmp_path).read_text() + "\n[retreival]\ntop_k = 5\n"
    (tmp_path / "config.toml").write_text(config)
    code = main(["--config", str(tmp_path / "config.toml"), "sources", "list"])
    err = capsys.readouterr().err
    assert code == 1 and "unknown section [retreival]" in err and "Traceback" not in err


def test_the_shipped_config_and_its_aliases_load(tmp_path):
    config = config_from_dict(shipped(), base=tmp_path)
    assert config.aliases  # [aliases] groups


def test_a_bound_is_written_as_people_write_numbers(tmp_path):
    with pytest.raises(ConfigError, match=r"ask_rate must be between 1 and 1,000,000, got"):
        load(tmp_path, "discord", "ask_rate", 10**7)
