"""Which story answers on Discord, and ``/story`` (create, list, use, archive).

Each server has its own stories and a default one; a channel, a thread or a category can be
bound to one of them (``/story use``). A command's story is, in order: the ``story`` option
if given (a name among this server's stories, never another's), the story bound to the
thread, its channel or the channel's category, the server's default. The first time a server
needs a default, it gets the deployment's default story if no server has claimed it yet (an
upgraded one-server bot keeps its corpus), else a new empty one (``bot.stories.store``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.checks import added_by, moderator_only
from bot.discord.embeds import Reply
from bot.discord.logs import log_handled
from bot.discord.markdown import AUTOCOMPLETE_LIMIT, CONTENT_LIMIT, safe_trim
from bot.stories.store import ARCHIVED, GUILD_SCOPE, StoryError, StoryRecord, check_name

if TYPE_CHECKING:
    from bot.discord.client import StoryDiscordBot
    from bot.engine import StoryBot

log = logging.getLogger("bot.discord")

STORY_OPTION = "Which story (default: this channel's); /story list shows them"
STORIES_REFUSAL = (
    "Only moderators can create, bind or archive stories (Manage Server or Manage Messages "
    "permission, or a moderator role)."
)


def scopes_of(channel: object) -> tuple[str, ...]:
    """The binding scopes of a channel, most specific first: the thread, its channel, the
    channel's category, then the server (``guild``)."""
    scopes: list[int] = []
    if channel is not None:
        scopes.append(channel.id)  # type: ignore[attr-defined]
        parent = getattr(channel, "parent", None)
        parent_id = getattr(channel, "parent_id", None)
        if isinstance(channel, discord.Thread):
            if parent_id:
                scopes.append(parent_id)
            category_id = getattr(parent, "category_id", None)
        else:
            category_id = getattr(channel, "category_id", None)
        if category_id:
            scopes.append(category_id)
    return (*dict.fromkeys(str(s) for s in scopes), GUILD_SCOPE)


def bind_scope(channel: object, where: str) -> str:
    """The binding scope ``/story use`` sets: the channel (thread), its category, the server."""
    if where == "server":
        return GUILD_SCOPE
    if where == "category":
        scopes = scopes_of(channel)
        category = getattr(channel, "category_id", None)
        if isinstance(channel, discord.Thread):
            category = getattr(channel.parent, "category_id", None)
        if not category or str(category) not in scopes:
            raise StoryError("this channel is in no category")
        return str(category)
    return str(channel.id)  # type: ignore[attr-defined]


def resolve(storybot: StoryBot, guild_id: int, channel: object, name: str | None) -> StoryBot:
    """The story a command in ``channel`` of server ``guild_id`` works on (blocking: the
    database). Another server's stories are never found."""
    guild = str(guild_id)
    stories = storybot.stories
    if name:
        record = stories.named(name, guild)  # StoryError: not one of this server's
        if record.archived:
            raise StoryError(f"story {record.name!r} is archived")
    else:
        record = stories.bound(guild, scopes_of(channel)) or stories.guild_default(guild)
    storybot.registry.refresh(record)  # renamed meanwhile (by any process): its new name
    if record.id == storybot.story.id:
        return storybot
    return storybot.in_story(record)


def story_by_id(storybot: StoryBot, story_id: int, guild_id: int | None) -> StoryBot:
    """The story a button names (blocking), if it is this server's (or no server's)."""
    if story_id == storybot.story.id:
        return storybot
    record = storybot.stories.get(story_id)
    if record.guild not in ("", str(guild_id)):
        raise StoryError("that button belongs to another server's story")
    return storybot.in_story(record)


async def story_for(
    bot: StoryDiscordBot, guild_id: int | None, channel: object, name: str | None = None
) -> StoryBot:
    if guild_id is None:
        raise StoryError("stories belong to servers: use this in a server")
    return await asyncio.to_thread(resolve, bot.storybot, guild_id, channel, name)


def several_stories(storybot: StoryBot, guild_id: int | None) -> bool:
    """Whether the server has more than one active story (answers then name theirs)."""
    return guild_id is not None and len(storybot.stories.of_guild(str(guild_id))) > 1


def with_story(reply: Reply, story: StoryRecord) -> Reply:
    """``reply`` with a first line naming the story it comes from."""
    line = f"-# From the story **{discord.utils.escape_markdown(story.name)}**"
    content = f"{line}\n{reply.content}" if reply.content else line
    return dataclasses.replace(reply, content=content[:CONTENT_LIMIT])


