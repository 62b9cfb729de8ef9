"""``/sources`` for everyone; the ``/source`` group for moderators (add, add-file, remove).

Every corpus-changing command carries the ``moderator_only`` check, which runs before its body:
hiding a command in the UI (default permissions) is only a default that server admins can
change. Adding goes through ``StoryBot.add_url`` / ``add_file`` like the CLI: duplicate URLs are
refused and near-duplicates of an existing source are pointed out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import PurePath
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.checks import added_by, moderator_default_permissions, moderator_only
from bot.discord.errors import tell
from bot.discord.logs import log_handled
from bot.discord.markdown import (
    AUTOCOMPLETE_LIMIT,
    CONTENT_LIMIT,
    URL_SHOWN_LIMIT,
    link,
    no_preview,
    no_previews,
    safe_trim,
    trim,
)
from bot.discord.stories import STORY_OPTION, story_choices, story_for
from bot.discord.views import sources_message
from bot.sources.corpus import CorpusError
from bot.sources.ingest import ERRORS, Added, IngestReport, ProgressEvent
from bot.sources.uploads import MAX_DOCUMENT_BYTES, UPLOAD_SUFFIXES

if TYPE_CHECKING:
    from bot.discord.client import StoryDiscordBot

log = logging.getLogger("bot.discord")

MAX_FOLLOW = 10
FORCE_HELP = "Add it even if its text is near-empty or exactly another source's (default no)"


class SourcesCog(commands.Cog):
    source = app_commands.Group(
        name="source", description="Moderators: add or remove sources.", guild_only=True
    )

    def __init__(self, bot: StoryDiscordBot) -> None:
        self.bot = bot
        self.source.default_permissions = moderator_default_permissions(bot.settings)

    # -- /sources ----------------------------------------------------------------------------

    @app_commands.command(name="sources", description="List the sources I quote from.")
    @app_commands.describe(page="Page to start on", story=STORY_OPTION)
    @app_commands.guild_only()
    async def sources(
        self,
        interaction: discord.Interaction,
        page: app_commands.Range[int, 1, 10_000] = 1,
        story: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        started = time.perf_counter()
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel, story)
        sources = await asyncio.to_thread(lambda: storybot.sources)
        story_id = None if storybot is self.bot.storybot else storybot.story.id
        embed, view, shown = sources_message(sources, page - 1, story_id)
        await interaction.response.send_message(
            embed=embed, view=view, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
        )
        log_handled("/sources", interaction.user.id, started, f"page {shown + 1}")

    @sources.autocomplete("story")
    async def sources_story_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await story_choices(self.bot, interaction, current)

    # -- /source add -------------------------------------------------------------------------

    @source.command(name="add", description="Add a news article from its web address.")
    @app_commands.describe(
        url="The article's address (http or https)",
        title="Title to use instead of the page's own",
        follow="Also add up to this many articles it links to (default 0)",
        force=FORCE_HELP,
    )
    @moderator_only()
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        title: app_commands.Range[str, 0, 200] = "",
        follow: app_commands.Range[int, 0, MAX_FOLLOW] = 0,
        force: bool = False,
    ) -> None:
        started = time.perf_counter()
        await interaction.response.defer(ephemeral=True, thinking=True)

        async def progress(event: ProgressEvent) -> None:
            if event.stage in ("fetch", "skipped"):
                text = f"{event.done}/{event.total} · {safe_trim(event.message, 300)}"
                await interaction.edit_original_response(
                    content=no_previews(text), allowed_mentions=discord.AllowedMentions.none()
                )

        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        try:
            report = await storybot.add_url(
                url.strip(),
                title=title or None,
                added_by=added_by(interaction.user),
                follow=follow,
                progress=progress,
                force=force,
            )
        except ERRORS as exc:
            await tell(interaction, f"Not added: {safe_trim(str(exc), 500)}")
            log_handled("/source add", interaction.user.id, started, "rejected")
            return
        for item in report.added:
            log.info("source %s added by %s", item.source.id, interaction.user.id)
        self.bot.announce_soon()
        await tell(interaction, _report_text(report))
        log_handled("/source add", interaction.user.id, started, f"added {len(report.added)}")

    # -- /source add-file --------------------------------------------------------------------

    @source.command(name="add-file", description="Add a source from a .txt, .md or .html file.")
    @app_commands.describe(
        file="The article as a .txt, .md or .html file",
        title="The article's title",
        publisher="Who published it, e.g. The Guardian",
        url="Where it was published (http or https)",
        published="Publication date, e.g. 2020-09-10 (not after tomorrow, UTC)",
        force=FORCE_HELP,
    )
    @moderator_only()
    async def add_file(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        title: app_commands.Range[str, 1, 200],
        publisher: app_commands.Range[str, 0, 200] = "",
        url: app_commands.Range[str, 0, 2000] = "",
        published: app_commands.Range[str, 0, 40] = "",
        force: bool = False,
    ) -> None:
        started = time.perf_counter()
        problem = _check_upload(file, url)
        if problem:
            await tell(interaction, problem)
            log_handled("/source add-file", interaction.user.id, started, "rejected")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await file.read()
            storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
            added = await asyncio.to_thread(
                storybot.add_file,
                file.filename,
                data,
                title=title,
                url=url,
                publisher=publisher,
                published=published,
                added_by=added_by(interaction.user),
                force=force,
            )
        except ERRORS as exc:
            await tell(interaction, f"Not added: {safe_trim(str(exc), 500)}")
            log_handled("/source add-file", interaction.user.id, started, "rejected")
            return
        log.info("source %s added by %s", added.source.id, interaction.user.id)
        self.bot.announce_soon()
        await tell(interaction, _added_line(added) + " It is used from the next question on.")
        log_handled("/source add-file", interaction.user.id, started, f"added {added.source.id}")

    # -- /source remove ----------------------------------------------------------------------

    @source.command(name="remove", description="Remove a source by its id (see /sources).")
    @app_commands.rename(source_id="id")
    @app_commands.describe(source_id="The source's id, as /sources shows it")
    @moderator_only()
    async def remove(self, interaction: discord.Interaction, source_id: str) -> None:
        started = time.perf_counter()
        await interaction.response.defer(ephemeral=True, thinking=True)
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        try:
            source = await asyncio.to_thread(
                storybot.remove_source,
                source_id.strip(),
                removed_by=added_by(interaction.user),
            )
        except CorpusError as exc:
            await tell(interaction, f"Not removed: {safe_trim(str(exc), 300)}")
            log_handled("/source remove", interaction.user.id, started, "unknown id")
            return
        log.info("source %s removed by %s", source.id, interaction.user.id)
        await tell(
            interaction,
            f"Removed `{source.id}`: **{safe_trim(source.title, 200)}**. "
            "It is no longer quoted from the next question on.",
        )
        log_handled("/source remove", interaction.user.id, started, f"removed {source.id}")

    @remove.autocomplete("source_id")
    async def source_id_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        current = current.lower()
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        sources = await asyncio.to_thread(lambda: storybot.sources)
        choices = [
            app_commands.Choice(name=f"{s.id} — {s.title}"[:100], value=s.id)
            for s in sources
            if current in s.id or current in s.title.lower()
        ]
        return choices[:AUTOCOMPLETE_LIMIT]


def _added_line(added: Added) -> str:
    source = added.source
    where = f" ({no_preview(source.url)})" if 0 < len(source.url) <= URL_SHOWN_LIMIT else ""
    line = (
        f"Added **{safe_trim(source.title, 200)}**{where} as `{source.id}` "
        f"({len(source.text):,} characters)."
    )
    if added.near_duplicate:
        twin, score = added.near_duplicate
        line += f" Note: it nearly repeats `{twin}` (similarity {score:.0%})."
    return line


def _report_text(report: IngestReport) -> str:
    lines = [_added_line(a) for a in report.added]
    lines += [f"Skipped {no_preview(u)}: {safe_trim(why, 200)}" for u, why in report.skipped]
    lines.append("They are used from the next question on.")
    return trim("\n".join(lines), CONTENT_LIMIT)


def _check_upload(file: discord.Attachment, url: str) -> str | None:
    """Why the upload can't be used, checked before downloading it; None if fine."""
    suffix = PurePath(file.filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        return f"Not added: only {', '.join(sorted(UPLOAD_SUFFIXES))} files can be added."
    if file.size > MAX_DOCUMENT_BYTES:
        return f"Not added: the file is over {MAX_DOCUMENT_BYTES // 1_000_000} MB."
    if url and not link(url):
        return "Not added: the url must start with http:// or https://."
    return None


async def setup(bot: StoryDiscordBot) -> None:
    await bot.add_cog(SourcesCog(bot))
