"""The real slash-command callbacks and listeners, driven with mocks of real discord classes.

What a member or moderator sees through Discord (answers, buttons, messages, /sources, /help,
/stats, the /source commands, sync) is tested end to end in ``e2e/``, against a local double of
Discord; here are the cases that need an injected clock, a broken part, or many refusals.
"""

from __future__ import annotations

import logging
from pathlib import Path

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
    sends,
)
from web_server import serve

from bot.discord import markdown as M
from bot.discord.checks import is_moderator
from bot.discord.client import intents_for
from bot.discord.cogs.ask import AskCog
from bot.discord.cogs.sources import SourcesCog
from bot.discord.cooldown import UserCooldowns
from bot.discord.errors import SORRY, on_app_command_error
from helpers import ANSWERED, FESTIVAL, HOSTILE

web = pytest.fixture(serve)
QA_CHANNEL = 1_200_000_000_000_000_001
EDITORS_ID = 1_200_000_000_000_000_002


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


async def test_removing_an_unknown_id_is_a_private_refusal(sources_cog, storybot):
    before = corpus_state(storybot)
    interaction = mock_interaction(moderator())
    await invoke(sources_cog.remove, sources_cog, interaction, "no-such-source")
    sent = only(sends(interaction))
    assert sent["ephemeral"] is True and sent["content"].startswith("Not removed")
    assert corpus_state(storybot) == before


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


async def test_slow_work_runs_after_the_interaction_is_deferred(
    ask_cog, sources_cog, client, monkeypatch
):
    interaction = mock_interaction(moderator())
    deferred_when_called = []
    curation = client.storybot.open_story.curation  # where the ingestor stores sources
    real_ask, real_add = client.storybot.ask, curation.add_source

    def ask(question, k=None, **log):
        deferred_when_called.append(interaction.response.is_done())
        return real_ask(question, k, **log)

    def add_source(*args, **kwargs):
        deferred_when_called.append(interaction.response.is_done())
        return real_add(*args, **kwargs)

    monkeypatch.setattr(client.storybot, "ask", ask)
    monkeypatch.setattr(curation, "add_source", add_source)
    await invoke(ask_cog.ask, ask_cog, interaction, ANSWERED)
    interaction = mock_interaction(moderator())
    attachment = mock_attachment("n.txt", b"New text about the film.")
    await invoke(sources_cog.add_file, sources_cog, interaction, attachment, "New")
    assert deferred_when_called == [True, True]


def test_tree_errors_go_to_the_handler(client):
    assert client.tree.on_error is on_app_command_error


# -- /source add url: (web ingestion) -------------------------------------------------------------


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


async def test_add_file_with_a_published_date_that_is_no_date_is_refused(sources_cog, storybot):
    before = corpus_state(storybot)
    interaction = mock_interaction(moderator())
    attachment = mock_attachment("note.txt", b"The jury met again on Tuesday about the prize. " * 4)
    await sources_cog.add_file.callback(
        sources_cog, interaction, attachment, "Note", published="last tuesday"
    )
    sent = only(sends(interaction))
    assert sent["content"].startswith("Not added") and "2020-09-10" in sent["content"]
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
