"""``/source add-file`` and ``/source add``: junk is refused with the reason, ``force`` adds it."""

from __future__ import annotations

from discord_mocks import invoke, mock_attachment, mock_interaction, moderator, sends

from bot.discord.cogs.sources import SourcesCog


async def test_add_file_refuses_junk_and_force_adds_it(client, storybot):
    cog = SourcesCog(client)
    interaction = mock_interaction(moderator())
    tiny = mock_attachment("tiny.txt", b"Access denied")
    await invoke(cog.add_file, cog, interaction, tiny, "Tiny")
    [sent] = sends(interaction)
    assert sent["content"].startswith("Not added: the text has 2 word(s)")
    assert "tiny" not in {s.id for s in storybot.sources}
    interaction = mock_interaction(moderator())
    await invoke(cog.add_file, cog, interaction, tiny, "Tiny", force=True)
    assert "`tiny`" in sends(interaction)[-1]["content"]
    assert "tiny" in {s.id for s in storybot.sources}


def test_both_add_commands_offer_force(client):
    cog = SourcesCog(client)
    for command in (cog.add, cog.add_file):
        force = next(p for p in command.parameters if p.name == "force")
        assert not force.required and "near-empty" in force.description
