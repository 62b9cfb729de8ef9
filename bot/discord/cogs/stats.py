"""``/stats`` for moderators: what members asked, what went unanswered, what a new source fixed.

A thin adapter over ``StoryBot.stats`` / ``StoryBot.newly_answered`` (the same figures as
``storybot stats``); the reply is private and built within Discord's embed limits.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.checks import STATS_REFUSAL, moderator_default_permissions, moderator_only
from bot.discord.logs import log_handled
from bot.discord.markdown import DESCRIPTION_LIMIT, FIELD_VALUE_LIMIT, safe_trim
from bot.discord.stories import story_for
from bot.insights.questionlog import Stats
from bot.presentation import percent, source_title

if TYPE_CHECKING:
    from bot.discord.client import StoryDiscordBot

LINES_PER_FIELD = 8
LOGGING_OFF = "Question logging is off (`[stats] log_questions = false` in config.toml)."


def stats_embed(stats: Stats, fixed, titles: dict[str, str], days: int) -> discord.Embed:
    """The /stats reply: figures, per-day counts, gaps, newly answered gaps, quoted sources."""
    embed = discord.Embed(
        title=f"What members asked in the last {days} days",
        description=(
            f"**{stats.asked}** questions, **{percent(stats.answer_rate)}** answered, "
            f"**{percent(stats.helpful_rate)}** helpful ({stats.helpful + stats.not_helpful} votes)"
        )[:DESCRIPTION_LIMIT],
        colour=discord.Colour.blurple(),
    )

    def field(name: str, lines: list[str], empty: str) -> None:
        value = ""
        for line in lines[:LINES_PER_FIELD]:
            if len(value) + len(line) + 1 > FIELD_VALUE_LIMIT:
                break
            value += line + "\n"
        embed.add_field(name=name, value=value.strip() or empty, inline=False)

    field(
        "Per day (asked / answered)",
        [f"`{day}` {asked} / {answered}" for day, asked, answered in stats.days[-7:]],
        "No questions yet.",
    )
    field(
        "Gaps: unanswered or not helpful",
        [
            f"{g.count}× {safe_trim(g.question, 150)}"
            + (f" (+{len(g.variants) - 1} similar)" if len(g.variants) > 1 else "")
            + (" · nothing in the sources is about it" if g.nothing == g.count else "")
            for g in stats.gaps
        ],
        "None: every question found an answer.",
    )
    field(
        "Now answered by a newer source",
        [f"{safe_trim(g.question, 150)} → {safe_trim(source.title, 100)}" for g, source in fixed],
        "Nothing new: add a source that covers a gap above.",
    )
    field(
        "Most quoted sources",
        [f"{n}× {safe_trim(source_title(titles, sid), 150)}" for sid, n in stats.top_sources],
        "None yet.",
    )
    return embed


class StatsCog(commands.Cog):
    def __init__(self, bot: StoryDiscordBot) -> None:
        self.bot = bot
        self.stats.default_permissions = moderator_default_permissions(bot.settings)

    @app_commands.command(name="stats", description="Moderators: questions, answer rate, gaps.")
    @app_commands.describe(days="How many days to look back (default 30)")
    @app_commands.guild_only()
    @moderator_only(STATS_REFUSAL)
    async def stats(
        self, interaction: discord.Interaction, days: app_commands.Range[int, 1, 3650] = 30
    ) -> None:
        started = time.perf_counter()
        await interaction.response.defer(ephemeral=True, thinking=True)
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        figures = await asyncio.to_thread(storybot.stats, days)
        fixed = await asyncio.to_thread(storybot.newly_answered, figures)
        titles = {s.id: s.title for s in storybot.sources}
        await interaction.followup.send(
            content=None if storybot.config.stats.log_questions else LOGGING_OFF,
            embed=stats_embed(figures, fixed, titles, days),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        log_handled("/stats", interaction.user.id, started, f"{figures.asked} questions")


async def setup(bot: StoryDiscordBot) -> None:
    await bot.add_cog(StatsCog(bot))
