"""Discord's limits, and text made safe for them: markdown and mentions escaped, text trimmed
at a sentence or word boundary, links checked.

Quoted text is escaped and trimmed *before* any markdown is added (``embeds``), so a trim never
cuts an escape sequence or a ``**bold**`` pair in half.
"""

from __future__ import annotations

import re

import discord

from bot.sources.urls import link_target

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
# A link echoed in a confirmation is shown only up to this length (the rest of the line matters).
URL_SHOWN_LIMIT = 300
AUTOCOMPLETE_LIMIT = 25  # choices in an autocomplete answer

ELLIPSIS = "…"

# An http(s) URL not already wrapped in <...>, without the punctuation that ends a sentence or
# closes a bracket after it (Discord leaves that out of the link too).
_BARE_URL = re.compile(r"(?<![<\w])https?://[^\s<>]*[^\s<>.,;:!?)\]'\"]")

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


def link(url: str) -> str | None:
    """``url`` as Discord will accept it as an embed or masked link (http/https, made safe by
    ``urls.link_target``, not too long), else None."""
    target = link_target(url)
    return target if target is not None and len(target) <= URL_LIMIT else None


def no_preview(url: str) -> str:
    """A URL for message content that Discord shows without a preview card (a safe link in
    ``<...>``; anything that is not an http(s) URL is shown escaped, as text)."""
    target = link_target(url)
    return f"<{target}>" if target is not None else escape(url)


def no_previews(text: str) -> str:
    """``text`` with every bare http(s) URL wrapped as ``<url>`` (no preview cards)."""
    return _BARE_URL.sub(r"<\g<0>>", text)
