"""Hostile questions and hostile source text, through the core and the real Discord handlers.

Every question gets an answer or a clean refusal (QuestionError / a polite private message), never
an exception; every message fits Discord's limits, pings no one and shows quoted and echoed text
escaped. ``STORYBOT_DEEP=1`` runs many more examples.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tomllib

import discord
import pytest
from discord_mocks import invoke, mock_interaction, mock_member, mock_message, sends, unrender
from hostile import (
    NAMED_QUESTIONS,
    PIECES,
    check_embeds,
    check_send,
    deep_examples,
    encodable,
    hostile_text,
    live_mention,
)
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bot.config import config_from_dict
from bot.discord import embeds as E
from bot.discord import markdown as M
from bot.discord.client import StoryDiscordBot
from bot.discord.cogs.ask import MENTION_HINT, AskCog, without_discord_syntax
from bot.discord.errors import SORRY
from bot.engine import StoryBot
from bot.search.retrieval import MAX_QUESTION_CHARS, Answer, Excerpt, QuestionError, clean_or_refuse
from bot.sources.corpus import Corpus
from conftest import SHIPPED_CONFIG, SHIPPED_CORPUS
from helpers import source

QA_CHANNEL = 1_300_000_000_000_000_001
ME = discord.Object(id=1_300_000_000_000_000_002)
# Hostile text a moderator's source may hold; the questions below reach it through "zebra".
HOSTILE_SOURCE = source(
    "hostile-notes",
    "The zebra keeper wrote @everyone and @here, then <@&123456789012345678> and <@123>.\n\n"
    "The zebra keeper posted ```py\nprint('zebra')\n``` in <#123456789012345678> **loudly**.\n\n"
    "# The zebra keeper shouted\u2028# a heading\r- a list\x0b> a quote\u2029 1. numbered.\n\n"
    "The zebra keeper spoke Arabic: مرحبا بالحمار الوحشي. And Hebrew: שלום זברה.\n\n"
    "The zebra keeper typed 斑马 and 🦓👨‍👩‍👧 and Zal\u0351\u0352go and zero\u200bwidth.\n\n"
    "The zebra keeper sent \x1b[31mred\x1b[0m and a bell\x07 and \u202eevil\u202c text.",
    title="Zebra **news** @everyone <@&1> ```",
    publisher="Zoo <@456> Times @here",
    url="https://zoo.example/news?q=<@1>",
)
ZEBRA = "What did the zebra keeper write?"


@pytest.fixture(scope="module")
def storybot(tmp_path_factory, analyzer) -> StoryBot:
    """The shipped story plus a hostile source; shared by every example of this module."""
    base = tmp_path_factory.mktemp("hostile-questions")
    (base / "corpus").mkdir()
    shutil.copy(SHIPPED_CORPUS / "seed-story.txt", base / "corpus")
    Corpus(base / "corpus").write(HOSTILE_SOURCE)
    data = tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["discord"] = {"qa_channel_ids": [QA_CHANNEL], "ask_rate": 1_000_000}
    return StoryBot(config_from_dict(data, base=base), analyzer=analyzer)


class _Client(StoryDiscordBot):
    user = ME  # logged in as ME (the real property needs a connection)


@pytest.fixture(scope="module")
def cog(storybot) -> AskCog:
    return AskCog(_Client(storybot, sync_on_setup=False))


# -- the core --------------------------------------------------------------------------------


def ask_core(storybot: StoryBot, question: str) -> Answer | None:
    """The answer, or None for a clean refusal; any other exception fails the test."""
    try:
        answer = storybot.ask(question)
    except QuestionError as exc:
        assert str(exc) and encodable(str(exc))
        return None
    assert isinstance(answer, Answer)
    assert encodable(answer.question) and 0 < len(answer.question) <= MAX_QUESTION_CHARS
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\u200b\u202e\ufeff\n]", answer.question)
    if answer.answered:
        assert 1 <= len(answer.excerpts) <= storybot.config.retrieval.top_k
        for excerpt in answer.excerpts:
            text = storybot.source(excerpt.source.id).text
            assert 0 <= excerpt.start < excerpt.end <= len(text)
            assert excerpt.text == text[excerpt.start : excerpt.end]
            for start, end in excerpt.highlights:
                assert 0 <= start < end <= len(excerpt.text)
    else:
        assert answer.reason in ("no_terms", "off_topic", "not_sure") and not answer.excerpts
        assert answer.kind in ("closest", "nothing") and (answer.kind == "closest") == bool(
            answer.closest
        )
    return answer


def unescape(text: str) -> str:
    """Undo ``embeds.escape``: backslash escapes and the zero-width space after '@'."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL).replace("@\u200b", "@")


def check_reply(answer: Answer) -> None:
    for show_question in (True, False):
        kwargs = E.answer_reply(answer, show_question=show_question).kwargs()
        check_send(kwargs)
        if show_question:
            check_echo(kwargs["content"], answer.question)


