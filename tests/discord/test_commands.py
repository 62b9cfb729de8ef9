"""The real slash-command callbacks and listeners, driven with mocks of real discord classes."""

from __future__ import annotations

import contextlib
import logging
import re
from pathlib import Path
from unittest.mock import MagicMock

import discord
import pytest
from discord import app_commands
from discord_mocks import (
    invoke,
    mock_attachment,
    mock_interaction,
    mock_member,
    mock_message,
    mock_role,
    mock_user,
    moderator,
    next_id,
    sends,
    texts,
)
from web_server import serve

from bot.discord import markdown as M
from bot.discord.checks import REFUSAL, is_moderator
from bot.discord.client import StoryDiscordBot, intents_for
from bot.discord.cogs.ask import MENTION_HINT, AskCog
from bot.discord.cogs.sources import SourcesCog
from bot.discord.cooldown import UserCooldowns
from bot.discord.errors import SORRY, on_app_command_error
from bot.discord.views import (
    ALREADY_VOTED,
    NO_MORE,
    NOT_ASKER,
    NOT_RECORDED,
    THANKS,
    AnswerView,
    SourcesView,
)
from bot.presentation import NO_ANSWER
from helpers import source

web = pytest.fixture(serve)
QA_CHANNEL = 1_200_000_000_000_000_001
EDITORS_ID = 1_200_000_000_000_000_002

FESTIVAL = source(
    "sundance-prize",
    "The Sundance jury awarded Maïmouna Doucouré the World Cinema directing prize in January "
    "2020. The prize honoured her first feature film.\n\n"
    "Critics at the festival praised the young cast. The cast had never acted before.",
    title="Sundance honours Doucouré",
    publisher="Festival Daily",
    url="https://festival.example/2020/prize",
)
HOSTILE = source(
    "hostile-post",
    "The zebra keeper told @everyone to look at <@123> and **shouted** about the ||zebra "
    "enclosure|| with __anger__.",
    title="Zoo **news** @here",
    publisher="Zoo <@456> Times",
)
ANSWERED = "Which prize did the Sundance jury award?"
UNANSWERED = "What is the capital of Mongolia?"


@pytest.fixture
def storybot(make_bot):
    return make_bot(
        FESTIVAL,
        HOSTILE,
        config={
            "discord": {"qa_channel_ids": [QA_CHANNEL], "moderator_roles": [str(EDITORS_ID)]},
            "retrieval": {"top_k": 1},
            "fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0},
        },
    )


@pytest.fixture
def ask_cog(client):
    return AskCog(client)


@pytest.fixture
def sources_cog(client):
    return SourcesCog(client)


def corpus_state(storybot) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in Path(storybot.config.corpus_dir).iterdir()}


def assert_no_mentions(calls: list[dict]) -> None:
    assert calls, "nothing was sent"
    for kwargs in calls:
        allowed = kwargs.get("allowed_mentions")
        assert allowed is not None, f"a send without allowed_mentions: {kwargs}"
        assert allows_nothing(allowed), allowed


def allows_nothing(allowed: discord.AllowedMentions) -> bool:
    flags = (allowed.everyone, allowed.users, allowed.roles, allowed.replied_user)
    return allowed.to_dict() == {"parse": []} and not any(flags)


def only(calls: list[dict]) -> dict:
    assert len(calls) == 1, calls
    return calls[0]


# -- /ask ----------------------------------------------------------------------------------------


