"""Shared fixtures: a throwaway corpus directory and a StoryBot over it.

Tests never touch the shipped ``corpus/``: ``make_bot`` copies what it needs into ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

from bot.config import config_from_dict
from bot.engine import StoryBot
from bot.search.text import Analyzer
from bot.sources.corpus import Corpus, Source

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CORPUS = REPO / "corpus"
SHIPPED_CONFIG = REPO / "config.toml"
# Labelled questions: dev-questions.jsonl (the team's sample), more-questions.jsonl (ours).
DATA = REPO / "tests" / "data"

# STORYBOT_DEEP=1: the deep run (more hypothesis examples where a test does not fix its own).
settings.register_profile("deep", max_examples=1000, deadline=None)
if os.environ.get("STORYBOT_DEEP", "") not in ("", "0"):
    settings.load_profile("deep")


@pytest.fixture(scope="session", autouse=True)
def repository_untouched():
    """Tests never write into the repository: not the shipped corpus, not a ./state directory
    (every test uses its own temporary config, corpus and state)."""
    state = REPO / "state"
    had_state = state.exists()
    corpus = {p.name: p.read_bytes() for p in SHIPPED_CORPUS.iterdir() if p.is_file()}
    yield
    assert had_state or not state.exists(), "a test wrote ./state into the repository"
    assert corpus == {p.name: p.read_bytes() for p in SHIPPED_CORPUS.iterdir() if p.is_file()}


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    """One spaCy pipeline for the whole run (loading it takes about a second)."""
    return Analyzer()


def write_config(directory: Path, extra: str = "") -> Path:
    """A config.toml in ``directory`` using the shipped settings, plus ``extra`` TOML."""
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    path = directory / "config.toml"
    path.write_text(text + "\n" + extra, encoding="utf-8")
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """A config.toml (the shipped settings) over a copy of the shipped corpus."""
    (tmp_path / "corpus").mkdir()
    for path in SHIPPED_CORPUS.glob("*.txt"):
        (tmp_path / "corpus" / path.name).write_bytes(path.read_bytes())
    return write_config(tmp_path)


@pytest.fixture
def make_bot(tmp_path: Path, analyzer: Analyzer) -> Callable[..., StoryBot]:
    """``make_bot(*sources, seed=True, **config_overrides)`` -> a StoryBot on a temp corpus."""

    def make(*sources: Source, seed: bool = True, config: dict | None = None) -> StoryBot:
        import tomllib

        corpus_dir = tmp_path / "corpus"
        corpus_dir.mkdir(exist_ok=True)
        if seed:
            shutil.copy(SHIPPED_CORPUS / "seed-story.txt", corpus_dir / "seed-story.txt")
        store = Corpus(corpus_dir)
        for source in sources:
            store.write(source)
        data = tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
        for section, values in (config or {}).items():
            data.setdefault(section, {}).update(values)
        return StoryBot(config_from_dict(data, base=tmp_path, path=None), analyzer=analyzer)

    return make


@pytest.fixture
def connections(monkeypatch) -> list:
    """Every address a socket is opened to (to check what the SSRF guard let through)."""
    import socket

    opened: list = []
    real = socket.create_connection

    def recording(address, *args, **kwargs):
        opened.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", recording)
    return opened


@pytest.fixture
def storybot(make_bot) -> StoryBot:
    """The engine a test's Discord client serves; modules override it with their corpus."""
    return make_bot()


@pytest.fixture
def client(storybot, monkeypatch):
    """The real discord.py client over ``storybot``, never connected (``user`` set by hand)."""
    import discord
    from discord_mocks import next_id

    from bot.discord.client import StoryDiscordBot

    bot = StoryDiscordBot(storybot, sync_on_setup=False)
    me = discord.Object(id=next_id())
    monkeypatch.setattr(StoryDiscordBot, "user", property(lambda self: me))
    return bot
