"""Hostile text for the reliability tests: strategies, named examples, and Discord-limit checks.

``STORYBOT_DEEP=1`` (see ``deep_examples``) runs many more hypothesis examples.
"""

from __future__ import annotations

import os
import re

import discord
from hypothesis import strategies as st

from bot.discord import markdown as M

DEEP = os.environ.get("STORYBOT_DEEP", "") not in ("", "0")


def deep_examples(default: int, deep: int) -> int:
    """How many hypothesis examples to run: ``deep`` under STORYBOT_DEEP=1."""
    return deep if DEEP else default


# Pieces hostile text is made of: every alphabet the brief names, Discord syntax, and words the
# shipped story answers about (so that hostile questions also reach the answered path).
PIECES = [
    # whitespace, line breaks of every kind, control characters
    " ",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\u2028",
    "\u2029",
    "\x00",
    "\x07",
    "\x1b",
    "\x1b[31m",
    "\x7f",
    # zero-width, bidi controls, BOM, combining marks
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u202e",
    "\u2066",
    "\u0301",
    "e\u0301",
    "\u0300" * 5,
    "Z\u0351\u0352\u0353\u0354\u0355",
    # mentions and Discord angle syntax
    "@everyone",
    "@here",
    "@",
    "<@&123>",
    "<@123>",
    "<@!123>",
    "<#123>",
    "<t:1600000000:R>",
    "</ask:123>",
    "<:emoji:123>",
    "<a:emoji:123>",
    "<https://evil.example>",
    # markdown
    "```",
    "```py\n",
    "`",
    "**",
    "__",
    "~~",
    "||",
    "*",
    "_",
    "> ",
    ">>> ",
    "# ",
    "## ",
    "-# ",
    "- ",
    "* ",
    "1. ",
    "[a](https://evil.example)",
    " https://netflix.example/Cuties_film ",
    "\\",
    "](",
    "\\*",
    # stop words, punctuation, content words of the shipped story
    "the",
    "and",
    "of",
    "is",
    "who",
    "what",
    "?",
    "!",
    ".",
    ",",
    ";",
    "'",
    '"',
    "…",
    "Cuties",
    "Netflix",
    "director",
    "directed",
    "petition",
    "Doucouré",
    "Sundance",
    "film",
    # emoji, right-to-left, CJK, other scripts
    "🎬",
    "👍🏽",
    "👨‍👩‍👧",
    "🇫🇷",
    "\U0001f600",
    "مَن أخرج الفيلم؟",
    "מי ביים את הסרט",
    "谁导演了这部电影",
    "映画「キューティーズ」",
    "영화",
    "Ｃｕｔｉｅｓ",
    "\ufffd",
]
# Lone surrogates: a Python str can hold them (json.loads("\"\\ud800\"") or a command-line
# argument that is not UTF-8 gives one), though they cannot be encoded as UTF-8.
SURROGATES = ["\ud800", "\udfff", "\udcff"]

pieces_text = st.lists(st.sampled_from(PIECES), min_size=0, max_size=40).map("".join)
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
hostile_text = st.one_of(
    pieces_text,
    any_text,
    st.lists(st.sampled_from(PIECES + SURROGATES), max_size=40).map("".join),
)

# Named cases, always run (hypothesis may not draw each of them).
NAMED_QUESTIONS = {
    "empty": "",
    "whitespace": " \t\n\r\u2028\u3000 ",
    "10k characters": "Who directed Cuties? " * 476 + "x" * 4,
    "10k one word": "x" * 10_000,
    "just under the limit": "Who directed Cuties? " + "x" * 978,
    "only stop words": "the and of is was it",
    "only punctuation": "?!.,;:…—()[]{}",
    "emoji": "🎬👍🏽👨‍👩‍👧 Cuties 🇫🇷?",
    "arabic": "مَن أخرج فيلم Cuties؟",
    "hebrew": "מי ביים את הסרט Cuties?",
    "cjk": "谁导演了电影 Cuties？",
    "nul": "\x00Who directed\x00Cuties?\x00",
    "carriage returns": "Who\rdirected\r\nCuties?",
    "escape sequence": "\x1b[31mWho directed Cuties?\x1b[0m",
    "line separator": "Who directed\u2028Cuties?",
    "everyone": "@everyone who directed Cuties?",
    "here": "@here who directed Cuties?",
    "role ping": "<@&123456789012345678> who directed Cuties?",
    "user ping": "<@123> <@!123> who directed Cuties?",
    "channel": "<#123> who directed Cuties?",
    "markdown": "**Who** __directed__ ~~Cuties~~ ||?|| # > - 1.",
    "code fence": "```py\nwho directed Cuties?\n```",
    "zero width": "Who\u200b directed Cu\u200bties\u200d?",
    "combining": "Who dire\u0301cted Cuti\u0308es" + "\u0300" * 30 + "?",
    "bidi override": "\u202eWho directed Cuties?\u202c",
    "lone surrogate": "\ud800Who directed Cuties?\udfff",
    "only surrogates": "\udcff\udcfe",
    "only zero width": "\u200b\u200c\u200d\ufeff",
    "only controls": "\x00\x01\x1b\x7f",
    "mixture": "@everyone <@&1> ```\u202e谁 مَن \x00\r\u2028 Cuties 🎬 **director**?\ud800",
}