async def test_ask_defers_then_answers_with_attributed_quotes(ask_cog, caplog):
    interaction = mock_interaction()
    with caplog.at_level(logging.INFO, logger="bot.discord"):
        await invoke(ask_cog.ask, ask_cog, interaction, ANSWERED)

    interaction.response.defer.assert_awaited_once_with(thinking=True)
    sent = only(sends(interaction))
    assert_no_mentions([sent])
    assert ANSWERED in sent["content"]
    (embed,) = sent["embeds"]
    assert embed.title == "[1] Sundance honours Doucouré"
    assert embed.url.startswith("https://festival.example/2020/prize#:~:text=The%20Sundance")
    assert embed.author.name == "Festival Daily"
    assert embed.description.startswith("> The **Sundance** **jury** **awarded**")
    assert "not generated" in embed.footer.text
    assert sum(len(e) for e in sent["embeds"]) <= M.EMBED_TOTAL_LIMIT
    view = sent["view"]
    assert isinstance(view, AnswerView)
    assert [c.label for c in view.children] == ["More", "Helpful", "Not helpful", "Delete"]
    assert view.message is interaction.followup.send.return_value
    assert re.search(r"/ask user=\d+ answered with 1 excerpt\(s\) in \d+ ms", caplog.text)


async def test_ask_without_an_answer_says_so_briefly(ask_cog):
    interaction = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, interaction, UNANSWERED)
    sent = only(sends(interaction))
    assert NO_ANSWER in sent["content"] and "/sources" in sent["content"]
    assert "embeds" not in sent  # no quotes of noise
    assert [c.label for c in sent["view"].children] == ["Helpful", "Not helpful", "Delete"]
    assert_no_mentions([sent])


async def test_blank_question_is_refused_privately(ask_cog):
    interaction = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, interaction, "   ")
    sent = only(sends(interaction))
    assert sent["ephemeral"] is True and "/ask question:" in sent["content"]
    interaction.response.defer.assert_not_awaited()


async def test_source_text_with_mentions_and_markdown_renders_escaped(ask_cog):
    interaction = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, interaction, "What did the zebra keeper tell?")
    sent = only(sends(interaction))
    # Author names are plain text on Discord (no markdown, no mentions): shown as stored.
    assert sent["embeds"][0].author.name == "Zoo <@456> Times"
    sent["embeds"][0].remove_author()
    shown = texts(sent)
    assert "@\u200beveryone" in shown and "\\<@123>" in shown
    assert not re.search(r"(?<!\\)<@\d+>", shown)
    assert not re.search(r"@(everyone|here)", shown)
    assert "\\*\\*shouted\\*\\*" in shown and "\\|\\|" in shown and "\\_\\_anger\\_\\_" in shown
    assert sent["embeds"][0].title == "[1] Zoo \\*\\*news\\*\\* @\u200bhere"
    assert_no_mentions([sent])


async def test_cooldown_per_user_with_private_notice(ask_cog, client, monkeypatch):
    now = [1000.0]
    client.cooldowns = UserCooldowns(2, 30, clock=lambda: now[0])
    asked = []
    real_ask = client.storybot.ask
    monkeypatch.setattr(
        client.storybot, "ask", lambda q, k=None, **log: asked.append(q) or real_ask(q, k, **log)
    )
    user = mock_member()
    for _ in range(2):
        await invoke(ask_cog.ask, ask_cog, mock_interaction(user), ANSWERED)
    blocked = mock_interaction(user)
    await invoke(ask_cog.ask, ask_cog, blocked, ANSWERED)
    sent = only(sends(blocked))
    assert sent["ephemeral"] is True and "wait 30 s" in sent["content"]
    blocked.response.defer.assert_not_awaited()
    assert len(asked) == 2
    other = mock_interaction()  # another member is not limited
    await invoke(ask_cog.ask, ask_cog, other, ANSWERED)
    assert "embeds" in only(sends(other))
    now[0] += 30.5
    later = mock_interaction(user)
    await invoke(ask_cog.ask, ask_cog, later, ANSWERED)
    assert "embeds" in only(sends(later))


# -- mentions and Q&A channels ----------------------------------------------------------------


async def test_mention_gets_the_same_answer_as_a_reply(ask_cog, client):
    me = client.user
    message = mock_message(f"<@{me.id}> {ANSWERED}", mentions=[me])
    await ask_cog.on_message(message)
    sent = only(sends(message))
    assert sent["mention_author"] is False
    assert_no_mentions([sent])
    interaction = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, interaction, ANSWERED)
    by_slash = only(sends(interaction))["embeds"]
    assert [e.to_dict() for e in sent["embeds"]] == [e.to_dict() for e in by_slash]
    assert sent["view"].asker_id == message.author.id
    message.channel.typing.assert_called_once()


