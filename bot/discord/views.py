"""Buttons under answers (More, Helpful, Not helpful, Delete) and under the source list."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import discord

from bot.discord.embeds import excerpt_embeds, sources_page
from bot.discord.errors import SORRY, tell
from bot.engine import StoryBot
from bot.search.retrieval import Answer, Excerpt
from bot.sources.corpus import Source

log = logging.getLogger("bot.discord")

ANSWER_TIMEOUT = 30 * 60.0
MAX_EXCERPTS = 30
NOT_ASKER = "Only the person who asked can delete this answer."
NO_MORE = "That's everything the sources have on this question."
THANKS = "Thanks, noted for the moderators."
ALREADY_VOTED = "You already gave feedback on this answer; thanks!"
NOT_RECORDED = "Thanks! (Feedback is not being recorded on this bot.)"


def _span(excerpt: Excerpt) -> tuple[str, int, int]:
    return excerpt.source.id, excerpt.start, excerpt.end


class AnswerView(discord.ui.View):
    """Buttons under one answer. Each user paging with More gets the next excerpts privately."""

    def __init__(self, storybot: StoryBot, answer: Answer, asker_id: int) -> None:
        super().__init__(timeout=ANSWER_TIMEOUT)
        self.storybot = storybot
        self.answer, self.asker_id, self.question_id = answer, asker_id, answer.question_id
        self.message: discord.Message | None = None
        self._seen: dict[int, list[tuple[str, int, int]]] = {}
        # Who voted, in memory only (the log stores no user ids): one vote per member.
        self._voters: set[int] = set()
        if not answer.answered:
            self.remove_item(self.more)

    def seen_by(self, user_id: int) -> list[tuple[str, int, int]]:
        """The (source id, start, end) spans this member has been shown, the answer included."""
        return self._seen.get(user_id, [_span(e) for e in self.answer.excerpts])

    async def on_error(self, interaction: discord.Interaction, error: Exception, item) -> None:
        log.error("button %r failed", getattr(item, "label", item), exc_info=error)
        with contextlib.suppress(discord.HTTPException):
            await tell(interaction, SORRY)

    async def on_timeout(self) -> None:
        if self.message is not None:
            with contextlib.suppress(discord.HTTPException):
                await self.message.edit(view=None)

    @discord.ui.button(label="More", style=discord.ButtonStyle.primary)
    async def more(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        seen = self._seen.setdefault(interaction.user.id, [_span(e) for e in self.answer.excerpts])
        top_k = self.storybot.config.retrieval.top_k
        k = min(len(seen) + top_k, MAX_EXCERPTS)
        fresh: list[Excerpt] = []
        if len(seen) < MAX_EXCERPTS:
            again = await asyncio.to_thread(self.storybot.ask, self.answer.question, k)
            fresh = [e for e in again.excerpts if not _overlaps(_span(e), seen)][:top_k]
        if not fresh:
            await interaction.followup.send(
                NO_MORE, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )
            return
        first = len(seen) + 1
        seen.extend(_span(e) for e in fresh)
        await interaction.followup.send(
            embeds=excerpt_embeds(fresh, first_number=first),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    @discord.ui.button(label="Helpful", style=discord.ButtonStyle.success)
    async def helpful(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._vote(interaction, True)

    @discord.ui.button(label="Not helpful", style=discord.ButtonStyle.secondary)
    async def not_helpful(
        self, interaction: discord.Interaction, button: discord.ui.Button
    ) -> None:
        await self._vote(interaction, False)

    @discord.ui.button(label="Delete", style=discord.ButtonStyle.danger)
    async def delete(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        if interaction.user.id != self.asker_id:
            await tell(interaction, NOT_ASKER)
            return
        await interaction.response.defer()
        if interaction.message is not None:
            await interaction.message.delete()
        self.stop()

    async def _vote(self, interaction: discord.Interaction, helpful: bool) -> None:
        if interaction.user.id in self._voters:
            await tell(interaction, ALREADY_VOTED)
            return
        self._voters.add(interaction.user.id)
        recorded = self.question_id is not None and await asyncio.to_thread(
            self.storybot.vote, self.question_id, helpful
        )
        log.info("feedback helpful=%s question=%s recorded=%s", helpful, self.question_id, recorded)
        await tell(interaction, THANKS if recorded else NOT_RECORDED)


def _overlaps(span: tuple[str, int, int], seen: Sequence[tuple[str, int, int]]) -> bool:
    source_id, start, end = span
    return any(s == source_id and start < e and end > b for s, b, e in seen)


class SourcesView(discord.ui.View):
    """Previous / Next under the (private) source list."""

    def __init__(self, sources: Sequence[Source], page: int = 0) -> None:
        super().__init__(timeout=10 * 60.0)
        self.sources = list(sources)
        self.page = page
        self._update()

    def embed(self) -> discord.Embed:
        embed, self.pages = sources_page(self.sources, self.page)
        return embed

    def _update(self) -> None:
        _, self.pages = sources_page(self.sources, self.page)
        self.page = min(max(self.page, 0), self.pages - 1)
        self.previous.disabled = self.page == 0
        self.next.disabled = self.page >= self.pages - 1

    async def _show(self, interaction: discord.Interaction, step: int) -> None:
        self.page += step
        self._update()
        await interaction.response.edit_message(
            embed=self.embed(), view=self, allowed_mentions=discord.AllowedMentions.none()
        )

    @discord.ui.button(label="Previous", style=discord.ButtonStyle.secondary)
    async def previous(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, -1)

    @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary)
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await self._show(interaction, +1)
