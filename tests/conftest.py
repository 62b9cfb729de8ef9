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

# STORYBOT_DEEP=1: the deep run (more hypothesis examples where a test does not fix its own).
settings.register_profile("deep", max_examples=1000, deadline=None)
if os.environ.get("STORYBOT_DEEP", "") not in ("", "0"):
    settings.load_profile("deep")


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