async def test_bare_mention_gets_a_hint(ask_cog, client):
    message = mock_message(f"<@!{client.user.id}>", mentions=[client.user])
    await ask_cog.on_message(message)
    assert only(sends(message))["content"] == MENTION_HINT


async def test_question_in_qa_channel_is_answered_without_mention(ask_cog):
    message = mock_message(ANSWERED.lower(), channel_id=QA_CHANNEL)
    await ask_cog.on_message(message)
    sent = only(sends(message))
    assert sent["embeds"][0].author.name == "Festival Daily"
    assert_no_mentions([sent])


async def test_question_in_a_thread_of_the_qa_channel_is_answered(ask_cog):
    message = mock_message(ANSWERED)
    thread = MagicMock(spec_set=discord.Thread)
    thread.id, thread.parent_id = next_id(), QA_CHANNEL
    thread.typing.return_value = contextlib.nullcontext()
    message.channel = thread
    await ask_cog.on_message(message)
    assert "embeds" in only(sends(message))


@pytest.mark.parametrize(
    ("content", "channel"),
    [
        ("thanks, that helps", QA_CHANNEL),  # chat in the Q&A channel, not a question
        (ANSWERED, 42),  # a question elsewhere, without a mention
    ],
)
async def test_other_messages_are_ignored(ask_cog, content, channel):
    message = mock_message(content, channel_id=channel)
    await ask_cog.on_message(message)
    message.reply.assert_not_awaited()


async def test_bots_are_ignored(ask_cog, client):
    message = mock_message(
        f"<@{client.user.id}> {ANSWERED}", author=mock_member(bot=True), mentions=[client.user]
    )
    await ask_cog.on_message(message)
    message.reply.assert_not_awaited()


async def test_failure_while_answering_a_message_is_logged_and_reported(
    ask_cog, client, monkeypatch, caplog
):
    def broken(question, k=None, **log):
        raise RuntimeError("index exploded")

    monkeypatch.setattr(client.storybot, "ask", broken)
    message = mock_message(ANSWERED, channel_id=QA_CHANNEL)
    await ask_cog.on_message(message)
    assert only(sends(message))["content"] == SORRY
    assert "index exploded" in caplog.text


# -- buttons --------------------------------------------------------------------------------------


async def answer_view(ask_cog, asker) -> AnswerView:
    interaction = mock_interaction(asker)
    await invoke(ask_cog.ask, ask_cog, interaction, ANSWERED)
    return only(sends(interaction))["view"]


async def test_only_the_asker_can_delete(ask_cog):
    asker = mock_member()
    view = await answer_view(ask_cog, asker)
    answer_message = mock_message("")
    stranger = mock_interaction(mock_member(), message=answer_message)
    await view.delete.callback(stranger)
    assert only(sends(stranger))["content"] == NOT_ASKER
    assert only(sends(stranger))["ephemeral"] is True
    answer_message.delete.assert_not_awaited()
    mine = mock_interaction(asker, message=answer_message)
    await view.delete.callback(mine)
    answer_message.delete.assert_awaited_once()


async def test_more_shows_the_next_excerpts_then_says_there_are_no_more(ask_cog):
    view = await answer_view(ask_cog, mock_member())
    presser = mock_member()
    pages = []
    for _ in range(12):
        interaction = mock_interaction(presser, message=mock_message(""))
        await view.more.callback(interaction)
        interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
        sent = only(sends(interaction))
        assert sent["ephemeral"] is True
        assert_no_mentions([sent])
        if sent.get("content") == NO_MORE:
            break
        pages.append(sent["embeds"])
    else:
        pytest.fail("More never ran out")
    assert len(pages) >= 2
    numbers = [int(e.title[1 : e.title.index("]")]) for page in pages for e in page]
    assert numbers == list(range(2, 2 + len(numbers)))
    spans = view.seen_by(presser.id)  # what this member has seen, first answer included
    assert len(spans) == 1 + len(numbers)
    for i, (sid, start, end) in enumerate(spans):
        for other, b, e in spans[i + 1 :]:
            assert other != sid or end <= b or e <= start, "More repeated a passage"


