"""The discord.py client: intents, the cogs (loaded as extensions), the persistent buttons,
and command sync (only when the commands changed). The feeds cog runs the background work of a
connected bot (polling feeds, posting candidates and announcements).

Commands are for servers only: every command is declared for the guild context and guild
installs (``contexts: [0]``, ``integration_types: [0]``), so Discord offers none of them in DMs
or group DMs; the tree's ``interaction_check`` refuses any that arrives from outside a server.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import DiscordSettings
from bot.discord.cooldown import UserCooldowns
from bot.discord.errors import on_app_command_error
from bot.discord.review import REVIEW_ITEMS
from bot.discord.views import PERSISTENT_ITEMS
from bot.engine import StoryBot

log = logging.getLogger("bot.discord")

# Each module has ``async def setup(bot)`` that adds its cog.
EXTENSIONS = (
    "bot.discord.cogs.ask",
    "bot.discord.cogs.sources",
    "bot.discord.cogs.stats",
    "bot.discord.cogs.feeds",
    "bot.discord.stories",
)
# How often the background posts what is waiting: feed candidates, announcements of sources
# added by other processes (adds made here are announced right away).
BACKGROUND_SECONDS = 60.0


def intents_for(settings: DiscordSettings) -> discord.Intents:
    """Only what the bot uses. Messages that mention the bot carry their content without the
    privileged Message Content intent; Q&A channels need it."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = bool(settings.qa_channel_ids)
    return intents


class ServerOnlyTree(app_commands.CommandTree):
    """The command tree; refuses interactions from outside a server (Discord should not send
    any: the commands are declared for servers only)."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        return True


class StoryDiscordBot(commands.Bot):
    def __init__(
        self,
        storybot: StoryBot,
        *,
        sync_on_setup: bool = True,
        background_seconds: float = BACKGROUND_SECONDS,
        **client_options: Any,
    ) -> None:
        """``client_options`` go to ``discord.Client`` (e.g. ``guild_ready_timeout``)."""
        self.storybot = storybot
        self.settings = storybot.config.discord
        self.background_seconds = background_seconds
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents_for(self.settings),
            # Nothing the bot sends may ping anyone, whatever a quoted source contains.
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=ServerOnlyTree,
            allowed_contexts=app_commands.AppCommandContext(
                guild=True, dm_channel=False, private_channel=False
            ),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
            **client_options,
        )
        self.cooldowns = UserCooldowns(self.settings.ask_rate, self.settings.ask_per_seconds)
        self.sync_on_setup = sync_on_setup
        self.tree.error(on_app_command_error)

    async def setup_hook(self) -> None:
        """Runs once per process, before connecting: loads the cogs, registers the persistent
        buttons, and syncs the commands if they changed (never in ``on_ready``)."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(*PERSISTENT_ITEMS, *REVIEW_ITEMS)
        if self.sync_on_setup:
            await self.sync_commands()

    def sync_targets(self) -> list[discord.Object | None]:
        """Where the commands go: each configured server (with the global commands copied to
        it), or None for global."""
        if not self.settings.guild_ids:
            return [None]
        guilds = [discord.Object(id=guild_id) for guild_id in self.settings.guild_ids]
        for guild in guilds:
            self.tree.copy_global_to(guild=guild)
        return guilds

    def commands_hash(self, guild: discord.Object | None) -> str:
        """A hash of exactly what a sync to ``guild`` (None: global) would send."""
        payload = sorted(
            (command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)),
            key=lambda command: (command["name"], command.get("type", 1)),
        )
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def _sync_key(self, guild: discord.Object | None) -> str:
        return f"{self.application_id}:{'global' if guild is None else guild.id}"

    async def sync_commands(self, *, force: bool = False) -> list[str]:
        """Register the slash commands with Discord, per configured server, else globally;
        skipped where the same commands were registered last time (a hash of the payload is
        kept in the state database) unless ``force``. Returns where they are registered."""
        done = []
        targets = self.sync_targets()
        if targets != [None] and self.storybot.synced_commands(self._sync_key(None)):
            log.warning(
                "commands registered globally by an earlier sync are still there: members see "
                "them twice; remove them with `storybot sync --clear-global`"
            )
        for guild in targets:
            where = "globally" if guild is None else f"to server {guild.id}"
            key, digest = self._sync_key(guild), self.commands_hash(guild)
            if not force and self.storybot.synced_commands(key) == digest:
                log.info("commands unchanged since the last sync %s; not syncing", where)
                done.append("global" if guild is None else str(guild.id))
                continue
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                # Usually: the bot is not in that server, or was invited without
                # the applications.commands scope.
                log.error("could not sync commands %s: %s", where, exc)
                continue
            self.storybot.remember_synced_commands(key, digest)
            log.info("synced %d command(s) %s", len(synced), where)
            done.append("global" if guild is None else str(guild.id))
        return done

    async def clear_global_commands(self) -> None:
        """Remove the global commands (after moving to per-server sync: members would see
        every command twice)."""
        await self.http.bulk_upsert_global_commands(self.application_id, [])
        self.storybot.remember_synced_commands(self._sync_key(None), None)
        log.info("removed the global commands")

    def announce_soon(self) -> None:
        """A source was just added here: post its announcement now, not at the next round."""
        feeds = self.get_cog("FeedsCog")
        if feeds is not None:
            feeds.wake()  # type: ignore[attr-defined]

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: questions in messages are handled by ``AskCog``'s listener."""

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d server(s)", self.user, self.user.id, len(self.guilds))
