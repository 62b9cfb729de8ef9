"""The gateway end to end: heartbeats, Discord asking the bot to reconnect, a dropped
connection, an invalidated session, and the ways Discord ends a session for good; and the
whole `storybot run` command, from the command line to an answer."""

from __future__ import annotations

import asyncio

import pytest

from bot.cli import main
from bot.discord.runner import StartError
from helpers import ANSWERED

from .harness import TOKEN

RECONNECT = 7


async def answered(double) -> bool:
    interaction = await double.slash(double.member("ana"), "ask", question=ANSWERED)
    return bool((await double.reply(interaction)).embeds)


async def test_heartbeats_are_acknowledged_and_latency_is_measured(double, harness, caplog):
    double.heartbeat_interval_ms = 50
    bot = await harness.start()
    await double.wait_for(lambda: len(double.heartbeats) >= 4)
    # The double ACKs after 30 ms, so the measured latency cannot be below that.
    await double.wait_for(lambda: bot.client.latency != float("inf"))
    assert bot.client.latency >= 0.03
    assert "Can't keep up" not in caplog.text


async def test_a_reconnect_request_resumes_and_missed_events_are_replayed(double, bot):
    await double.send_op(RECONNECT)
    await double.wait_for(lambda: double.session.ws is None)
    # Asked while the bot is away: Discord keeps the event for the resumed session.
    interaction = await double.slash(double.member("ana"), "ask", question=ANSWERED)
    assert (await double.reply(interaction)).embeds
    assert double.connections == [("/gateway/", "IDENTIFY"), ("/resume/", "RESUME")]
    assert len(double.command_syncs) == 1  # no sync on reconnect


async def test_a_dropped_connection_resumes(double, bot):
    await double.drop_connection(code=4000)
    await double.wait_for(lambda: len(double.connections) == 2)
    assert double.connections[-1] == ("/resume/", "RESUME")
    assert await answered(double)


async def test_an_invalidated_session_identifies_again(double, bot):
    # discord.py waits 5 s before identifying again (Discord's identify rate limit): scaled.
    async def before_identify(shard_id, *, initial=False):
        await asyncio.sleep(0.05)

    bot.client.before_identify_hook = before_identify
    first = double.session
    await double.invalidate_session()
    assert await double.connected() is not first
    assert [op for _, op in double.connections] == ["IDENTIFY", "IDENTIFY"]
    assert await answered(double)
    assert len(double.command_syncs) == 1


async def test_a_revoked_token_stops_the_bot_with_a_message(double, bot):
    await double.drop_connection(code=4004)
    with pytest.raises(StartError, match="no longer valid"):
        await bot.task


async def test_a_wrong_token_is_refused_at_login(double, harness):
    double.token = "another-token"
    with pytest.raises(StartError, match="rejected the token"):
        await harness.start()


async def test_qa_channels_without_the_privileged_intent_say_what_to_enable(double, harness):
    double.message_content_enabled = False
    with pytest.raises(StartError, match="Message Content intent"):
        await harness.start()


async def test_storybot_run_from_the_command_line(double, harness, monkeypatch, capsys):
    """`storybot run` as typed (its own event loop, in a thread): it connects, answers, and
    stops with a one-line error when Discord ends the session (a revoked token)."""
    harness.engine()
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    config = harness.config_file()
    run = asyncio.ensure_future(asyncio.to_thread(main, ["--config", str(config), "run"]))
    await double.connected()
    assert await answered(double)
    await double.drop_connection(code=4004)
    assert await run == 1
    err = capsys.readouterr().err
    assert "no longer valid" in err and "Traceback" not in err
