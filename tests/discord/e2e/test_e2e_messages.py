"""Questions in messages, end to end: a mention of the bot, a question in a Q&A channel (or a
thread of one), and everything that must get no reply."""

from __future__ import annotations

from bot.discord.cogs.ask import MENTION_HINT
from helpers import ANSWERED


async def barrier(double) -> None:
    """Wait until the bot has handled every event sent so far: it answers a /help sent after
    them (events are read in order, and a message handler's first step runs before it)."""
    interaction = await double.slash(double.member("barrier"), "help")
    await double.reply(interaction)


async def test_a_mention_is_answered_as_a_reply_that_pings_no_one(double, bot):
    ana = double.member("ana")
    question = await double.say(ana, ANSWERED, mention=True)
    (reply,) = await double.replies_to(question)
    assert reply.embeds[0]["author"]["name"] == "Festival Daily"
    assert reply.labels() == ["More", "Helpful", "Not helpful", "Delete"]
    payload = next(r.body for r in double.requests if r.path.endswith("/messages"))
    assert payload["allowed_mentions"] == {"parse": [], "replied_user": False}
    typing = [r for r in double.requests if r.path == f"/channels/{double.general.id}/typing"]
    assert typing, "no typing indicator while answering"
    (row,) = bot.storybot.question_log.rows()
    assert (row["question"], row["server"]) == (ANSWERED, str(double.guild_id))
    # The same answer as /ask gives (which shows the question above it).
    by_slash = await double.reply(await double.slash(ana, "ask", question=ANSWERED))
    assert reply.embeds == by_slash.embeds


async def test_a_bare_mention_gets_a_hint(double, bot):
    question = await double.say(double.member("ana"), "", mention=True)
    (reply,) = await double.replies_to(question)
    assert reply.content == MENTION_HINT and reply.components == []


async def test_questions_in_the_qa_channel_and_its_threads_need_no_mention(double, bot):
    for channel in (double.qa, double.qa_thread):
        question = await double.say(double.member("ana"), ANSWERED.lower(), channel)
        (reply,) = await double.replies_to(question)
        assert reply.channel_id == channel.id and reply.embeds


async def test_chat_and_questions_elsewhere_get_no_reply(double, bot):
    ana = double.member("ana")
    ignored = [
        await double.say(ana, "thanks, that helps", double.qa),  # chat, not a question
        await double.say(ana, ANSWERED, double.general),  # a question without a mention
    ]
    # A reply to the bot lists it in mentions, but the text mentions no one.
    ignored.append(await double.say(ana, "thanks!", double.general, mentions=(double.me,)))
    # Other bots are never answered, even when they ask the bot.
    ignored.append(await double.say(double.member("otherbot", bot=True), ANSWERED, mention=True))
    await barrier(double)
    assert [double.replies(m) for m in ignored] == [[]] * len(ignored)


async def test_without_the_message_content_intent_mentions_still_work(double, harness):
    double.message_content_enabled = False
    bot = await harness.start(harness.engine(discord={"qa_channel_ids": []}))
    assert not bot.client.intents.message_content
    question = await double.say(double.member("ana"), ANSWERED, mention=True)
    (reply,) = await double.replies_to(question)
    assert reply.embeds
