"""Slash commands end to end: what is registered with Discord (and when), who sees and may use
the moderator commands, /help, /sources with its buttons, and the /source commands."""

from __future__ import annotations

import asyncio
import logging

import pytest
from web_server import serve

from bot.cli import main
from bot.discord.checks import REFUSAL, STATS_REFUSAL
from helpers import ANSWERED, source

from .harness import TOKEN

web = pytest.fixture(serve)
NAMES = {"ask", "help", "sources", "source", "stats", "feed", "whatsnew", "story"}
MANAGE_MESSAGES = 1 << 13


def by_name(payload: list[dict]) -> dict[str, dict]:
    return {command["name"]: command for command in payload}


async def shown(double, interaction, count: int = 1):
    return await double.reply(interaction, count)


# -- registration --------------------------------------------------------------------------------


async def test_commands_are_registered_once_globally_for_servers_only(double, bot):
    ((scope, payload),) = double.command_syncs
    assert scope is None
    commands = by_name(payload)
    assert set(commands) == NAMES
    for command in payload:
        # Declared for servers only: Discord offers none of them in DMs or as a user app.
        assert command["contexts"] == [0] and command["integration_types"] == [0]
        assert command["dm_permission"] is False
    # Moderator roles are configured: role-only moderators must see the moderator commands.
    for name in ("source", "stats", "feed"):
        assert commands[name]["default_member_permissions"] is None
    group = {o["name"]: o for o in commands["source"]["options"]}
    assert set(group) == {"add", "add-file", "remove"}
    (source_id,) = group["remove"]["options"]
    assert source_id["name"] == "id" and source_id["autocomplete"] is True
    question = commands["ask"]["options"][0]
    assert (question["name"], question["required"], question["max_length"]) == (
        "question",
        True,
        1000,
    )


async def test_without_moderator_roles_moderator_commands_are_hidden_by_default(double, harness):
    await harness.start(harness.engine(discord={"moderator_roles": []}))
    ((_, payload),) = double.command_syncs
    commands = by_name(payload)
    for name in ("source", "stats", "feed"):
        assert commands[name]["default_member_permissions"] == MANAGE_MESSAGES
    for name in ("ask", "help", "sources", "whatsnew"):
        assert commands[name]["default_member_permissions"] is None
    assert not double.can_see(double.member("ana"), "stats")
    assert double.can_see(double.member("mo", double.mods), "stats")
    assert double.can_see(double.owner, "source")


async def test_a_restart_syncs_only_when_the_commands_changed(double, harness, bot, caplog):
    caplog.set_level(logging.INFO, logger="bot.discord")
    restarted = await harness.restart(bot)
    assert len(double.command_syncs) == 1  # same commands: not registered again
    assert "commands unchanged" in caplog.text
    await restarted.stop()
    await harness.start(harness.engine(discord={"moderator_roles": []}))
    assert len(double.command_syncs) == 2
    stats = by_name(double.command_syncs[1][1])["stats"]
    assert stats["default_member_permissions"] == MANAGE_MESSAGES


