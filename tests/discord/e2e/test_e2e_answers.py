"""Answers and their buttons, end to end: /ask and mentions answered through the real client,
every button pressed by the asker and by someone else, 16 minutes later (the answer's own
token has expired) and after a restart (a new process on the same state directory)."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime, timedelta

from bot.discord.embeds import excerpt_embeds
from bot.discord.views import (
    ALREADY_VOTED,
    GONE,
    NO_MORE,
    NOT_ASKER,
    NOT_RECORDED,
    THANKS,
)
from bot.presentation import NOTHING, reply_line
from helpers import ANSWERED, UNANSWERED

from .discord_double import EPHEMERAL, TOKEN_LIFETIME

BUTTONS = ["More", "Helpful", "Not helpful", "Delete"]


async def ask(double, member, question=ANSWERED, channel=None):
    interaction = await double.slash(member, "ask", channel=channel, question=question)
    return await double.reply(interaction)


async def press(double, member, message, label):
    """Press ``label``; the message the press showed the member (e.g. a private reply)."""
    return await double.reply(await double.click(member, message, label))


def answer_id(message) -> int:
    ids = {
        int(re.fullmatch(r"sb:answer:[a-z-]+:(\d+)", b["custom_id"])[1]) for b in message.buttons()
    }
    (only,) = ids
    return only


def private_to(message, member) -> bool:
    return bool(message.flags & EPHEMERAL) and message.visible_to == member.id


async def test_ask_is_deferred_then_answered_with_quotes_and_buttons(double, bot, caplog):
    caplog.set_level(logging.INFO, logger="bot.discord")
    ana = double.member("ana")
    interaction = await double.slash(ana, "ask", question=ANSWERED)
    reply = await double.reply(interaction)
    assert interaction.callback_type == 5  # "thinking..." first: retrieval runs after
    assert not reply.flags & EPHEMERAL
    assert reply.content == f"**Q:** {ANSWERED}"
    (embed,) = reply.embeds
    assert embed["title"] == "[1] Sundance honours Doucouré"
    assert embed["url"].startswith("https://festival.example/2020/prize#:~:text=The%20Sundance")
    assert embed["author"]["name"] == "Festival Daily"
    assert embed["description"].startswith("> The **Sundance** **jury** **awarded**")
    assert "not generated" in embed["footer"]["text"]
    assert reply.labels() == BUTTONS
    stored = bot.storybot.stored_answer(answer_id(reply))
    assert (stored.question, stored.shown, stored.via_interaction) == (ANSWERED, 1, True)
    assert all(len(b["custom_id"]) <= 100 for b in reply.buttons())
    # Logged once the reply is sent, which the double sees first.
    logged = r"/ask user=\d+ answered with 1 excerpt\(s\) in \d+ ms"
    await double.wait_for(lambda: re.search(logged, caplog.text))


async def test_a_blank_question_is_refused_privately_without_deferring(double, bot):
    interaction = await double.slash(double.member("ana"), "ask", question="   ")
    reply = await double.reply(interaction)
    assert interaction.callback_type == 4 and reply.flags & EPHEMERAL
    assert "/ask question:" in reply.content and reply.components == []


async def test_without_storage_for_its_buttons_the_answer_is_still_posted(double, bot, caplog):
    def broken(**fields):
        raise OSError("disk full")

    bot.storybot.answers.save = broken
    reply = await ask(double, double.member("ana"))
    assert reply.embeds and reply.components == []
    assert "disk full" in caplog.text


async def test_an_off_topic_question_gets_nothing_and_no_quote(double, bot):
    reply = await ask(double, double.member("ana"), UNANSWERED)
    assert NOTHING in reply.content and "/sources" in reply.content
    assert reply.embeds == []
    assert reply.labels() == ["Helpful", "Not helpful", "Delete"]


async def test_a_reply_not_sure_shows_the_closest_passages_in_the_reply(double, bot):
    """An on-topic question the sources do not answer: one plain line, and the closest
    passages right in the reply (no button to press)."""
    question = "How old was the Sundance jury?"
    expected = bot.storybot.ask(question)
    assert expected.kind == "closest"  # a pin of the shipped models' judgement
    reply = await ask(double, double.member("ana"), question)
    assert reply.content.splitlines()[-1] == reply_line(expected)
    assert [e["description"] for e in reply.embeds] == [
        d["description"] for d in (e.to_dict() for e in excerpt_embeds(expected.closest))
    ]
    assert reply.labels() == ["Helpful", "Not helpful", "Delete"]


async def test_quoted_markdown_and_mentions_arrive_escaped(double, bot):
    reply = await ask(double, double.member("ana"), "What did the zebra keeper tell?")
    (embed,) = reply.embeds
    # Author names are plain text on Discord (no markdown, no mentions): shown as stored.
    assert embed["author"]["name"] == "Zoo <@456> Times"
    shown = embed["title"] + embed["description"]
    assert "@\u200beveryone" in shown and "\\<@123>" in shown
    assert not re.search(r"(?<!\\)<@\d+>", shown)
    assert "\\*\\*shouted\\*\\*" in shown and "\\|\\|" in shown and "\\_\\_anger\\_\\_" in shown
    assert embed["title"] == "[1] Zoo \\*\\*news\\*\\* @\u200bhere"


async def test_more_pages_privately_for_anyone_each_page_with_its_own_more(double, harness):
    """Paging, with the lexical ranking: its excerpts have no relevance floor, so the small test
    corpus has pages to turn (with the semantic layer More shows only excerpts relevant on
    their own; tests/search/test_semantic.py)."""
    await harness.start(harness.engine(semantic={"enabled": False}))
    ana, bo = double.member("ana"), double.member("bo")
    answer = await ask(double, ana)
    numbers, message = [], answer
    for _ in range(12):
        page = await press(double, bo, message, "More")
        assert private_to(page, bo)
        if page.content == NO_MORE:
            break
        numbers += [number(e) for e in page.embeds]
        assert page.labels() == ["More"]
        message = page
    else:
        raise AssertionError("More never ran out")
    assert len(numbers) >= 2 and numbers == list(range(2, 2 + len(numbers)))
    # Stateless: the asker pressing the answer's More gets the same first page.
    again = await press(double, ana, answer, "More")
    assert [number(e) for e in again.embeds] == [2] and private_to(again, ana)


def number(embed: dict) -> int:
    return int(embed["title"][1 : embed["title"].index("]")])


async def test_votes_count_once_per_member_and_store_no_ids(double, bot):
    ana, bo = double.member("ana"), double.member("bo")
    answer = await ask(double, ana)
    first = await press(double, bo, answer, "Helpful")
    assert first.content == THANKS and private_to(first, bo)
    assert (await press(double, bo, answer, "Not helpful")).content == ALREADY_VOTED
    assert (await press(double, ana, answer, "Not helpful")).content == THANKS
    (row,) = bot.storybot.question_log.rows()
    assert (row["question"], row["helpful"], row["not_helpful"]) == (ANSWERED, 1, 1)
    assert row["server"] == str(double.guild_id)
    database = (bot.storybot.config.state_dir / "storybot.sqlite3").read_bytes()
    for member in (ana, bo):
        assert str(member.id).encode() not in database


async def test_votes_without_question_logging_are_thanked_but_not_recorded(double, harness):
    bot = await harness.start(harness.engine(stats={"log_questions": False}))
    answer = await ask(double, double.member("ana"))
    assert (await press(double, double.member("bo"), answer, "Helpful")).content == NOT_RECORDED
    assert bot.storybot.question_log.rows() == []


async def test_only_the_asker_deletes_and_through_the_webhook_route(double, bot):
    ana, bo = double.member("ana"), double.member("bo")
    answer = await ask(double, ana)
    refusal = await press(double, bo, answer, "Delete")
    assert refusal.content == NOT_ASKER and private_to(refusal, bo)
    assert not answer.deleted
    click = await double.click(ana, answer, "Delete")
    await double.wait_for(lambda: answer.deleted)
    deletes = [r for r in double.requests if r.method == "DELETE"]
    assert [r.path for r in deletes] == [
        f"/webhooks/{double.application_id}/{click.token}/messages/@original"
    ]
    await double.wait_for(lambda: bot.storybot.stored_answer(answer_id(answer)) is None)


async def test_an_answer_in_a_channel_the_bot_cannot_see_is_deleted_all_the_same(double, bot):
    ana = double.member("ana")
    answer = await ask(double, ana, channel=double.private)
    assert answer.labels() == BUTTONS
    await double.click(ana, answer, "Delete")
    await double.wait_for(lambda: answer.deleted)
    assert not [r for r in double.requests if r.status == 403]


async def test_a_mention_answer_is_deleted_through_the_channel(double, bot):
    ana = double.member("ana")
    question = await double.say(ana, ANSWERED, mention=True)
    (answer,) = await double.replies_to(question)
    assert answer.labels() == BUTTONS
    assert not bot.storybot.stored_answer(answer_id(answer)).via_interaction
    await double.click(ana, answer, "Delete")
    await double.wait_for(lambda: answer.deleted)
    (delete,) = [r for r in double.requests if r.method == "DELETE"]
    assert delete.path == f"/channels/{double.general.id}/messages/{answer.id}"


async def test_every_button_works_after_the_token_expired_and_after_a_restart(double, harness):
    # Lexical ranking, so that More has pages on the small test corpus (see the More test).
    bot = await harness.start(harness.engine(semantic={"enabled": False}))
    ana, bo, cy = double.member("ana"), double.member("bo"), double.member("cy")
    answer = await ask(double, ana)
    mention = await double.say(ana, ANSWERED, mention=True)
    (by_mention,) = await double.replies_to(mention)
    assert (await press(double, bo, answer, "Helpful")).content == THANKS

    double.advance(TOKEN_LIFETIME + 60)  # the /ask token has expired
    assert (await press(double, cy, answer, "Helpful")).content == THANKS
    assert (await press(double, cy, answer, "More")).embeds

    restarted = await harness.restart(bot)
    assert restarted.client is not bot.client
    assert (await press(double, bo, answer, "Not helpful")).content == ALREADY_VOTED
    assert (await press(double, ana, answer, "Not helpful")).content == THANKS
    page = await press(double, bo, answer, "More")
    assert page.embeds[0]["title"].startswith("[2] ")
    assert (await press(double, bo, answer, "Delete")).content == NOT_ASKER
    await double.click(ana, answer, "Delete")
    await double.click(ana, by_mention, "Delete")
    await double.wait_for(lambda: answer.deleted and by_mention.deleted)
    (row, _) = restarted.storybot.question_log.rows()
    assert (row["helpful"], row["not_helpful"]) == (2, 1)
    # Nothing tried to edit an answer with its own, expired token.
    assert not [r for r in double.requests if r.status == 401]


async def test_a_purged_answer_loses_its_buttons_and_says_why(double, bot):
    answer = await ask(double, double.member("ana"))
    later = datetime.now(UTC) + timedelta(days=bot.storybot.config.stats.retention_days + 1)
    assert bot.storybot.answers.purge(now=later) == 1
    told = await press(double, double.member("bo"), answer, "Helpful")
    assert told.content == GONE and told.flags & EPHEMERAL
    assert answer.components == []


async def test_fifty_questions_at_once_are_all_answered_in_time(double, bot):
    members = [double.member(f"m{i}") for i in range(50)]
    # The bot's default rate limit is per member: 50 members, one question each.
    interactions = await asyncio.gather(
        *(double.slash(m, "ask", question=ANSWERED) for m in members)
    )
    replies = await asyncio.gather(*(double.reply(i) for i in interactions))
    assert all(r.embeds and r.labels() == BUTTONS for r in replies)
    assert len({answer_id(r) for r in replies}) == 50