async def test_questions_and_votes_go_to_the_question_log(ask_cog, storybot):
    interaction = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, interaction, ANSWERED)
    view = only(sends(interaction))["view"]
    (row,) = storybot.question_log.rows()
    assert row["question"] == ANSWERED and row["answered"] == 1
    assert row["server"] == str(interaction.guild_id)
    assert view.question_id == row["id"]

    message = mock_message("")
    voter = mock_member()
    first = mock_interaction(voter, message=message)
    await view.helpful.callback(first)
    assert only(sends(first))["content"] == THANKS
    again = mock_interaction(voter, message=message)
    await view.not_helpful.callback(again)  # one vote per member per answer
    assert only(sends(again))["content"] == ALREADY_VOTED
    await view.not_helpful.callback(mock_interaction(mock_member(), message=message))
    stats = storybot.stats()
    assert (stats.asked, stats.answered, stats.helpful, stats.not_helpful) == (1, 1, 1, 1)
    assert str(voter.id) not in repr([tuple(r) for r in storybot.question_log.rows()])


async def test_mention_questions_are_logged_with_their_server(ask_cog, client, storybot):
    message = mock_message(f"<@{client.user.id}> {UNANSWERED}", mentions=[client.user])
    await ask_cog.on_message(message)
    (row,) = storybot.question_log.rows()
    assert row["question"] == UNANSWERED and row["answered"] == 0
    assert row["server"] == str(message.guild.id)


async def test_a_broken_question_log_does_not_cost_the_answer(
    ask_cog, storybot, monkeypatch, caplog
):
    def broken(answer, server="", **fields):
        raise OSError("disk full")

    monkeypatch.setattr(storybot.question_log, "record", broken)
    interaction = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, interaction, ANSWERED)
    sent = only(sends(interaction))
    assert "embeds" in sent and sent["view"].question_id is None
    assert "disk full" in caplog.text
    vote = mock_interaction(message=mock_message(""))
    await sent["view"].helpful.callback(vote)
    assert only(sends(vote))["content"] == NOT_RECORDED


# -- /sources and /help ---------------------------------------------------------------------------


async def test_sources_lists_the_corpus_privately_with_paging(sources_cog, storybot):
    interaction = mock_interaction()
    await invoke(sources_cog.sources, sources_cog, interaction)
    sent = only(sends(interaction))
    assert sent["ephemeral"] is True
    assert_no_mentions([sent])
    embed = sent["embed"]
    assert embed.title == f"Sources ({len(storybot.sources)})"
    ids = " ".join(f.value for f in embed.fields)
    assert "sundance-prize" in ids and "seed-story" in ids
    assert isinstance(sent["view"], SourcesView)
    assert sent["view"].next.disabled  # three sources fit on one page


async def test_sources_view_pages(storybot):
    view = SourcesView([source(f"s-{i:02d}", "t") for i in range(15)])
    assert view.previous.disabled and not view.next.disabled
    interaction = mock_interaction()
    await view.next.callback(interaction)
    sent = only(sends(interaction))
    assert "s-06" in sent["embed"].fields[0].value
    assert sent["embed"].footer.text == "Page 2 of 3"
    assert_no_mentions([sent])


async def test_help_explains_asking(ask_cog):
    interaction = mock_interaction()
    await invoke(ask_cog.help, ask_cog, interaction)
    sent = only(sends(interaction))
    assert sent["ephemeral"] is True and "/ask" in texts(sent)
    assert len(sent["embed"]) <= M.EMBED_TOTAL_LIMIT


