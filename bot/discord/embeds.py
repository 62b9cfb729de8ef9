"""Answers, source lists and help as Discord embeds and messages, always within Discord's limits.

Quoted text goes through ``markdown`` (escaped, trimmed at a boundary) before any emphasis is
added here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot.discord.markdown import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    ELLIPSIS,
    EMBED_TOTAL_LIMIT,
    EMBEDS_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    cut_point,
    escape,
    link,
    safe_trim,
    trim,
    with_ellipsis,
)
from bot.insights.announcements import Announcement
from bot.presentation import UNKNOWN_PUBLISHER, excerpt_link, reply_line
from bot.search.retrieval import Answer, Excerpt
from bot.sources.corpus import Source

QUOTES_FOOTER = "These are verbatim quotes from the sources, not generated text."
SOURCES_HINT = "Try naming who or what you mean, or see what I know with `/sources`."
SOURCES_PER_PAGE = 6
QUESTION_PREVIEW_CHARS = 300
# Title and publisher of an answer embed are kept shorter than Discord allows, so that ten
# excerpts still leave each quote a fair share of the 6000 characters.
ANSWER_TITLE_CHARS = 150
ANSWER_AUTHOR_CHARS = 100
ANSWER_COLOUR = discord.Colour.blurple()
# An announcement names at most this many of the earlier questions a new source answers.
ANSWERS_SHOWN = 5


def quote(excerpt: Excerpt, limit: int) -> str:
    """The excerpt as a Discord block quote, matched words in bold, at most ``limit`` chars."""
    text = excerpt.text
    budget = limit
    while True:
        cut = cut_point(text.rstrip(), budget - 4)
        out = quote_lines(_emphasised(text[:cut].rstrip(), excerpt.highlights))
        if cut < len(text.rstrip()):
            out = with_ellipsis(out)
        if len(out) <= limit or budget <= 8:
            return out if len(out) <= limit else out[: limit - len(ELLIPSIS)] + ELLIPSIS
        budget -= max(1, len(out) - limit)


def _emphasised(text: str, highlights: Sequence[tuple[int, int]]) -> str:
    parts, pos = [], 0
    for start, end in highlights:
        if end > len(text) or start < pos:
            continue
        parts.append(escape(text[pos:start]))
        word = escape(text[start:end])
        parts.append(f"**{word}**" if word.strip() else word)
        pos = end
    parts.append(escape(text[pos:]))
    return "".join(parts)


def quote_lines(text: str) -> str:
    """``text`` (already escaped) as a Discord block quote, one blank quoted line at most."""
    lines, blank = [], False
    for line in text.strip().splitlines():
        if not line.strip():
            if not blank and lines:
                lines.append(">")
            blank = True
            continue
        lines.append(f"> {line.rstrip()}")
        blank = False
    return "\n".join(lines)


@dataclass(frozen=True)
class Reply:
    """What to send: content and embeds. ``kwargs`` fit ``send``/``send_message``/``reply``."""

    content: str | None = None
    embeds: tuple[discord.Embed, ...] = ()

    def kwargs(self) -> dict:
        out: dict = {"allowed_mentions": discord.AllowedMentions.none()}
        if self.content is not None:
            out["content"] = self.content
        if self.embeds:
            out["embeds"] = list(self.embeds)
        return out


def excerpt_embeds(excerpts: Sequence[Excerpt], first_number: int = 1) -> list[discord.Embed]:
    """One embed per excerpt: quote, source title linked to the passage, publisher; the last
    one carries the "quotes, not generated" footer. All together stay within 6000 chars."""
    excerpts = list(excerpts)[:EMBEDS_LIMIT]
    embeds = []
    for n, excerpt in enumerate(excerpts, first_number):
        source = excerpt.source
        number = f"[{n}] "
        embed = discord.Embed(
            title=number + safe_trim(source.title, ANSWER_TITLE_CHARS - len(number)),
            url=link(excerpt_link(excerpt)) or link(source.url),
            colour=ANSWER_COLOUR,
        )
        # Author names are plain text on Discord (no markdown, no mentions): not escaped.
        # Discord refuses an empty name: a blank publisher counts as unknown.
        embed.set_author(name=trim(source.publisher, ANSWER_AUTHOR_CHARS) or UNKNOWN_PUBLISHER)
        embeds.append(embed)
    if embeds:
        embeds[-1].set_footer(text=QUOTES_FOOTER)
    overhead = sum(len(e) for e in embeds)
    per_embed = min(DESCRIPTION_LIMIT, (EMBED_TOTAL_LIMIT - overhead) // max(1, len(embeds)))
    for embed, excerpt in zip(embeds, excerpts, strict=True):
        embed.description = quote(excerpt, per_embed)
    return embeds


def question_line(question: str) -> str:
    return f"**Q:** {safe_trim(question, QUESTION_PREVIEW_CHARS)}"


def answer_reply(answer: Answer, *, show_question: bool = False) -> Reply:
    """The reply to a question: quotes as embeds; when the bot is not sure, one plain line and
    the closest passages as embeds; or a short "nothing in the sources is about that"."""
    heading = question_line(answer.question) if show_question else None
    if answer.answered and answer.excerpts:
        return Reply(content=heading, embeds=tuple(excerpt_embeds(answer.excerpts)))
    if answer.closest:
        lines = [heading] if heading else []
        lines.append(reply_line(answer))
        return Reply(content="\n".join(lines), embeds=tuple(excerpt_embeds(answer.closest)))
    return no_answer_reply(answer, heading)


def no_answer_reply(answer: Answer, heading: str | None = None) -> Reply:
    lines = [heading] if heading else []
    lines.append(reply_line(answer))
    lines.append(f"-# {SOURCES_HINT}")
    return Reply(content="\n".join(lines)[:CONTENT_LIMIT])


def sources_page(sources: Sequence[Source], page: int, per_page: int = SOURCES_PER_PAGE):
    """Page ``page`` (0-based, clamped) of the source list as one embed; and the page count."""
    pages = max(1, -(-len(sources) // per_page))
    page = min(max(page, 0), pages - 1)
    shown = sources[page * per_page : (page + 1) * per_page]
    embed = discord.Embed(
        title=f"Sources ({len(sources)})",
        colour=ANSWER_COLOUR,
        description=None if sources else "No sources yet. Moderators can add one with `/source`.",
    )
    for source in shown:
        # Discord refuses an empty field name (a title of only whitespace).
        name = safe_trim(source.title, FIELD_NAME_LIMIT) or source.id
        embed.add_field(name=name, value=_source_line(source))
    embed.set_footer(text=f"Page {page + 1} of {pages}")
    return embed, pages


def _source_line(source: Source) -> str:
    first = safe_trim(source.publisher or UNKNOWN_PUBLISHER, 100)
    url = link(source.url)
    if url and len(url) <= 400:
        first += f" · [link]({url})"
    added = source.added_at[:10] or "unknown date"
    by = safe_trim(source.added_by, 80) if source.added_by else "unknown"
    return f"{first}\nid `{source.id}` · added by {by} · {added}"[:FIELD_VALUE_LIMIT]


def help_embed(top_k: int) -> discord.Embed:
    embed = discord.Embed(
        title="storybot: answers quoted from the sources",
        colour=ANSWER_COLOUR,
        description=(
            "I answer questions about the story **only with verbatim quotes** from the sources "
            "the moderators have collected, each with its title, publisher and a link to the "
            "passage. I never write an answer myself: if the sources don't cover a question, "
            "I say so."
        ),
    )
    embed.add_field(
        name="Asking",
        value=(
            "`/ask question:` — e.g. `/ask question: Who directed the film?`\n"
            "You can also mention me with a question, or post it in a Q&A channel.\n"
            f"I show up to {top_k} quotes; **More** shows the next ones. Name people and "
            "things rather than saying *he* or *it*."
        ),
        inline=False,
    )
    embed.add_field(
        name="Under each answer",
        value="**More** · **Helpful** / **Not helpful** (seen by moderators) · "
        "**Delete** (only the person who asked). When the sources don't cover a question, "
        "**Show closest passages** shows what comes nearest, privately.",
        inline=False,
    )
    embed.add_field(
        name="Other commands",
        value="`/sources` — what I know · `/whatsnew` — the latest sources · `/help` — this "
        "message\nModerators: `/source add`, `/source add-file`, `/source remove`, `/stats`, "
        "`/feed add`, `/feed list`, `/feed remove` (watched news feeds), `/feed channels` "
        "(where candidates and new sources are posted).",
        inline=False,
    )
    embed.set_footer(text=QUOTES_FOOTER)
    return embed


def announcement_embed(note: Announcement) -> discord.Embed:
    """A new source: its title (linked), publisher, and the earlier unanswered questions it now
    answers (escaped, trimmed; at most ANSWERS_SHOWN)."""
    source = note.source
    embed = discord.Embed(
        title=safe_trim(source.title, ANSWER_TITLE_CHARS) or source.id,
        url=link(source.url),
        colour=ANSWER_COLOUR,
        description="New source: I can quote it from now on. `/whatsnew` shows the latest.",
    )
    embed.set_author(name=trim(source.publisher, ANSWER_AUTHOR_CHARS) or UNKNOWN_PUBLISHER)
    if note.answers:
        lines = [f"• {safe_trim(q, 180)}" for q in note.answers[:ANSWERS_SHOWN]]
        more = len(note.answers) - ANSWERS_SHOWN
        if more > 0:
            lines.append(f"… and {more} more")
        embed.add_field(
            name="It answers questions asked before",
            value="\n".join(lines)[:FIELD_VALUE_LIMIT],
            inline=False,
        )
    return embed
