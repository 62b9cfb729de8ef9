"""Discord rendering: escaping, trimming at boundaries, and Discord's size limits."""

from __future__ import annotations

import re

import discord
from discord_mocks import unrender
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord import embeds as E
from bot.discord import markdown as M
from bot.presentation import NOT_SURE, NOTHING
from bot.search.retrieval import Answer, Excerpt
from helpers import FESTIVAL, source

HOSTILE = (
    "Breaking: @everyone and @here look at <@123> and <@&456789012345678901>. "
    "**Bold claim** with __underline__, ~~strike~~, ||spoiler|| and `code`.\n"
    "# Not a heading\n> not a quote\n- not a list\n1. not numbered\n"
    "[click me](https://evil.example/) <t:1600000000:R> <#123456789012345678>"
)


def excerpt_of(src, start=0, end=None, highlights=()):
    end = len(src.text) if end is None else end
    return Excerpt(src, start, end, score=1.0, coverage=1.0, highlights=highlights)


def test_escape_neutralises_mentions_and_markdown():
    out = M.escape(HOSTILE)
    assert "@everyone" not in out and "@here" not in out
    assert "@\u200beveryone" in out
    assert not re.search(r"(?<!\\)<@123>", out) and "\\<@123>" in out
    assert "\\<@\u200b&" in out and "\\<t:" in out and "\\<#" in out
    for raw in ("**Bold claim**", "__underline__", "~~strike~~", "||spoiler||", "`code`"):
        assert raw not in out
    assert "\\*\\*Bold claim\\*\\*" in out
    assert "\\# Not a heading" in out
    assert "\\> not a quote" in out
    assert "\\- not a list" in out
    assert "1\\. not numbered" in out
    assert "\\[click me](https://evil.example/)" in out


@given(st.text(alphabet=st.sampled_from("ab cd. ef! *_`|~>#-\n@<"), max_size=400))
@settings(max_examples=200, deadline=None)
def test_trim_fits_and_keeps_a_prefix(text):
    for limit in (5, 17, 60, 200):
        out = M.trim(text, limit)
        assert len(out) <= limit
        if out.endswith(M.ELLIPSIS) and len(text.strip()) > limit:
            kept = out[: -len(M.ELLIPSIS)].rstrip()
            assert text.strip().startswith(kept)


def test_trim_prefers_sentence_then_word_boundaries():
    text = "The jury praised the film. Critics were divided about the marketing campaign."
    assert M.trim(text, 40) == "The jury praised the film. …"
    cut = M.trim("Netflix apologised for the inappropriate artwork yesterday", 30)
    assert cut == "Netflix apologised for the…"
    assert M.trim("short", 10) == "short"


@given(st.text(alphabet=st.sampled_from("ab *_`|~\\@<>:#\n"), max_size=600))
@settings(max_examples=200, deadline=None)
def test_safe_trim_never_exceeds_and_never_splits_an_escape(text):
    out = M.safe_trim(text, 50)
    assert len(out) <= 50
    body = out.removesuffix(M.ELLIPSIS).rstrip()
    # A trailing lone backslash would escape whatever follows: an escape cut in half.
    trailing = len(body) - len(body.rstrip("\\"))
    assert trailing % 2 == 0


def test_quote_is_a_block_quote_with_bold_matches_and_escaped_text():
    src = source("s", "The *director* met 650 girls.\n\nShe said @everyone <@123> agreed.")
    start = src.text.index("director")
    ex = excerpt_of(src, highlights=((start, start + len("director")),))
    out = E.quote(ex, 500)
    lines = out.splitlines()
    assert all(line.startswith(">") for line in lines)
    assert "\\***director**\\*" in out  # the source's asterisks escaped, the match in bold
    assert "@\u200beveryone" in out and "\\<@123>" in out


def test_quote_trims_long_excerpt_at_a_boundary_within_limit():
    text = " ".join(f"Sentence number {i} says something about the film." for i in range(200))
    ex = excerpt_of(source("long", text))
    out = E.quote(ex, 1000)
    assert len(out) <= 1000
    assert out.endswith(". …")  # cut after a whole sentence
    body = out.removeprefix("> ").removesuffix(" …")
    assert text.startswith(body)


def test_excerpt_embeds_content_and_link():
    src = source(
        "variety",
        "Netflix said the film is a social commentary. It defended the release.",
        title="Netflix defends Cuties",
        publisher="Variety",
        url="https://variety.com/2020/cuties",
    )
    embeds = E.excerpt_embeds([excerpt_of(src, 0, 45)])
    (embed,) = embeds
    assert embed.title == "[1] Netflix defends Cuties"
    assert embed.url.startswith("https://variety.com/2020/cuties#:~:text=")
    assert embed.author.name == "Variety"
    assert embed.description == "> Netflix said the film is a social commentary."
    assert "not generated" in embed.footer.text