# -- moderators -------------------------------------------------------------------------------


def test_moderator_rules():
    assert is_moderator(mock_member(permissions=discord.Permissions(manage_guild=True)))
    assert is_moderator(mock_member(permissions=discord.Permissions(manage_messages=True)))
    assert not is_moderator(mock_member(permissions=discord.Permissions(send_messages=True)))
    editors = mock_member(roles=[mock_role("Editors", EDITORS_ID)])
    assert is_moderator(editors, ["editors"])
    assert is_moderator(editors, [str(EDITORS_ID)])
    assert not is_moderator(editors, ["Admins"])
    assert not is_moderator(mock_user(), ["Editors"])  # outside a server


async def test_non_moderator_cannot_add_and_corpus_is_unchanged(sources_cog, storybot):
    before, ids = corpus_state(storybot), [s.id for s in storybot.sources]
    attachment = mock_attachment("a.md", b"Aliens directed the film.")
    for user in (mock_member(), mock_user()):
        interaction = mock_interaction(user)
        await invoke(sources_cog.add_file, sources_cog, interaction, attachment, "Aliens")
        sent = only(sends(interaction))
        assert sent["content"] == REFUSAL and sent["ephemeral"] is True
    attachment.read.assert_not_awaited()
    assert corpus_state(storybot) == before
    assert [s.id for s in storybot.sources] == ids


async def test_non_moderator_cannot_remove_and_corpus_is_unchanged(sources_cog, storybot):
    before = corpus_state(storybot)
    interaction = mock_interaction(mock_member())
    await invoke(sources_cog.remove, sources_cog, interaction, "sundance-prize")
    assert only(sends(interaction))["content"] == REFUSAL
    assert corpus_state(storybot) == before
    assert "sundance-prize" in {s.id for s in storybot.sources}


async def test_moderator_adds_a_file_and_next_question_uses_it(sources_cog, ask_cog, storybot):
    question = "Which orchestra recorded the soundtrack?"
    before = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, before, question)
    assert NO_ANSWER in only(sends(before))["content"]

    text = (
        "# Score\n\nThe Lyon Philharmonic orchestra recorded the soundtrack in 2019.\n\n"
        "The composer wrote most of the music in Dakar over one winter, mixing traditional "
        "Senegalese songs with modern pop beats; the album came out a week before the film.\n"
    )
    interaction = mock_interaction(mock_member(roles=[mock_role("editors", EDITORS_ID)]))
    await sources_cog.add_file.callback(
        sources_cog,
        interaction,
        mock_attachment("score.md", text.encode()),
        "The score",
        publisher="Music Weekly",
        url="https://music.example/score",
    )
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    sent = only(sends(interaction))
    assert sent["ephemeral"] is True and "`the-score`" in sent["content"]
    assert "<https://music.example/score>" in sent["content"]  # no preview card
    assert_no_mentions([sent])
    stored = storybot.corpus.load().sources
    added = next(s for s in stored if s.id == "the-score")
    assert added.text == text and added.publisher == "Music Weekly"
    assert str(interaction.user.id) in added.added_by

    after = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, after, question)
    (embed,) = only(sends(after))["embeds"]
    assert embed.author.name == "Music Weekly"
    assert "Lyon Philharmonic" in embed.description


async def test_moderator_adds_html_as_extracted_text(sources_cog, storybot):
    html = (
        "<html><head><title>t</title></head><body><nav>Home | Sports | Login</nav>"
        "<article><h1>Premiere</h1><p>The premiere took place in Paris on a rainy evening in "
        "August, with the young cast present on the red carpet.</p><p>The director thanked "
        "the families of the cast for their support during the long shoot.</p></article>"
        "<footer>Copyright 2020</footer></body></html>"
    )
    interaction = mock_interaction(moderator())
    attachment = mock_attachment("premiere.html", html.encode())
    await invoke(sources_cog.add_file, sources_cog, interaction, attachment, "Premiere")
    assert "`premiere`" in only(sends(interaction))["content"]
    added = next(s for s in storybot.sources if s.id == "premiere")
    assert "rainy evening" in added.text
    assert "<p>" not in added.text and "Login" not in added.text


