"""The review queue on Discord: one message per feed candidate in its server's review channel
(``/feed channels``, or ``[discord] review_channel_id``), with **Add**, **Add and follow
links** and **Ignore** buttons.

The buttons are persistent ``DynamicItem``s like those under answers: a ``custom_id`` such as
``sb:feed:add:42`` names the action and the candidate, and everything else is in the core's
feed store (``StoryBot.candidate``), so a press after a restart works like one a minute after
the post. Every press is checked (``is_moderator``) before anything is read or written; the
core makes sure only one decision on a candidate counts (``accept_candidate`` /
``ignore_candidate`` raise ``FeedStoreError`` for the second), and the message is then redrawn
from the candidate's state, so it always says what became of it and who decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import discord

from bot.discord.checks import REFUSAL, added_by, is_moderator
from bot.discord.embeds import quote_lines
from bot.discord.errors import SORRY, tell
from bot.discord.logs import log_handled
from bot.discord.markdown import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    escape,
    link,
    no_preview,
    no_previews,
    safe_trim,
    trim,
)
from bot.discord.stories import story_by_id
from bot.presentation import UNKNOWN_PUBLISHER
from bot.sources.feeds.store import Candidate, FeedStoreError
from bot.sources.ingest import ERRORS, DuplicateUrl, IngestReport, ProgressEvent

log = logging.getLogger("bot.discord")

DEFERRED_UPDATE = discord.InteractionResponseType.deferred_message_update
# The story's id last: buttons posted before stories have none (the bot's own story's).
REVIEW_TEMPLATE = (
    r"sb:feed:(?P<action>add|follow|ignore):(?P<candidate>\d{1,20})(?::(?P<story>\d{1,12}))?"
)
# "Add and follow links" also adds up to this many pages the article links to.
FOLLOW_LINKS = 5
MAX_URL_SHOWN = 500
TERMS_SHOWN = 12
PASSAGE_CHARS = 700
SUMMARY_CHARS = 400
WHO_CHARS = 120
LABELS = {"add": "Add", "follow": "Add and follow links", "ignore": "Ignore"}
STYLES = {
    "add": discord.ButtonStyle.success,
    "follow": discord.ButtonStyle.primary,
    "ignore": discord.ButtonStyle.secondary,
}
COLOURS = {
    "pending": discord.Colour.blurple(),
    "accepting": discord.Colour.gold(),
    "accepted": discord.Colour.green(),
}


def code(text: str) -> str:
    """An id as inline code (a backtick in it would end the span)."""
    return "`" + trim(text.replace("`", "'"), 200) + "`"


# -- the message -----------------------------------------------------------------------------


def review_embed(candidate: Candidate) -> discord.Embed:
    """What the candidate is and why it matched: title (linked), publisher, date, feed, the
    words it shares with the closest passage, and that passage (escaped, trimmed)."""
    c = candidate
    embed = discord.Embed(
        title=safe_trim(c.title, TITLE_LIMIT) or "(no title)",
        url=link(c.url),
        colour=COLOURS.get(c.status, discord.Colour.dark_grey()),
    )
    # Author names are plain text on Discord (no markdown, no mentions): not escaped.
    embed.set_author(name=trim(c.publisher or c.feed_title, 256) or UNKNOWN_PUBLISHER)
    why = [f"relevance {c.score:.2f}" if c.score is not None else "relevance unknown"]
    if c.terms:
        shown = ", ".join(c.terms[:TERMS_SHOWN]) + (", …" if len(c.terms) > TERMS_SHOWN else "")
        why.append(f"words in common: {shown}")
    lines = [f"**Why it matched:** {safe_trim(' · '.join(why), 900)}"]
    if c.match_text:
        passage = safe_trim(" ".join(c.match_text.split()), PASSAGE_CHARS)
        lines.append(f"**Closest passage** ({code(c.match_source)}):\n{quote_lines(passage)}")
    embed.description = "\n".join(lines)[:DESCRIPTION_LIMIT]
    embed.add_field(name="Published", value=c.published[:10] or "unknown")
    if c.feed_title.strip():
        embed.add_field(name="Feed", value=safe_trim(c.feed_title, 200))
    if c.summary.strip():
        summary = safe_trim(" ".join(c.summary.split()), SUMMARY_CHARS)
        embed.add_field(name="Summary", value=summary[:FIELD_VALUE_LIMIT], inline=False)
    embed.set_footer(text=f"Candidate {c.id} · storybot feeds accept {c.id} / ignore {c.id}")
    return embed


def state_line(candidate: Candidate) -> str | None:
    """What became of the candidate, for the top of its message; None while it waits."""
    c = candidate
    by = f" by {safe_trim(c.decided_by, WHO_CHARS)}" if c.decided_by else ""
    if c.status == "pending":
        return None
    if c.status == "accepting":
        return f"Being added{by}…"
    if c.status == "accepted":
        return f"**Added**{by} as {code(c.source_id)}."
    if c.status == "ignored":
        return f"**Ignored**{by}."
    if c.status == "known":
        return f"Already in the corpus: {safe_trim(c.reason, 300)}"
    return f"No longer waiting for a decision (judged {escape(c.status)})."


def review_message(candidate: Candidate, note: str | None = None) -> dict[str, Any]:
    """``send``/``edit`` keyword arguments for the candidate's message as it stands: a line
    with its link, what became of it (or ``note``), the embed, and the buttons while it
    waits for a decision."""
    url = no_preview(candidate.url) if len(candidate.url) <= MAX_URL_SHOWN else ""
    lines = [f"**New coverage to review** (candidate {candidate.id}) {url}".rstrip()]
    status = note or state_line(candidate)
    if status:
        lines.append(status)
    return {
        "content": trim(no_previews("\n".join(lines)), CONTENT_LIMIT),
        "embed": review_embed(candidate),
        "view": (
            review_view(candidate.id, candidate.story_id) if candidate.status == "pending" else None
        ),
        "allowed_mentions": discord.AllowedMentions.none(),
    }


def review_view(candidate_id: int, story_id: int | None = None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in LABELS:
        view.add_item(ReviewButton(action, candidate_id, story_id))
    return view


def added_text(candidate: Candidate, report: IngestReport) -> str:
    """The top line once the add is done: who added it as what, and the followed links."""
    line = state_line(candidate) or ""
    first, *linked = report.added
    if first.near_duplicate:
        twin, score = first.near_duplicate
        line += f" Note: it nearly repeats {code(twin)} (similarity {score:.0%})."
    if linked:
        line += f" Also added {len(linked)} linked page(s): " + ", ".join(
            code(a.source.id) for a in linked
        )
    if report.skipped:
        line += f" ({len(report.skipped)} link(s) skipped)"
    return line


# -- the buttons -----------------------------------------------------------------------------


class ReviewButton(discord.ui.DynamicItem[discord.ui.Button], template=REVIEW_TEMPLATE):
    """Add, Add and follow links, or Ignore on one candidate of the review queue."""

    def __init__(self, action: str, candidate_id: int, story_id: int | None = None) -> None:
        story = "" if story_id is None else f":{story_id}"
        super().__init__(
            discord.ui.Button(
                label=LABELS[action],
                style=STYLES[action],
                custom_id=f"sb:feed:{action}:{candidate_id}{story}",
            )
        )
        self.action, self.candidate_id, self.story_id = action, candidate_id, story_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match, /
    ) -> ReviewButton:
        story = None if match["story"] is None else int(match["story"])
        return cls(match["action"], int(match["candidate"]), story)

    async def callback(self, interaction: discord.Interaction) -> None:
        started = time.perf_counter()
        try:
            if self.story_id is not None:  # the candidate's story (checked: this server's)
                interaction.extras["storybot"] = await asyncio.to_thread(
                    story_by_id, interaction.client.storybot, self.story_id, interaction.guild_id
                )
            outcome = await self._decide(interaction)
        except Exception:
            # discord.py would only log it; the moderator must hear that it failed.
            outcome = "failed"
            log.exception("review button %s on candidate %s failed", self.action, self.candidate_id)
            with contextlib.suppress(Exception):  # the message shows the candidate as it is
                if interaction.response.type == DEFERRED_UPDATE:
                    await _redraw(interaction, _storybot(interaction).candidate(self.candidate_id))
            with contextlib.suppress(discord.HTTPException):
                await tell(interaction, SORRY)
        log_handled(f"review {self.action}", interaction.user.id, started, outcome)

    async def _decide(self, interaction: discord.Interaction) -> str:
        settings = interaction.client.settings  # type: ignore[attr-defined]
        if not is_moderator(interaction.user, settings.moderator_roles):
            await tell(interaction, REFUSAL)
            return "refused (not a moderator)"
        storybot = _storybot(interaction)
        candidate = await asyncio.to_thread(storybot.candidate, self.candidate_id)
        if candidate.status != "pending":
            # Decided meanwhile (another moderator, the command line): say by whom, and show
            # it unless it is being added (the adder's progress is showing).
            if candidate.status != "accepting":
                await interaction.response.edit_message(**review_message(candidate))
            await tell(interaction, _already(candidate))
            return f"already {candidate.status}"
        if self.action == "ignore":
            return await self._ignore(interaction)
        return await self._add(interaction, FOLLOW_LINKS if self.action == "follow" else 0)

    async def _ignore(self, interaction: discord.Interaction) -> str:
        storybot = _storybot(interaction)
        try:
            ignored = storybot.ignore_candidate(self.candidate_id, by=added_by(interaction.user))
        except FeedStoreError as exc:
            return await self._lost(interaction, exc)
        await interaction.response.edit_message(**review_message(ignored))
        log.info("candidate %s ignored by %s", ignored.id, interaction.user.id)
        return "ignored"

    async def _add(self, interaction: discord.Interaction, follow: int) -> str:
        """Deferred (the add takes seconds); the message shows progress, then the result."""
        await interaction.response.defer()
        storybot = _storybot(interaction)
        who = safe_trim(added_by(interaction.user), WHO_CHARS)

        async def progress(event: ProgressEvent) -> None:
            if event.stage in ("fetch", "skipped"):
                text = f"Being added by {who}: {event.done}/{event.total} · {event.message}"
                candidate = storybot.candidate(self.candidate_id)
                with contextlib.suppress(discord.HTTPException):  # never stops the add
                    await _redraw(interaction, candidate, safe_trim(text, 600))

        try:
            accepted = await storybot.accept_candidate(
                self.candidate_id,
                follow=follow,
                by=added_by(interaction.user),
                progress=progress,
            )
        except FeedStoreError as exc:
            return await self._lost(interaction, exc)
        except DuplicateUrl as exc:  # added meanwhile by another path: settled as known
            await _redraw(interaction, storybot.candidate(self.candidate_id))
            log.info("candidate %s: %s", self.candidate_id, exc)
            return "already in the corpus"
        except ERRORS as exc:  # the candidate waits again, buttons and all
            reason = safe_trim(str(exc), 500)
            note = f"Not added: {reason}. It is still waiting for a decision."
            await _redraw(interaction, storybot.candidate(self.candidate_id), note)
            return "add failed"
        for added in accepted.report.added:
            log.info("source %s added by %s (feed candidate)", added.source.id, interaction.user.id)
        text = added_text(accepted.candidate, accepted.report)
        await _redraw(interaction, accepted.candidate, text)
        interaction.client.announce_soon()  # type: ignore[attr-defined]
        return f"added {len(accepted.report.added)}"

    async def _lost(self, interaction: discord.Interaction, exc: FeedStoreError) -> str:
        """Another decision came first: say whose, privately; redraw unless it is still being
        added (the winner's progress is showing)."""
        candidate = _storybot(interaction).candidate(self.candidate_id)
        if candidate.status != "accepting":
            if interaction.response.is_done():
                await _redraw(interaction, candidate)
            else:
                await interaction.response.edit_message(**review_message(candidate))
        log.info("candidate %s: %s", self.candidate_id, exc)
        await tell(interaction, _already(candidate))
        return f"lost to {candidate.status}"


def _storybot(interaction: discord.Interaction):
    """The engine of the pressed button's story (``callback`` found it), else the bot's."""
    return interaction.extras.get("storybot") or interaction.client.storybot  # type: ignore[attr-defined]


def _already(candidate: Candidate) -> str:
    """For a moderator who pressed too late: what became of it, and who decided."""
    c = candidate
    by = f" by {safe_trim(c.decided_by, WHO_CHARS)}" if c.decided_by else ""
    if c.status == "accepting":
        return f"Too late: it is already being added{by}."
    if c.status in ("accepted", "ignored"):
        return f"Too late: it was already {c.status}{by}."
    return state_line(c) or "It is waiting for a decision."


async def _redraw(
    interaction: discord.Interaction, candidate: Candidate, note: str | None = None
) -> None:
    """Edit the candidate's message (the one the pressed button is on) after a deferred
    response: through the interaction's webhook, with the press's fresh token."""
    await interaction.edit_original_response(**review_message(candidate, note))
    # The background's redraw of candidates decided elsewhere need not draw it again.
    with contextlib.suppress(Exception):
        await asyncio.to_thread(
            _storybot(interaction).mark_candidate_shown, candidate.id, candidate.status
        )


REVIEW_ITEMS = (ReviewButton,)