async def story_choices(
    bot: StoryDiscordBot, interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Autocomplete for a ``story`` option: this server's active stories."""
    if interaction.guild_id is None:
        return []
    records = await asyncio.to_thread(bot.storybot.stories.of_guild, str(interaction.guild_id))
    typed = current.strip().lower()
    return [app_commands.Choice(name=r.name, value=r.name) for r in records if typed in r.name][
        :AUTOCOMPLETE_LIMIT
    ]


class StoriesCog(commands.Cog):
    story = app_commands.Group(name="story", description="This server's stories", guild_only=True)

    def __init__(self, bot: StoryDiscordBot) -> None:
        self.bot = bot

    @property
    def stories(self):
        return self.bot.storybot.stories

    @story.command(name="list", description="This server's stories, and which one answers here.")
    async def list_stories(self, interaction: discord.Interaction) -> None:
        started = time.perf_counter()
        guild = str(interaction.guild_id)

        def read() -> tuple[list[StoryRecord], StoryBot]:
            here = resolve(self.bot.storybot, interaction.guild_id, interaction.channel, None)
            return self.stories.of_guild(guild), here

        records, here = await asyncio.to_thread(read)
        lines = []
        for record in records:
            mark = " ← answers here" if record.id == here.story.id else ""
            lines.append(f"• **{discord.utils.escape_markdown(record.name)}**{mark}")
        embed = discord.Embed(
            title=f"Stories ({len(records)})",
            description=safe_trim("\n".join(lines), 4000) or "None yet.",
        )
        embed.set_footer(text="/ask story: asks another one; moderators: /story use binds one")
        await interaction.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
        log_handled("/story list", interaction.user.id, started, "ok")

    @story.command(name="create", description="Moderators: start a new, empty story.")
    @app_commands.describe(name="Lowercase letters and digits, words joined by hyphens: fire-2024")
    @moderator_only(STORIES_REFUSAL)
    async def create(self, interaction: discord.Interaction, name: str) -> None:
        started = time.perf_counter()
        check_name(name)
        record = await asyncio.to_thread(
            self.stories.create,
            name,
            guild=str(interaction.guild_id),
            by=added_by(interaction.user),
        )
        await asyncio.to_thread(self._make_directory, record)
        await _say(
            interaction,
            f"Created the story **{discord.utils.escape_markdown(record.name)}**. "
            "Bind a channel to it with /story use, or ask it with /ask story:.",
        )
        log_handled("/story create", interaction.user.id, started, "ok")

    def _make_directory(self, record: StoryRecord) -> None:
        from bot.stories.story import corpus_dir_of

        corpus_dir_of(self.bot.storybot.config, record.id).mkdir(parents=True, exist_ok=True)

    @story.command(name="use", description="Moderators: this channel (or thread) asks that story.")
    @app_commands.describe(
        name="One of this server's stories",
        where="This channel or thread (default), its whole category, or the whole server",
    )
    @moderator_only(STORIES_REFUSAL)
    async def use(
        self,
        interaction: discord.Interaction,
        name: str,
        where: Literal["channel", "category", "server"] = "channel",
    ) -> None:
        started = time.perf_counter()
        guild = str(interaction.guild_id)
        scope = bind_scope(interaction.channel, where)

        def bind() -> StoryRecord:
            record = self.stories.named(name, guild)
            self.stories.bind(guild, scope, record.id, by=added_by(interaction.user))
            return record

        record = await asyncio.to_thread(bind)
        place = {"channel": "here", "category": "in this category", "server": "in this server"}
        await _say(
            interaction,
            f"Questions {place[where]} now go to the story "
            f"**{discord.utils.escape_markdown(record.name)}**"
            + (" (unless a channel is bound to another)." if where != "channel" else "."),
        )
        log_handled("/story use", interaction.user.id, started, where)

    @story.command(name="archive", description="Moderators: archive a story (it stops answering).")
    @app_commands.describe(name="One of this server's stories")
    @moderator_only(STORIES_REFUSAL)
    async def archive(self, interaction: discord.Interaction, name: str) -> None:
        started = time.perf_counter()
        guild = str(interaction.guild_id)

        def archive() -> StoryRecord:  # StoryError (already archived) is said to the moderator
            record = self.stories.named(name, guild)
            return self.stories.set_status(record.id, ARCHIVED, by=added_by(interaction.user))

        record = await asyncio.to_thread(archive)
        await _say(
            interaction,
            f"Archived the story **{discord.utils.escape_markdown(record.name)}**: it answers "
            "nothing more; its sources and logs are kept.",
        )
        log_handled("/story archive", interaction.user.id, started, "ok")

    @use.autocomplete("name")
    @archive.autocomplete("name")
    async def name_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await story_choices(self.bot, interaction, current)


async def _say(interaction: discord.Interaction, text: str) -> None:
    await interaction.response.send_message(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


async def setup(bot: StoryDiscordBot) -> None:
    await bot.add_cog(StoriesCog(bot))