def check_echo(content: str, question: str) -> None:
    """The question shown as "**Q:** ..." is escaped: it unescapes back to (a prefix of) it."""
    first = content.split("\n", 1)[0]
    assert first.startswith("**Q:** ")
    shown = first.removeprefix("**Q:** ")
    if "://" in question:
        return  # a URL is left unescaped (Discord links it), backslashes in it included
    if shown.endswith(M.ELLIPSIS) and len(question) > E.QUESTION_PREVIEW_CHARS:
        assert question.startswith(unescape(shown.removesuffix(M.ELLIPSIS).rstrip()))
    else:
        assert unescape(shown) == question


@pytest.mark.parametrize("name", NAMED_QUESTIONS)
def test_named_hostile_questions_get_an_answer_or_a_clean_refusal(storybot, name):
    answer = ask_core(storybot, NAMED_QUESTIONS[name])
    if answer is not None:
        check_reply(answer)


def test_hostile_questions_still_find_what_they_ask(storybot):
    """Noise around a real question (controls, zero-width, bidi, surrogates) does not hide it."""
    clean = storybot.ask("Who directed Cuties?")
    clean_first = (clean.excerpts or clean.closest)[0]
    for name in (
        "nul",
        "carriage returns",
        "escape sequence",
        "line separator",
        "zero width",
        "bidi override",
        "lone surrogate",
        "code fence",
    ):
        answer = storybot.ask(NAMED_QUESTIONS[name])
        assert answer.kind != "nothing", name
        first = (answer.excerpts or answer.closest)[0]
        assert (first.start, first.end) == (clean_first.start, clean_first.end), name
    for name in ("everyone", "here", "emoji", "markdown"):
        answer = storybot.ask(NAMED_QUESTIONS[name])
        assert answer.kind != "nothing" and (answer.excerpts or answer.closest), name


def test_refusals_are_clean(storybot):
    for name in ("empty", "whitespace", "10k characters", "10k one word", "only zero width"):
        with pytest.raises(QuestionError):
            storybot.ask(NAMED_QUESTIONS[name])
    assert ask_core(storybot, NAMED_QUESTIONS["just under the limit"]) is not None