async def run_cli(*args: str) -> int:
    """``storybot ...`` as a user types it (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(main, list(args))


async def test_moving_to_server_sync_and_clearing_the_global_commands(
    double, harness, bot, monkeypatch, caplog, capsys
):
    assert double.command_syncs[0][0] is None  # first run: global
    await bot.stop()
    guild_config = {"guild_ids": [double.guild_id]}
    with caplog.at_level(logging.WARNING, logger="bot.discord"):
        moved = await harness.start(harness.engine(discord=guild_config))
    assert double.command_syncs[-1][0] == double.guild_id
    assert "storybot sync --clear-global" in caplog.text  # members see every command twice
    interaction = await double.slash(double.member("ana"), "ask", question=ANSWERED)
    assert (await shown(double, interaction)).embeds
    assert double.registered("ask")["guild_id"] == str(double.guild_id)
    await moved.stop()

    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    config = harness.config_file(discord=guild_config)
    assert await run_cli("--config", str(config), "sync", "--clear-global") == 0
    assert "global commands removed" in capsys.readouterr().out
    assert double.commands[None] == []
    # `storybot sync` registers even unchanged commands.
    assert [scope for scope, _ in double.command_syncs[-2:]] == [double.guild_id, None]
    caplog.clear()
    syncs = len(double.command_syncs)
    await harness.start(harness.engine(discord=guild_config))
    assert len(double.command_syncs) == syncs and "clear-global" not in caplog.text


async def test_clear_global_needs_servers_to_register_to(double, harness, monkeypatch, capsys):
    harness.engine()
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    assert await run_cli("--config", str(harness.config_file()), "sync", "--clear-global") == 1
    assert "guild_ids" in capsys.readouterr().err
    assert double.command_syncs == []


# -- moderators ----------------------------------------------------------------------------------


async def test_stats_for_role_only_moderators_and_a_refusal_for_members(double, bot):
    editor = double.member("ed", double.editors)  # a moderator by role alone
    member = double.member("ana")
    await shown(double, await double.slash(member, "ask", question=ANSWERED))
    assert double.can_see(editor, "stats") and double.can_see(editor, "source")
    reply = await shown(double, await double.slash(editor, "stats"))
    assert reply.flags & 64
    assert reply.embeds[0]["title"] == "What members asked in the last 30 days"
    assert "**1** questions" in reply.embeds[0]["description"]
    refusal = await shown(double, await double.slash(member, "stats", days=7))
    assert refusal.content == STATS_REFUSAL and refusal.embeds == []


async def test_a_moderator_adds_an_article_by_url_with_progress_and_no_previews(double, bot, web):
    moderator = double.member("mo", double.mods)
    url = web.url("/article?utm_source=x")
    interaction = await double.slash(moderator, "source add", url=url)
    progress, final = await double.reply(interaction, 1), await double.reply(interaction, 2)
    assert progress.flags & 64 and final.flags & 64
    edits = [r.body["content"] for r in double.requests if r.method == "PATCH"]
    assert edits and edits[0].startswith("0/1 · Fetching <http://127.0.0.1:")
    assert all("<http" in text and " http" not in text for text in edits)
    assert "`council-approves-harbour-bridge`" in final.content
    assert f"(<{web.url('/article')}>)" in final.content
    asked = await double.slash(
        double.member("ana"), "ask", question="How did the councillors vote on the bridge?"
    )
    assert (await shown(double, asked)).embeds[0]["author"]["name"] == "The Harbour Gazette"


async def test_members_cannot_add_remove_or_fetch(double, bot, web):
    member = double.member("ana")
    before = sorted(s.id for s in bot.storybot.sources)
    attachment = double.attachment("a.md", b"Aliens directed the film.")
    for command, options in (
        ("source add", {"url": web.url("/article")}),
        ("source add-file", {"file": attachment, "title": "Aliens"}),
        ("source remove", {"id": "sundance-prize"}),
    ):
        reply = await shown(double, await double.slash(member, command, **options))
        assert reply.content == REFUSAL and reply.flags & 64
    assert web.requests == [] and double.downloads == []
    assert sorted(s.id for s in bot.storybot.sources) == before


async def test_a_role_moderator_adds_a_file_and_an_oversized_one_is_never_downloaded(double, bot):
    editor = double.member("ed", double.editors)
    text = (
        b"# Score\n\nThe Lyon Philharmonic orchestra recorded the soundtrack in 2019.\n\n"
        b"The composer wrote most of the music in Dakar over one winter, mixing traditional "
        b"Senegalese songs with modern pop beats; the album came out a week before the film.\n"
    )
    big = double.attachment("big.txt", b"small in fact", size=6_000_000)  # as declared
    reply = await shown(double, await double.slash(editor, "source add-file", file=big, title="B"))
    assert reply.content.startswith("Not added") and "5 MB" in reply.content
    assert double.downloads == []
    score = double.attachment("score.md", text)
    interaction = await double.slash(
        editor, "source add-file", file=score, title="The score", url="https://music.example/s"
    )
    reply = await shown(double, interaction)
    assert "`the-score`" in reply.content and "<https://music.example/s>" in reply.content
    assert double.downloads == [score["id"]]
    asked = await double.slash(
        double.member("ana"), "ask", question="Which orchestra recorded the soundtrack?"
    )
    assert "Lyon Philharmonic" in (await shown(double, asked)).embeds[0]["description"]


async def test_remove_autocompletes_ids_and_removes(double, bot):
    moderator = double.member("mo", double.mods)
    completion = await double.autocomplete(moderator, "source remove", "id", "sund")
    await double.wait_for(lambda: completion.choices is not None)
    assert completion.choices == [
        {"name": "sundance-prize — Sundance honours Doucouré", "value": "sundance-prize"}
    ]
    reply = await shown(double, await double.slash(moderator, "source remove", id="sundance-prize"))
    assert "Removed `sundance-prize`" in reply.content
    assert "sundance-prize" not in {s.id for s in bot.storybot.sources}


# -- /help and /sources --------------------------------------------------------------------------


async def test_help_explains_asking_and_lists_the_moderator_commands(double, bot):
    reply = await shown(double, await double.slash(double.member("ana"), "help"))
    assert reply.flags & 64
    text = reply.text()
    assert "/ask" in text and "`/stats`" in text and "`/source add`" in text


async def test_sources_pages_with_buttons_that_work_after_a_restart(double, harness):
    extra = [source(f"extra-{i}", f"Extra text number {i}.") for i in range(5)]
    bot = await harness.start(harness.engine(*extra))
    ana = double.member("ana")
    listing = await shown(double, await double.slash(ana, "sources"))
    assert listing.flags & 64
    assert listing.embeds[0]["title"] == "Sources (8)"
    assert listing.embeds[0]["footer"]["text"] == "Page 1 of 2"
    assert [b.get("disabled", False) for b in listing.buttons()] == [True, False]
    await harness.restart(bot)
    click = await double.click(ana, listing, "Next")
    await double.wait_for(lambda: click.acknowledged)
    assert click.callback_type == 7  # the list itself is updated
    assert listing.embeds[0]["footer"]["text"] == "Page 2 of 2"
    assert [b.get("disabled", False) for b in listing.buttons()] == [False, True]
