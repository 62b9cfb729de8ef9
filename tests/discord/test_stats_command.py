"""/stats: moderators only, private, within embed limits, and shows what a new source fixed."""

from __future__ import annotations

import discord
from discord_mocks import invoke, mock_interaction, mock_member, moderator, sends, texts

from bot.discord.checks import is_moderator
from bot.discord.client import StoryDiscordBot
from bot.discord.cogs.ask import AskCog
from bot.discord.cogs.stats import LOGGING_OFF, StatsCog, stats_embed
from bot.insights.questionlog import Gap, Stats

ZEBRA = "When is the zebra parade?"


async def ask(client, question):
    cog = AskCog(client)
    await invoke(cog.ask, cog, mock_interaction(), question)


async def test_members_are_refused_and_see_no_figures(client):
    await ask(client, ZEBRA)
    cog = StatsCog(client)
    interaction = mock_interaction(mock_member())
    assert not is_moderator(interaction.user)
    await invoke(cog.stats, cog, interaction, 30)
    [sent] = sends(interaction)
    assert sent["ephemeral"] is True and "Only moderators" in sent["content"]
    assert "zebra" not in texts(sent)
    assert sent["allowed_mentions"].to_dict() == {"parse": []}


async def test_moderator_sees_gaps_then_what_a_new_source_answers(client):
    await ask(client, ZEBRA)
    await ask(client, "When is the zebra parade happening?")
    await ask(client, "Who directed Cuties?")
    cog = StatsCog(client)
    first = mock_interaction(moderator())
    await invoke(cog.stats, cog, first, 7)
    first.response.defer.assert_called_once()
    [sent] = sends(first)
    assert sent["ephemeral"] is True
    shown = texts(sent)
    assert "**3** questions" in shown and "**33%** answered" in shown
    assert "2× When is the zebra parade happening?" in shown
    # Both replies said nothing in the sources is about it: the gap says so.
    assert (
        "2× When is the zebra parade happening? (+1 similar) · nothing in the sources is" in shown
    )
    assert "Nothing new" in shown
    client.storybot.add_source("The zebra parade is on Saturday at noon.", "Zebra parade date")
    second = mock_interaction(moderator())
    await invoke(cog.stats, cog, second, 7)
    assert "When is the zebra parade happening? → Zebra parade date" in texts(sends(second)[0])


async def test_logging_off_is_said(make_bot, monkeypatch):
    bot = StoryDiscordBot(make_bot(config={"stats": {"log_questions": False}}), sync_on_setup=False)
    monkeypatch.setattr(StoryDiscordBot, "user", property(lambda self: discord.Object(id=1)))
    cog = StatsCog(bot)
    interaction = mock_interaction(moderator())
    await invoke(cog.stats, cog, interaction, 30)
    [sent] = sends(interaction)
    assert sent["content"] == LOGGING_OFF and "**0** questions" in texts(sent)


def test_embed_stays_within_limits_with_huge_and_hostile_gaps():
    gap = Gap("@everyone **" + "why " * 600 + "**", 5, ("a", "b"), "2026-11-25T00:00:00", 5, 0)
    stats = Stats(
        days=[(f"2026-11-{d:02}", 1000, 900) for d in range(1, 31)],
        asked=30_000,
        answered=27_000,
        top_sources=[(f"src-{i}", 100 - i) for i in range(50)],
        gaps=[gap] * 50,
    )
    embed = stats_embed(stats, [], {f"src-{i}": "T" * 300 for i in range(50)}, 30)
    assert len(embed) <= 6000 and len(embed.fields) <= 25
    assert all(len(f.value) <= 1024 for f in embed.fields)
    gaps = next(f.value for f in embed.fields if f.name.startswith("Gaps"))
    assert "\\*\\*" in gaps and "**why" not in gaps