@pytest.mark.parametrize(
    ("filename", "data", "url", "why"),
    [
        ("paper.pdf", b"%PDF-1.4", "", "only"),
        ("notes.txt", b"\x00\x01\x02binary", "", "binary"),
        ("notes.txt", b"fine text", "ftp://x.example/a", "http"),
    ],
)
async def test_unusable_uploads_are_refused(sources_cog, storybot, filename, data, url, why):
    before = corpus_state(storybot)
    interaction = mock_interaction(moderator())
    attachment = mock_attachment(filename, data)
    await invoke(sources_cog.add_file, sources_cog, interaction, attachment, "T", url=url)
    sent = only(sends(interaction))
    assert sent["ephemeral"] is True and sent["content"].startswith("Not added")
    assert why in sent["content"]
    assert corpus_state(storybot) == before


async def test_moderator_removes_a_source_and_it_is_no_longer_quoted(
    sources_cog, ask_cog, storybot
):
    interaction = mock_interaction(moderator())
    await invoke(sources_cog.remove, sources_cog, interaction, "sundance-prize")
    sent = only(sends(interaction))
    assert sent["ephemeral"] is True and "Removed `sundance-prize`" in sent["content"]
    assert not (Path(storybot.config.corpus_dir) / "sundance-prize.txt").exists()
    after = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, after, ANSWERED)
    assert "Festival Daily" not in texts(only(sends(after)))


async def test_removing_an_unknown_id_is_a_private_refusal(sources_cog, storybot):
    before = corpus_state(storybot)
    interaction = mock_interaction(moderator())
    await invoke(sources_cog.remove, sources_cog, interaction, "no-such-source")
    sent = only(sends(interaction))
    assert sent["ephemeral"] is True and sent["content"].startswith("Not removed")
    assert corpus_state(storybot) == before


async def test_remove_autocomplete_offers_matching_ids(sources_cog):
    choices = await sources_cog.source_id_choices(mock_interaction(), "sund")
    assert [c.value for c in choices] == ["sundance-prize"]


def test_source_group_is_hidden_by_default_only_without_moderator_roles(make_bot, client):
    assert SourcesCog(client).source.default_permissions is None  # roles configured
    plain = StoryDiscordBot(make_bot(), sync_on_setup=False)
    assert SourcesCog(plain).source.default_permissions.manage_messages


# -- errors, mentions, intents, sync ---------------------------------------------------------


async def test_command_error_becomes_a_private_message_and_a_traceback(ask_cog, caplog):
    interaction = mock_interaction()
    interaction.command = ask_cog.ask
    await interaction.response.defer(thinking=True)
    error = app_commands.CommandInvokeError(ask_cog.ask, RuntimeError("boom"))
    await on_app_command_error(interaction, error)
    sent = only(sends(interaction))
    assert sent["content"] == SORRY and sent["ephemeral"] is True
    assert_no_mentions([sent])
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert record.exc_info and "boom" in str(record.exc_info[1])


async def test_expected_errors_get_a_specific_message(ask_cog):
    interaction = mock_interaction()
    interaction.command = ask_cog.ask
    cooldown = app_commands.CommandOnCooldown(app_commands.Cooldown(1, 10), 7.2)
    await on_app_command_error(interaction, cooldown)
    assert "7 s" in only(sends(interaction))["content"]


def test_client_default_allows_no_mentions(client):
    assert allows_nothing(client.allowed_mentions)


def test_intents_are_minimal(storybot, make_bot):
    with_qa = intents_for(storybot.config.discord)
    assert with_qa.message_content and with_qa.guilds and with_qa.guild_messages
    assert not (with_qa.members or with_qa.presences or with_qa.dm_messages)
    assert not intents_for(make_bot().config.discord).message_content