# -- Discord's limits and mentions -------------------------------------------------------------


def allows_nothing(allowed: discord.AllowedMentions | None) -> bool:
    return (
        allowed is not None
        and allowed.to_dict() == {"parse": []}
        and not any((allowed.everyone, allowed.users, allowed.roles, allowed.replied_user))
    )


# A mention or channel link that is live: not escaped with a backslash or a zero-width space.
LIVE_MENTION = re.compile(r"(?<!\\)<(?:@[!&]?\d+|#\d+)>|@(?:everyone|here)")


# A masked link "[text](url)" whose "[" is not escaped.
LIVE_LINK = re.compile(r"(?<!\\)\[[^\]]*\]\(")


def live_mention(text: str) -> str | None:
    """The first live mention or masked link in ``text`` (escaped backslashes taken into
    account)."""
    text = text.replace("\\\\", "")
    found = LIVE_MENTION.search(text) or LIVE_LINK.search(text)
    return found.group() if found else None


def encodable(text: str) -> bool:
    """Whether ``text`` can be sent as UTF-8 JSON (a lone surrogate cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_send(kwargs: dict) -> None:
    """One send: no mention allowed, and every part within Discord's limits."""
    assert allows_nothing(kwargs.get("allowed_mentions")), kwargs
    content = kwargs.get("content")
    if content is not None:
        assert isinstance(content, str)
        assert len(content) <= M.CONTENT_LIMIT, len(content)
        assert live_mention(content) is None, content
        assert encodable(content), repr(content)
    embeds = list(kwargs.get("embeds") or []) + ([kwargs["embed"]] if kwargs.get("embed") else [])
    assert content or embeds, f"an empty message: {kwargs}"
    check_embeds(embeds)


def check_embeds(embeds: list[discord.Embed]) -> None:
    assert len(embeds) <= M.EMBEDS_LIMIT
    assert sum(len(e) for e in embeds) <= M.EMBED_TOTAL_LIMIT
    for embed in embeds:
        data = embed.to_dict()
        assert len(data.get("title", "")) <= M.TITLE_LIMIT
        assert len(data.get("description", "")) <= M.DESCRIPTION_LIMIT
        assert len(data.get("fields", [])) <= M.FIELDS_LIMIT
        for f in data.get("fields", []):
            assert 0 < len(f["name"]) <= M.FIELD_NAME_LIMIT
            assert 0 < len(f["value"]) <= M.FIELD_VALUE_LIMIT
        # Discord refuses empty names and texts where a part is present.
        assert "title" not in data or 0 < len(data["title"]) <= M.TITLE_LIMIT
        assert "footer" not in data or 0 < len(data["footer"]["text"]) <= M.FOOTER_LIMIT
        assert "author" not in data or 0 < len(data["author"]["name"]) <= M.AUTHOR_LIMIT
        assert len(data.get("url", "")) <= M.URL_LIMIT
        for text in (data.get("title", ""), data.get("description", "")):
            assert live_mention(text) is None, text
        texts = [data.get("title", ""), data.get("description", ""), data.get("url", "")]
        texts += [data.get("author", {}).get("name", ""), data.get("footer", {}).get("text", "")]
        texts += [part for f in data.get("fields", []) for part in (f["name"], f["value"])]
        assert all(encodable(t) for t in texts), repr(texts)
