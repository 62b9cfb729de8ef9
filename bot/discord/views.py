"""Buttons that keep working: under answers (More, Helpful, Not helpful, Delete) and under the
source list (Previous, Next).

Every button is a ``discord.ui.DynamicItem``: its ``custom_id`` says what it does and to what,
e.g. ``sb:answer:more:42:3`` (More on answer 42, 3 excerpts already shown), and the client
registers the item classes at start-up (``add_dynamic_items``). A press weeks later, or after a
restart, is handled like one a minute after the answer: no view waits in memory, what an
answer's buttons need is stored by the core (``StoryBot.remember_answer``), and every press
comes with its own fresh interaction token (an answer's own token expires after 15 minutes).

Adding a button under answers is one :class:`AnswerAction` in ``ANSWER_ACTIONS``: its name (in
the custom_id), label, style, which answers show it, and the coroutine a press runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import discord

from bot.discord.embeds import excerpt_embeds, sources_page
from bot.discord.errors import SORRY, tell
from bot.discord.logs import log_handled
from bot.discord.stories import story_by_id
from bot.engine import MORE_LIMIT, StoryBot, Vote
from bot.insights.answers import StoredAnswer
from bot.presentation import reply_line
from bot.sources.corpus import Source

log = logging.getLogger("bot.discord")

NOT_ASKER = "Only the person who asked can delete this answer."
NOTHING_CLOSE = "Nothing in the sources comes close to that question."
NO_MORE = "That's everything the sources have on this question."
THANKS = "Thanks, noted for the moderators."
ALREADY_VOTED = "You already gave feedback on this answer; thanks!"
NOT_RECORDED = "Thanks! (Feedback is not being recorded on this bot.)"
GONE = "This answer is too old for its buttons (or was removed); please ask again."
CANT_DELETE = "I can't delete that message any more: I no longer have access to this channel."
VOTE_REPLIES = {Vote.COUNTED: THANKS, Vote.ALREADY: ALREADY_VOTED, Vote.NOT_RECORDED: NOT_RECORDED}
# Discord's limit on a custom_id; ours stay far below it (tested).
CUSTOM_ID_LIMIT = 100
ANSWER_TEMPLATE = r"sb:answer:(?P<action>[a-z-]{1,20}):(?P<answer>\d{1,20})(?::(?P<arg>\d{1,6}))?"
SOURCES_TEMPLATE = r"sb:sources:(?P<direction>prev|next):(?P<page>\d{1,6})(?::(?P<story>\d{1,12}))?"

# A press runs with the stored answer and the number after the answer id (None if absent).
Handler = Callable[[discord.Interaction, StoredAnswer, int | None], Awaitable[None]]


def storybot_of(interaction: discord.Interaction, story_id: int | None = None) -> StoryBot:
    """The engine; with ``story_id``, that story's (blocking: checked against the server)."""
    storybot = interaction.client.storybot  # type: ignore[attr-defined]
    if story_id is None:  # the story a button's answer came from, if the press found it
        return interaction.extras.get("storybot", storybot)
    return story_by_id(storybot, story_id, interaction.guild_id)


@dataclass(frozen=True)
class AnswerAction:
    """One button under answers."""

    name: str  # in the custom_id: lowercase letters and dashes
    label: str
    style: discord.ButtonStyle
    run: Handler
    shown_on: Callable[[StoredAnswer], bool] = lambda answer: True


class AnswerButton(discord.ui.DynamicItem[discord.ui.Button], template=ANSWER_TEMPLATE):
    """A button under an answer (or under a More page): an action on one stored answer."""

    def __init__(self, action: AnswerAction, answer_id: int, arg: int | None = None) -> None:
        custom_id = f"sb:answer:{action.name}:{answer_id}" + ("" if arg is None else f":{arg}")
        super().__init__(
            discord.ui.Button(label=action.label, style=action.style, custom_id=custom_id)
        )
        self.action, self.answer_id, self.arg = action, answer_id, arg

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match, /
    ) -> AnswerButton:
        # An unknown action (a button of a newer version) raises: discord.py logs it.
        action = ACTIONS_BY_NAME[match["action"]]
        arg = match["arg"]
        return cls(action, int(match["answer"]), None if arg is None else int(arg))

    async def callback(self, interaction: discord.Interaction) -> None:
        started = time.perf_counter()
        outcome = "ok"
        try:
            storybot = storybot_of(interaction)
            answer = await asyncio.to_thread(storybot.stored_answer, self.answer_id)
            if answer is not None and answer.story_id != storybot.story.id:
                # The answer's own story (More asks it again, votes count in its log).
                interaction.extras["storybot"] = await asyncio.to_thread(
                    storybot_of, interaction, answer.story_id
                )
            if answer is None:
                outcome = "gone"
                await _gone(interaction)
            else:
                await self.action.run(interaction, answer, self.arg)
        except Exception:
            # discord.py would only log it; the member must hear that it failed.
            outcome = "failed"
            log.exception("button %s on answer %s failed", self.action.name, self.answer_id)
            with contextlib.suppress(discord.HTTPException):
                await tell(interaction, SORRY)
        log_handled(f"button {self.action.name}", interaction.user.id, started, outcome)


def answer_view(answer: StoredAnswer) -> discord.ui.View:
    """The buttons under a posted answer (no timeout: the item classes are registered)."""
    view = discord.ui.View(timeout=None)
    for action in ANSWER_ACTIONS:
        if action.shown_on(answer):
            view.add_item(AnswerButton(action, answer.id))
    return view


async def _gone(interaction: discord.Interaction) -> None:
    """The answer is no longer stored: take its dead buttons away and say why."""
    await interaction.response.edit_message(view=None)
    await tell(interaction, GONE)


# -- what each button does -------------------------------------------------------------------