async def test_setup_hook_syncs_once_per_guild_and_on_ready_does_not(make_bot, monkeypatch):
    from unittest.mock import AsyncMock

    storybot = make_bot(config={"discord": {"guild_ids": [11, 22]}})
    bot = StoryDiscordBot(storybot)
    monkeypatch.setattr(StoryDiscordBot, "user", property(lambda self: discord.Object(id=5)))
    sync = AsyncMock(return_value=[])
    monkeypatch.setattr(bot.tree, "sync", sync)
    await bot.setup_hook()
    assert [c.kwargs["guild"].id for c in sync.await_args_list] == [11, 22]
    assert {c.name for c in bot.tree.get_commands(guild=discord.Object(id=11))} >= {
        "ask",
        "sources",
        "source",
        "help",
    }
    await bot.on_ready()
    assert sync.await_count == 2


async def test_setup_hook_syncs_globally_without_guild_ids(make_bot, monkeypatch):
    from unittest.mock import AsyncMock

    bot = StoryDiscordBot(make_bot())
    sync = AsyncMock(return_value=[])
    monkeypatch.setattr(bot.tree, "sync", sync)
    await bot.setup_hook()
    sync.assert_awaited_once_with()


async def test_slow_work_runs_after_the_interaction_is_deferred(
    ask_cog, sources_cog, client, monkeypatch
):
    interaction = mock_interaction(moderator())
    deferred_when_called = []
    real_ask, real_add = client.storybot.ask, client.storybot.add_source

    def ask(question, k=None, **log):
        deferred_when_called.append(interaction.response.is_done())
        return real_ask(question, k, **log)

    def add_source(*args, **kwargs):
        deferred_when_called.append(interaction.response.is_done())
        return real_add(*args, **kwargs)

    monkeypatch.setattr(client.storybot, "ask", ask)
    monkeypatch.setattr(client.storybot, "add_source", add_source)
    await invoke(ask_cog.ask, ask_cog, interaction, ANSWERED)
    interaction = mock_interaction(moderator())
    attachment = mock_attachment("n.txt", b"New text about the film.")
    await invoke(sources_cog.add_file, sources_cog, interaction, attachment, "New")
    assert deferred_when_called == [True, True]


def test_tree_errors_go_to_the_handler(client):
    assert client.tree.on_error is on_app_command_error


async def test_command_payloads_are_valid_for_discord(client):
    await client.setup_hook()  # sync_on_setup=False: adds the cogs only
    payloads = [c.to_dict(client.tree) for c in client.tree.get_commands()]
    assert {p["name"] for p in payloads} == {"ask", "help", "sources", "source", "stats"}
    source_group = next(p for p in payloads if p["name"] == "source")
    assert {o["name"] for o in source_group["options"]} == {"add", "add-file", "remove"}
    remove = next(o for o in source_group["options"] if o["name"] == "remove")
    assert remove["options"][0]["name"] == "id" and remove["options"][0]["autocomplete"]

    def walk(node):
        assert 1 <= len(node["description"]) <= 100
        for option in node.get("options", []):
            walk(option)

    for payload in payloads:
        walk(payload)


# -- /source add url: (web ingestion) -------------------------------------------------------------


async def test_moderator_adds_an_article_by_url_with_progress(sources_cog, ask_cog, web, storybot):
    interaction = mock_interaction(moderator())
    await invoke(sources_cog.add, sources_cog, interaction, web.url("/article?utm_source=x"))
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    calls = sends(interaction)
    assert_no_mentions(calls)
    progress = [c.kwargs["content"] for c in interaction.edit_original_response.call_args_list]
    assert progress and progress[0].startswith("0/1")
    final = interaction.followup.send.call_args
    text = final.args[0] if final.args else final.kwargs["content"]
    assert "`council-approves-harbour-bridge`" in text
    assert f"<{web.url('/article')}>" in text
    assert final.kwargs["ephemeral"] is True
    stored = next(s for s in storybot.sources if s.id == "council-approves-harbour-bridge")
    assert stored.publisher == "The Harbour Gazette"
    assert str(interaction.user.id) in stored.added_by

    asked = mock_interaction()
    await invoke(ask_cog.ask, ask_cog, asked, "How did the councillors vote on the bridge?")
    assert only(sends(asked))["embeds"][0].author.name == "The Harbour Gazette"

    again = mock_interaction(moderator())
    await invoke(sources_cog.add, sources_cog, again, web.url("/article"))
    refusal = again.followup.send.call_args
    assert "already in the corpus" in (refusal.args[0] if refusal.args else "")