def test_excerpt_embeds_without_url_or_publisher():
    src = source("x", "Some text here.", url="javascript:alert(1)")
    (embed,) = E.excerpt_embeds([excerpt_of(src)])
    assert embed.url is None  # never a URL Discord would reject
    assert embed.author.name == "publisher unknown"


def test_embeds_stay_within_every_discord_limit():
    huge = ("word " * 2000 + "*_` @everyone ") * 3
    srcs = [
        source(f"s{i}", huge, title="T" * 400, publisher="P" * 400, url="https://e.com/" + "a" * 50)
        for i in range(12)
    ]
    embeds = E.excerpt_embeds([excerpt_of(s) for s in srcs])
    assert len(embeds) <= M.EMBEDS_LIMIT
    assert sum(len(e) for e in embeds) <= M.EMBED_TOTAL_LIMIT
    for embed in embeds:
        assert len(embed.title) <= M.TITLE_LIMIT
        assert len(embed.description) <= M.DESCRIPTION_LIMIT
        assert len(embed.author.name) <= M.AUTHOR_LIMIT
        assert len(embed.description) > 300  # the budget is shared, not starved


def test_nothing_reply_is_short_with_hint_and_no_quotes():
    reply = E.answer_reply(Answer("Who won the 1998 World Cup?", False, reason="off_topic"))
    assert reply.embeds == ()
    assert reply.content.startswith(NOTHING)
    assert "/sources" in reply.content
    assert len(reply.content) < 300


def test_a_reply_not_sure_shows_its_closest_passages_in_the_reply():
    closest = [excerpt_of(FESTIVAL)]
    answer = Answer("How old is she?", False, reason="not_sure", closest=closest)
    reply = E.answer_reply(answer, show_question=True)
    assert reply.content.splitlines() == [E.question_line("How old is she?"), NOT_SURE]
    assert len(reply.embeds) == 1
    assert reply.embeds[0].description == E.excerpt_embeds(closest)[0].description


def test_reply_kwargs_never_allow_mentions():
    kwargs = E.Reply(content="hi @everyone").kwargs()
    assert kwargs["allowed_mentions"].to_dict() == discord.AllowedMentions.none().to_dict()
    assert kwargs["allowed_mentions"].to_dict()["parse"] == []


def test_sources_pages_within_limits():
    srcs = [
        source(
            f"src-{i:02d}",
            "text",
            title=f"Title {i} " + "x" * 300,
            publisher="<@123> **Pub**",
            url="https://example.com/" + "p" * 300,
            added_by="mod (1) via Discord",
            added_at="2026-11-25T10:00:00+00:00",
        )
        for i in range(14)
    ]
    first, pages = E.sources_page(srcs, 0)
    assert pages == 3
    assert len(first.fields) == E.SOURCES_PER_PAGE
    assert len(first) <= M.EMBED_TOTAL_LIMIT
    value = first.fields[0].value
    assert "src-00" in value and "2026-11-25" in value and "mod (1) via Discord" in value
    assert "[link](https://example.com/" in value
    assert "\\<@123>" in value and "\\*\\*Pub\\*\\*" in value
    last, _ = E.sources_page(srcs, 99)  # clamped
    assert [f.value.split("`")[1] for f in last.fields] == ["src-12", "src-13"]
    empty, pages = E.sources_page([], 0)
    assert pages == 1 and "No sources" in empty.description


def test_no_preview_wraps_links():
    assert M.no_preview("https://a.example/x") == "<https://a.example/x>"


def normalised(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


PIECES = [*"abc xyz.,!?'\"*_`|~>#-@<:&\\", "\n", "1. ", "everyone", "<@123>", "[a](http://x)"]


@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=120).map("".join))
@settings(max_examples=300, deadline=None)
def test_quote_shows_the_source_text_verbatim(text):
    src = source("s", text)
    words = tuple((m.start(), m.end()) for m in re.finditer(r"[a-z]+", text))[::2]
    quoted = E.quote(excerpt_of(src, highlights=words), M.DESCRIPTION_LIMIT)
    assert unrender(quoted) == normalised(text)


@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=120).map("".join))
@settings(max_examples=300, deadline=None)
def test_no_quoted_line_starts_with_live_markdown(text):
    quoted = E.quote(excerpt_of(source("s", text)), M.DESCRIPTION_LIMIT)
    for line in quoted.splitlines():
        body = line.removeprefix(">").removeprefix(" ")
        assert not re.match(r"\s*([-#>]|\d+\.\s)", body), line


def test_list_markers_after_a_line_break_are_escaped_on_their_own_line():
    assert M.escape("intro\n- item\n# head") == "intro\n\\- item\n\\# head"
    assert M.escape("  - sub\n  # h\n>x\n> y") == "  \\- sub\n  \\# h\n\\>x\n\\> y"