@given(question=hostile_text)
@example(question="\ud800")
@example(question=ZEBRA + "\u2028# live?")
@settings(
    max_examples=deep_examples(150, 3000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_question_gets_an_answer_or_a_clean_refusal(storybot, question):
    answer = ask_core(storybot, question)
    if answer is not None:
        check_reply(answer)


def test_answers_quoting_hostile_source_text_are_escaped_and_fit(storybot):
    answer = storybot.ask(ZEBRA, k=10)
    assert answer.answered
    assert any(e.source.id == "hostile-notes" for e in answer.excerpts)
    check_reply(answer)
    embeds = E.excerpt_embeds(answer.excerpts)
    shown = "\n".join(f"{e.title}\n{e.description}" for e in embeds)
    assert "@\u200beveryone" in shown and "\\<@" in shown and "\\`\\`\\`" in shown
    for embed in embeds:
        for line in embed.description.splitlines():
            assert not re.match(r"> \s*([-#>]|\d+\.\s)", line), line


# -- the Discord handlers ----------------------------------------------------------------------


def run_ask(cog: AskCog, question: str) -> list[dict]:
    interaction = mock_interaction(mock_member())

    async def go() -> None:
        await invoke(cog.ask, cog, interaction, question)

    asyncio.run(go())
    calls = sends(interaction)
    assert len(calls) == 1, calls
    try:
        clean_or_refuse(without_discord_syntax(question))
        refused = False
    except QuestionError:
        refused = True
    if refused:
        assert calls[0]["ephemeral"] is True and "question" in calls[0]["content"]
        interaction.response.defer.assert_not_awaited()
    else:
        interaction.response.defer.assert_awaited_once_with(thinking=True)
        assert calls[0]["content"].startswith("**Q:** ")
    return calls


def run_message(cog: AskCog, content: str, *, mention: bool) -> list[dict]:
    message = mock_message(
        f"<@{ME.id}> {content}" if mention else content,
        channel_id=None if mention else QA_CHANNEL,
        mentions=[ME] if mention else [],
    )
    asyncio.run(cog.on_message(message))
    calls = sends(message)
    assert len(calls) <= 1, calls
    for kwargs in calls:
        assert kwargs.get("content") != SORRY, "the handler failed (see the log)"
        assert kwargs["mention_author"] is False
    return calls


def check_discord(cog: AskCog, question: str) -> None:
    for kwargs in run_ask(cog, question):
        check_send(kwargs)
        if kwargs["content"].startswith("**Q:**"):
            asked = cog.bot.storybot.ask(without_discord_syntax(question))
            check_echo(kwargs["content"], asked.question)
    calls = run_message(cog, f"<@{ME.id}> {question}", mention=True)
    assert len(calls) == 1
    for kwargs in calls:
        check_send(kwargs)
    for kwargs in run_message(cog, question, mention=False):
        check_send(kwargs)


@pytest.mark.parametrize("name", NAMED_QUESTIONS)
def test_named_hostile_questions_on_discord(cog, name):
    check_discord(cog, NAMED_QUESTIONS[name])


@given(question=hostile_text)
@example(question=ZEBRA)
@example(question=f"<@{ME.id}>")  # a bare mention inside the question
@settings(
    max_examples=deep_examples(60, 1000),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_question_on_discord(cog, question):
    check_discord(cog, question)


def test_mentions_in_a_question_do_not_hide_it(cog):
    """Mentioning members, roles or channels in a question is not asking about them."""
    plain = run_ask(cog, "Who directed Cuties?")[0]["embeds"]
    for noisy in (
        "<@123456789012345678> <@!1> who directed Cuties?",
        "who directed <#123456789012345678> Cuties <@&123456789012345678>?",
        "<:cuties:123> <t:1600000000:R> </ask:123> who directed Cuties?",
    ):
        sent = run_ask(cog, noisy)[0]
        assert [e.to_dict() for e in sent["embeds"]] == [e.to_dict() for e in plain], noisy
        (reply,) = run_message(cog, f"<@{ME.id}> {noisy}", mention=True)
        assert [e.to_dict() for e in reply["embeds"]] == [e.to_dict() for e in plain], noisy
    (reply,) = run_message(cog, "<@123> who directed Cuties?", mention=False)
    assert "embeds" in reply


def test_bare_mention_with_only_noise_gets_the_hint(cog):
    calls = run_message(cog, f"<@{ME.id}> \u200b \x00 \u2028", mention=True)
    # Noise only: either the hint or the "please type a question" refusal, never a failure.
    (kwargs,) = calls
    check_send(kwargs)
    assert kwargs["content"] == MENTION_HINT or "question" in kwargs["content"]


# -- hostile source text rendered ----------------------------------------------------------------


# A URL glued to markdown: escape_markdown leaves URLs unescaped (Discord links them as they
# stand), so what shows there is up to Discord's URL rule, not this oracle.
URL_GLUED_TO_MARKUP = re.compile(r"://\S*[*_~|`<]")


def normalised(text: str) -> str:
    """What a block quote can show of ``text``: line breaks as '\\n', lines right-stripped,
    blank runs as one blank line; a zero-width space after '@' is what escaping adds anyway."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).replace("@\u200b", "@")


source_text = st.lists(st.sampled_from(PIECES), min_size=1, max_size=120).map("".join)


@given(text=source_text, data=st.data())
@settings(max_examples=deep_examples(200, 3000), deadline=None)
def test_hostile_source_text_is_quoted_verbatim_escaped(text, data):
    assume(text.strip() and not URL_GLUED_TO_MARKUP.search(text))
    src = source("s", text)
    words = tuple((m.start(), m.end()) for m in re.finditer(r"[A-Za-z]+", text))
    highlights = tuple(data.draw(st.lists(st.sampled_from(words), unique=True))) if words else ()
    excerpt = Excerpt(src, 0, len(text), 1.0, 1.0, highlights=tuple(sorted(highlights)))
    quoted = E.quote(excerpt, M.DESCRIPTION_LIMIT)
    assert len(quoted) <= M.DESCRIPTION_LIMIT
    assert unrender(quoted) == normalised(text)
    assert live_mention(quoted) is None
    for line in quoted.splitlines():
        body = line.removeprefix(">").removeprefix(" ")
        assert not re.match(r"\s*([-#>]|\d+\.\s)", body), line


@given(
    texts=st.lists(source_text, min_size=1, max_size=12),
    title=hostile_text.filter(encodable),
    publisher=hostile_text.filter(encodable),
    url=st.sampled_from(
        ["", "https://e.example/a?b=<@1>", "javascript:x", "https://x/" + "a" * 3000]
    ),
)
@settings(max_examples=deep_examples(100, 1500), deadline=None)
def test_excerpt_embeds_of_hostile_sources_fit(texts, title, publisher, url):
    excerpts = []
    for i, text in enumerate(texts):
        text = text * (1 + 5000 // max(1, len(text))) if i % 3 == 0 else text  # some huge
        src = source(f"s{i}", text, title=title or "t", publisher=publisher, url=url)
        excerpts.append(Excerpt(src, 0, len(text), 1.0, 1.0))
    embeds = E.excerpt_embeds(excerpts)
    check_embeds(embeds)
    assert len(embeds) == min(len(excerpts), M.EMBEDS_LIMIT)
    check_send(E.Reply(embeds=tuple(embeds)).kwargs())


@given(title=hostile_text.filter(encodable), added_by=hostile_text.filter(encodable))
@settings(max_examples=deep_examples(100, 1500), deadline=None)
def test_sources_page_of_hostile_sources_fits(title, added_by):
    srcs = [
        source(f"s-{i}", "x", title=title or "t", publisher=title, added_by=added_by)
        for i in range(30)
    ]
    for page in range(6):
        embed, _ = E.sources_page(srcs, page)
        check_embeds([embed])


def test_no_answer_reply_with_huge_question_fits():
    answer = Answer("@everyone " * 200 + "<@&1>" * 100, False, reason="weak_match")
    for show in (True, False):
        check_send(E.answer_reply(answer, show_question=show).kwargs())