async def test_non_moderator_cannot_add_by_url_and_nothing_is_fetched(sources_cog, web, storybot):
    before = corpus_state(storybot)
    interaction = mock_interaction(mock_member())
    await invoke(sources_cog.add, sources_cog, interaction, web.url("/article"))
    assert only(sends(interaction))["content"] == REFUSAL
    assert web.requests == []
    assert corpus_state(storybot) == before


async def test_private_addresses_are_refused(sources_cog, storybot):
    before = corpus_state(storybot)
    interaction = mock_interaction(moderator())
    await invoke(sources_cog.add, sources_cog, interaction, "http://10.1.2.3/internal")
    sent = interaction.followup.send.call_args
    assert sent.kwargs["ephemeral"] is True and sent.args[0].startswith("Not added")
    assert corpus_state(storybot) == before


async def test_add_file_with_a_url_already_in_the_corpus_is_refused(sources_cog, storybot):
    before = corpus_state(storybot)
    interaction = mock_interaction(moderator())
    attachment = mock_attachment("copy.txt", b"Something else entirely about the prize.")
    await sources_cog.add_file.callback(
        sources_cog, interaction, attachment, "Copy", url="https://festival.example/2020/prize"
    )
    sent = only(sends(interaction))
    assert sent["content"].startswith("Not added") and "sundance-prize" in sent["content"]
    assert corpus_state(storybot) == before


async def test_add_file_points_out_a_near_duplicate(sources_cog, storybot):
    interaction = mock_interaction(moderator())
    copy = FESTIVAL.text.replace("Critics", "Reviewers")  # nearly, not exactly, the same
    attachment = mock_attachment("again.txt", copy.encode())
    await invoke(sources_cog.add_file, sources_cog, interaction, attachment, "Same story")
    assert "nearly repeats `sundance-prize`" in only(sends(interaction))["content"]


async def test_add_by_url_can_follow_links(sources_cog, web, storybot):
    interaction = mock_interaction(moderator())
    await invoke(sources_cog.add, sources_cog, interaction, web.url("/article"), follow=1)
    text = interaction.followup.send.call_args.args[0]
    assert text.count("Added **") == 2
    assert len(text) <= M.CONTENT_LIMIT
    linked = [s for s in storybot.sources if s.extra.get("linked_from")]
    assert [s.extra["linked_from"] for s in linked] == ["council-approves-harbour-bridge"]


async def test_add_file_with_a_huge_url_and_title_still_confirms_within_limits(
    sources_cog, storybot
):
    url = "https://music.example/" + "a" * 1970
    title = "T" * 200
    interaction = mock_interaction(moderator())
    await sources_cog.add_file.callback(
        sources_cog,
        interaction,
        mock_attachment("long.md", b"A long-url source text, long enough to be a source. " * 3),
        title,
        url=url,
    )
    sent = only(sends(interaction))
    assert len(sent["content"]) <= M.CONTENT_LIMIT and "Added" in sent["content"]
    assert any(s.url.startswith("https://music.example/aaa") for s in storybot.sources)


async def test_a_reply_to_the_bot_is_not_a_question(ask_cog, client):
    # Discord lists the replied-to author in message.mentions; the text mentions nobody.
    message = mock_message("thanks!", mentions=[client.user])
    await ask_cog.on_message(message)
    assert sends(message) == []
