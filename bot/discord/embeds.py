"""Answers, source lists and help as Discord messages, always within Discord's limits.

Quoted text is escaped (markdown, mentions) and trimmed at a sentence or word boundary *before*
any markdown is added, so a trim never cuts an escape sequence or a ``**bold**`` pair in half.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlparse

import discord

from bot.presentation import NO_ANSWER, NO_ANSWER_REASONS, UNKNOWN_PUBLISHER, excerpt_link
from bot.search.retrieval import Answer, Excerpt
from bot.sources.corpus import Source

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_LIMIT = 2000
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_LIMIT = 25
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
EMBED_TOTAL_LIMIT = 6000
EMBEDS_LIMIT = 10
URL_LIMIT = 2048

ELLIPSIS = "…"
QUOTES_FOOTER = "These are verbatim quotes from the sources, not generated text."
SOURCES_HINT = "Try naming who or what you mean, or see what I know with `/sources`."
SOURCES_PER_PAGE = 6
QUESTION_PREVIEW_CHARS = 300
# Title and publisher of an answer embed are kept shorter than Discord allows, so that ten
# excerpts still leave each quote a fair share of the 6000 characters.
ANSWER_TITLE_CHARS = 150
ANSWER_AUTHOR_CHARS = 100
ANSWER_COLOUR = discord.Colour.blurple()

# A sentence ends with . ! ? (and maybe closing quotes/brackets) followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s")
# Discord syntax that escape_markdown leaves alone: <@id>, <#id>, <:emoji:id>, <t:123>, </cmd:id>
_ANGLE_SYNTAX = re.compile(r"<(?=[@#:/]|a:|t:)")
# Numbered lists ("1. ") render as lists; escape_markdown does not cover them.
_NUMBERED_LIST = re.compile(r"^(\s*\d+)\.(?=\s)", re.MULTILINE)
_INDENTED_LIST = re.compile(r"^\\(\s+)-")
_BRACKET_OR_BACKSLASH = re.compile(r"([\[\\])")
# Every line break ``str.splitlines`` recognises (kept when splitting).
_LINE_BREAK = re.compile("(\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029])")
# A line starting with ">" or an indented "#" (escape_markdown only covers "> " and "#" at the
# very start).
_LEADING_QUOTE = re.compile(r"^(\s*)(?=[>#])")


def escape(text: str) -> str:
    """``text`` shown literally: no markdown, no mention, no Discord ``<...>`` syntax."""
    if _LINE_BREAK.search(text):
        # Line by line: escape_markdown's list rule (^\s*-) would otherwise match across a
        # line break and put the backslash on the line before the "-". Every break that
        # ``str.splitlines`` knows counts (\r, U+2028, ...): a block quote splits on all of them,
        # so a "# heading" after a U+2028 would otherwise start a live line.
        parts = _LINE_BREAK.split(text)
        return "".join(p if i % 2 else escape(p) for i, p in enumerate(parts))
    text = _escape_markdown(text)
    # escape_markdown turns "  - item" into "\  - item": a visible backslash, and the dash
    # still unescaped. Put the backslash on the dash instead.
    text = _INDENTED_LIST.sub(r"\1\\-", text)
    text = _LEADING_QUOTE.sub(r"\1\\", text)
    text = _NUMBERED_LIST.sub(r"\1\\.", text)
    text = _ANGLE_SYNTAX.sub(r"\\<", text)
    return discord.utils.escape_mentions(text)


def _escape_markdown(line: str) -> str:
    r"""``discord.utils.escape_markdown`` for one line, with every "[" and backslash escaped.

    escape_markdown treats ``\[.+\]\(.+\)`` as one unit and escapes only its first "[": in
    "[a](x) **b** [c](https://evil)" the bold, any backslash and the second masked link stayed
    live. It also leaves URLs alone, backslashes in them included, which then escaped what
    followed. So the line is escaped in pieces between "["s and backslashes, which are escaped
    by hand; a piece after one gets a harmless "x" in front so that escape_markdown's
    start-of-line rules don't apply to it.
    """
    parts = _BRACKET_OR_BACKSLASH.split(line)
    out = [discord.utils.escape_markdown(parts[0])]
    for i in range(1, len(parts), 2):
        out.append("\\" + parts[i])
        # Inside a defused masked link "[a](https://x)**", the URL is escaped like the rest
        # (as escape_markdown did when it took the link as one unit), so no markdown glued to
        # it stays live.
        masked = parts[i] == "[" and "](" in parts[i + 1]
        escaped = discord.utils.escape_markdown("x" + parts[i + 1], ignore_links=not masked)
        out.append(escaped[1:])
    return "".join(out)


def cut_point(text: str, limit: int) -> int:
    """Where to cut ``text`` to keep at most ``limit`` characters: the end of the last sentence
    that fits if it keeps at least half, else the last word boundary, else ``limit``."""
    if len(text) <= limit:
        return len(text)
    if limit <= 0:
        return 0
    window = text[: limit + 1]
    sentence_ends = [m.end() - 1 for m in _SENTENCE_END.finditer(window)]
    if sentence_ends and sentence_ends[-1] >= limit // 2:
        return sentence_ends[-1]
    space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
    if space > 0:
        return len(text[:space].rstrip())
    return limit  # one giant "word": nothing better to do


def with_ellipsis(kept: str) -> str:
    """``kept`` + an ellipsis: spaced after a full sentence, attached after a word."""
    kept = kept.rstrip()
    return f"{kept} {ELLIPSIS}" if kept[-1:] in ".!?\"'”’)]" else kept + ELLIPSIS


def trim(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at a boundary with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return with_ellipsis(text[: cut_point(text, limit - 2)])


def safe_trim(text: str, limit: int) -> str:
    """``text`` escaped and trimmed so that the *escaped* form fits in ``limit``."""
    budget = limit
    while True:
        text = text.strip()
        cut = cut_point(text, budget - 2) if len(text) > budget else len(text)
        out = escape(text[:cut].rstrip())
        out = with_ellipsis(out) if cut < len(text) else out
        if len(out) <= limit or budget <= 1:
            return out[:limit] if len(out) > limit else out
        budget -= max(1, len(out) - limit)


def quote(excerpt: Excerpt, limit: int) -> str:
    """The excerpt as a Discord block quote, matched words in bold, at most ``limit`` chars."""
    text = excerpt.text
    budget = limit
    while True:
        cut = cut_point(text.rstrip(), budget - 4)
        out = _quote_lines(_emphasised(text[:cut].rstrip(), excerpt.highlights))
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


def _quote_lines(text: str) -> str:
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


def link(url: str) -> str | None:
    """``url`` if Discord will accept it as an embed link (http/https, not too long)."""
    if not url or len(url) > URL_LIMIT or any(c.isspace() for c in url):
        return None
    parsed = urlparse(url)
    return url if parsed.scheme in ("http", "https") and parsed.netloc else None


def no_preview(url: str) -> str:
    """A URL for message content that Discord shows without a preview card."""
    return f"<{url}>"


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
    """The reply to a question: quotes as embeds, or a short "not covered" with a hint."""
    heading = question_line(answer.question) if show_question else None
    if not answer.answered or not answer.excerpts:
        return no_answer_reply(answer, heading)
    return Reply(content=heading, embeds=tuple(excerpt_embeds(answer.excerpts)))


def no_answer_reply(answer: Answer, heading: str | None = None) -> Reply:
    lines = [heading] if heading else []
    lines.append(NO_ANSWER)
    reason = NO_ANSWER_REASONS.get(answer.reason, "")
    lines.append(f"-# {reason} {SOURCES_HINT}" if reason else f"-# {SOURCES_HINT}")
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
        "**Delete** (only the person who asked).",
        inline=False,
    )
    embed.add_field(
        name="Other commands",
        value="`/sources` — what I know · `/help` — this message\n"
        "Moderators: `/source add`, `/source add-file`, `/source remove`.",
        inline=False,
    )
    embed.set_footer(text=QUOTES_FOOTER)
    return embed
