"""The discord.py client: intents, the cogs (loaded as extensions), and command sync."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.config import DiscordSettings
from bot.discord.cooldown import UserCooldowns
from bot.discord.errors import on_app_command_error
from bot.engine import StoryBot

log = logging.getLogger("bot.discord")

# Each module has ``async def setup(bot)`` that adds its cog.
EXTENSIONS = ("bot.discord.cogs.ask", "bot.discord.cogs.sources", "bot.discord.cogs.stats")


def intents_for(settings: DiscordSettings) -> discord.Intents:
    """Only what the bot uses. Messages that mention the bot carry their content without the
    privileged Message Content intent; Q&A channels need it."""
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = bool(settings.qa_channel_ids)
    return intents


class StoryDiscordBot(commands.Bot):
    def __init__(self, storybot: StoryBot, *, sync_on_setup: bool = True) -> None:
        self.storybot = storybot
        self.settings = storybot.config.discord
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents_for(self.settings),
            # Nothing the bot sends may ping anyone, whatever a quoted source contains.
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.cooldowns = UserCooldowns(self.settings.ask_rate, self.settings.ask_per_seconds)
        self.sync_on_setup = sync_on_setup
        self.tree.error(on_app_command_error)

    async def setup_hook(self) -> None:
        """Runs once per process, before connecting: the place to sync (never ``on_ready``)."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.sync_on_setup:
            await self.sync_commands()

    async def sync_commands(self) -> list[str]:
        """Register the slash commands with Discord: per configured server, else globally."""
        done = []
        if not self.settings.guild_ids:
            synced = await self.tree.sync()
            log.info("synced %d command(s) globally", len(synced))
            return ["global"]
        for guild_id in self.settings.guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                # Usually: the bot is not in that server, or was invited without
                # the applications.commands scope.
                log.error("could not sync commands to server %s: %s", guild_id, exc)
                continue
            log.info("synced %d command(s) to server %s", len(synced), guild_id)
            done.append(str(guild_id))
        return done

    async def on_message(self, message: discord.Message) -> None:
        """No prefix commands: questions in messages are handled by ``AskCog``'s listener."""

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d server(s)", self.user, self.user.id, len(self.guilds))