async def _more(interaction: discord.Interaction, answer: StoredAnswer, shown: int | None) -> None:
    """The next excerpts, privately; the page has its own More for the page after it."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    shown = answer.shown if shown is None else shown
    storybot = storybot_of(interaction)
    first, excerpts = await asyncio.to_thread(storybot.more_excerpts, answer, shown)
    if not excerpts:
        await tell(interaction, NO_MORE)
        return
    last = first + len(excerpts) - 1
    kwargs: dict[str, Any] = {}
    if last < MORE_LIMIT:
        view = discord.ui.View(timeout=None)
        view.add_item(AnswerButton(MORE, answer.id, last))
        kwargs["view"] = view
    await interaction.followup.send(
        embeds=excerpt_embeds(excerpts, first_number=first),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
        **kwargs,
    )


async def _closest(interaction: discord.Interaction, answer: StoredAnswer, _: int | None) -> None:
    """Under a refusal posted before replies showed their closest passages themselves: the
    nearest passages, privately, labelled as not sure."""
    await interaction.response.defer(ephemeral=True, thinking=True)
    refusal = await asyncio.to_thread(storybot_of(interaction).ask, answer.question)
    excerpts = refusal.closest if not refusal.answered else refusal.excerpts
    if not excerpts:
        await tell(interaction, NOTHING_CLOSE)
        return
    await interaction.followup.send(
        content=reply_line(refusal) if not refusal.answered else None,
        embeds=excerpt_embeds(excerpts),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )


def _vote(helpful: bool) -> Handler:
    async def vote(interaction: discord.Interaction, answer: StoredAnswer, _: int | None) -> None:
        storybot = storybot_of(interaction)
        outcome = await asyncio.to_thread(
            storybot.vote_on_answer, answer, interaction.user.id, helpful
        )
        log.info("feedback helpful=%s answer=%s %s", helpful, answer.id, outcome.value)
        await tell(interaction, VOTE_REPLIES[outcome])

    return vote


async def _delete(interaction: discord.Interaction, answer: StoredAnswer, _: int | None) -> None:
    """Only the asker. An interaction reply goes through the webhook route with this press's
    fresh token (works where the bot can't see the channel); a reply to a message goes
    through the channel, where the bot posted it."""
    storybot = storybot_of(interaction)
    if not storybot.is_asker(answer, interaction.user.id):
        await tell(interaction, NOT_ASKER)
        return
    await interaction.response.defer()  # a deferred update of the answer's own message
    try:
        if answer.via_interaction:
            await interaction.delete_original_response()
        elif interaction.message is not None:
            await interaction.message.delete()
    except discord.NotFound:
        pass  # already gone
    except discord.Forbidden:
        await tell(interaction, CANT_DELETE)
        return
    await asyncio.to_thread(storybot.forget_answer, answer.id)


MORE = AnswerAction(
    "more", "More", discord.ButtonStyle.primary, _more, shown_on=lambda answer: answer.answered
)
CLOSEST = AnswerAction(
    "closest",
    "Show closest passages",
    discord.ButtonStyle.secondary,
    _closest,
    # Not added any more (a reply that is not sure shows its closest passages itself); kept
    # so the button under replies posted before keeps working.
    shown_on=lambda answer: False,
)
ANSWER_ACTIONS: tuple[AnswerAction, ...] = (
    MORE,
    CLOSEST,
    AnswerAction("helpful", "Helpful", discord.ButtonStyle.success, _vote(True)),
    AnswerAction("not-helpful", "Not helpful", discord.ButtonStyle.secondary, _vote(False)),
    AnswerAction("delete", "Delete", discord.ButtonStyle.danger, _delete),
)
ACTIONS_BY_NAME = {action.name: action for action in ANSWER_ACTIONS}


# -- the source list -------------------------------------------------------------------------


class SourcesButton(discord.ui.DynamicItem[discord.ui.Button], template=SOURCES_TEMPLATE):
    """Previous / Next under the private source list: shows page ``page`` of the corpus as it
    is when pressed."""

    def __init__(
        self, direction: str, page: int, *, disabled: bool = False, story: int | None = None
    ) -> None:
        story_part = "" if story is None else f":{story}"
        super().__init__(
            discord.ui.Button(
                label="Previous" if direction == "prev" else "Next",
                style=discord.ButtonStyle.secondary,
                custom_id=f"sb:sources:{direction}:{page}{story_part}",
                disabled=disabled,
            )
        )
        self.page, self.story = page, story

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match, /
    ) -> SourcesButton:
        story = match["story"]
        return cls(
            match["direction"], int(match["page"]), story=None if story is None else int(story)
        )

    async def callback(self, interaction: discord.Interaction) -> None:
        storybot = await asyncio.to_thread(storybot_of, interaction, self.story)
        sources = await asyncio.to_thread(lambda: storybot.sources)
        embed, view, _ = sources_message(sources, self.page, self.story)
        await interaction.response.edit_message(
            embed=embed, view=view, allowed_mentions=discord.AllowedMentions.none()
        )


def sources_message(
    sources: Sequence[Source], page: int, story: int | None = None
) -> tuple[discord.Embed, discord.ui.View, int]:
    """Page ``page`` (0-based, clamped) of the source list with its buttons (which show
    ``story``'s sources; None: the engine's own); and the page."""
    embed, pages = sources_page(sources, page)
    page = min(max(page, 0), pages - 1)
    view = discord.ui.View(timeout=None)
    view.add_item(SourcesButton("prev", max(page - 1, 0), disabled=page == 0, story=story))
    last = page >= pages - 1
    view.add_item(SourcesButton("next", min(page + 1, pages - 1), disabled=last, story=story))
    return embed, view, page


PERSISTENT_ITEMS = (AnswerButton, SourcesButton)
