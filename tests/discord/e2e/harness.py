"""The end-to-end harness: storybot served against the local Discord double by the same code
as ``storybot run`` (``runner.serve`` with a real ``StoryDiscordBot``), and the test corpus.

The fixtures are in ``conftest.py``; this package has an ``__init__`` so that its conftest does
not shadow ``tests/conftest.py`` (both would otherwise be the module ``conftest``).
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from bot.config import config_from_dict
from bot.discord import runner
from bot.discord.client import StoryDiscordBot
from bot.engine import StoryBot
from bot.sources.corpus import Source
from conftest import SHIPPED_CONFIG
from helpers import FESTIVAL, HOSTILE

from .discord_double import DiscordDouble

TOKEN = "e2e.bot.token"
GUILD_READY_TIMEOUT = 0.05


@dataclass
class BotProcess:
    """One ``storybot run`` process: its engine, its client, and the task serving it."""

    storybot: StoryBot
    client: StoryDiscordBot
    task: asyncio.Task

    async def stop(self) -> None:
        await self.client.close()
        await self.task


class Harness:
    def __init__(self, double: DiscordDouble, make_bot, analyzer, directory: Path) -> None:
        self.double, self.make_bot, self.analyzer = double, make_bot, analyzer
        self.directory = directory  # where make_bot keeps the corpus and the state
        self.processes: list[BotProcess] = []
        # More StoryDiscordBot options for every process started (e.g. background_seconds).
        self.client_options: dict = {}
        self._corpus_made = False

    def config(self, **sections: dict) -> dict:
        """The test corpus's settings: a Q&A channel, an "Editors" moderator role, one quote
        per answer (so More has pages), fetching from 127.0.0.1 allowed."""
        base = {
            "discord": {"qa_channel_ids": [self.double.qa.id], "moderator_roles": ["Editors"]},
            "retrieval": {"top_k": 1},
            "fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0},
        }
        for name, values in sections.items():
            base.setdefault(name, {}).update(values)
        return base

    def engine(self, *sources: Source, **sections: dict) -> StoryBot:
        """A new engine on the test corpus (created by the first call, with ``sources``
        besides the test's own) and state directory, with these settings."""
        if not self._corpus_made:
            self._corpus_made = True
            return self.make_bot(FESTIVAL, HOSTILE, *sources, config=self.config(**sections))
        assert not sources, "the corpus exists: add sources through the bot"
        config = config_from_dict(self._settings(**sections), base=self.directory)
        return StoryBot(config, analyzer=self.analyzer)

    def _settings(self, **sections: dict) -> dict:
        data = tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
        for name, values in self.config(**sections).items():
            data.setdefault(name, {}).update(values)
        return data

    def config_file(self, **sections: dict) -> Path:
        """The same settings as a config.toml (for the CLI), next to the test corpus."""
        path = self.directory / "config.toml"
        path.write_text(tomli_w.dumps(self._settings(**sections)), encoding="utf-8")
        return path

    async def start(self, storybot: StoryBot | None = None) -> BotProcess:
        """Serve ``storybot`` (default: a fresh test engine) until it is ready."""
        storybot = storybot or self.engine()
        # discord.py waits this long after the last GUILD_CREATE before on_ready (2 s by
        # default): the double sends its one server at once, so scale it down.
        client = StoryDiscordBot(
            storybot, guild_ready_timeout=GUILD_READY_TIMEOUT, **self.client_options
        )
        task = asyncio.create_task(runner.serve(client, TOKEN))
        task.add_done_callback(lambda _: self.double.poke())
        process = BotProcess(storybot, client, task)
        self.processes.append(process)
        client.add_listener(self._poke, "on_ready")
        await self.double.wait_for(lambda: client.is_ready() or task.done())
        if task.done():
            task.result()  # raises what stopped it
        return process

    async def _poke(self) -> None:
        self.double.poke()

    async def restart(self, process: BotProcess) -> BotProcess:
        """Stop the process and start a new one on the same config, corpus and state
        directory (a new engine, a new client: nothing survives in memory)."""
        await process.stop()
        return await self.start(StoryBot(process.storybot.config, analyzer=self.analyzer))

    async def stop_all(self) -> None:
        for process in self.processes:
            if not process.task.done():
                await process.stop()
