"""Fixtures of the end-to-end suite: the Discord double on 127.0.0.1 and storybot running
against it.

Only two things are patched, in the test only: discord.py's REST base URL and its gateway URL,
both pointing at the double.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket

from .discord_double import DiscordDouble
from .harness import TOKEN, BotProcess, Harness


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """`storybot run`/`sync` set up logging for a terminal (levels, formats): undone after
    each test that runs the command line."""
    root, library = logging.getLogger(), logging.getLogger("discord")
    levels = root.level, library.level
    formatters = [(handler, handler.formatter) for handler in root.handlers]
    yield
    root.setLevel(levels[0])
    library.setLevel(levels[1])
    for handler, formatter in formatters:
        handler.setFormatter(formatter)


@pytest.fixture
async def double(monkeypatch) -> AsyncIterator[DiscordDouble]:
    """Discord on 127.0.0.1; the test fails if the bot sent anything Discord would refuse."""
    fake = DiscordDouble(TOKEN)
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url))
    try:
        yield fake
    finally:
        await fake.stop()
    assert fake.violations == [], fake.violations


@pytest.fixture
async def harness(double, make_bot, analyzer, tmp_path) -> AsyncIterator[Harness]:
    harness = Harness(double, make_bot, analyzer, tmp_path)
    try:
        yield harness
    finally:
        await harness.stop_all()


@pytest.fixture
async def bot(harness) -> BotProcess:
    """storybot running against the double with the test corpus and settings."""
    return await harness.start()
