"""Who may change the corpus and see the stats: the full matrix of members x commands.

The members are *real* ``discord.Member`` objects of a real ``discord.Guild`` (only the
connection state is a mock), so ``guild_permissions`` follows discord.py's own rules: the union
of the member's roles, everything for the owner and for Administrator, and the timeout mask.

Decisions the matrix pins down:
- Administrator counts as a moderator (discord.py gives it every permission, Manage Server too;
  Discord itself lets an Administrator do anything), and so does the server owner.
- Only server-wide permissions count: Manage Messages granted by a channel override (visible as
  ``interaction.permissions``) does not make a moderator of the whole corpus.
- A timed-out member is no moderator, by permission or by role (Administrator/owner exempt).
- Moderator roles by name are case-insensitive; a purely numeric entry is a role id and only
  matches ids; similar names and look-alike letters do not match.
- Kick, Ban, Manage Roles, Manage Channels or Moderate Members alone do not make a moderator.

Every refused call answers privately with the refusal, reads no attachment, fetches nothing (the
local web server records no request), writes nothing (corpus, trash and audit log unchanged).
"""

from __future__ import annotations

import datetime
from pathlib import Path
from unittest.mock import MagicMock

import discord
import pytest
from discord.state import ConnectionState
from discord_mocks import invoke, mock_attachment, mock_interaction, mock_user, next_id, sends
from web_server import serve

from bot.discord.checks import REFUSAL, is_moderator
from bot.discord.client import StoryDiscordBot
from bot.discord.cogs.sources import SourcesCog
from bot.discord.cogs.stats import StatsCog
from helpers import source

web = pytest.fixture(serve)
P = discord.Permissions
EDITORS_ID = 1_300_000_000_000_000_001
OWNER_ID = 1_300_000_000_000_000_002
MODERATOR_ROLES = ["Editors", str(EDITORS_ID)]
NOTE = source("harbour-note", "The harbour master retired in May after thirty years.")


class FakeGuild:
    """A real discord.Guild with roles, whose members are real discord.Member objects."""

    def __init__(self) -> None:
        self.state = MagicMock(spec=ConnectionState)
        self.state.self_id = next_id()
        self.state.member_cache_flags = discord.MemberCacheFlags.none()
        self.state.store_user.side_effect = lambda data, *, cache=True: discord.User(
            state=self.state, data=data
        )
        self.id = next_id()
        self.roles = [self._role(self.id, "@everyone", P(send_messages=True, read_messages=True))]
        self.guild = discord.Guild(data=self._data(), state=self.state)

    def _role(self, role_id: int, name: str, permissions: P) -> dict:
        return {
            "id": str(role_id),
            "name": name,
            "permissions": str(permissions.value),
            "position": len(getattr(self, "roles", [])),
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
        }

    def _data(self) -> dict:
        return {
            "id": str(self.id),
            "name": "Newsroom",
            "roles": self.roles,
            "owner_id": str(OWNER_ID),
            "member_count": 1,
            "features": [],
            "emojis": [],
            "stickers": [],
        }

    def role(self, name: str, permissions: P | None = None, role_id: int | None = None) -> int:
        role_id = role_id or next_id()
        self.roles.append(self._role(role_id, name, permissions or P.none()))
        self.guild = discord.Guild(data=self._data(), state=self.state)
        return role_id

    def member(self, *role_ids: int, user_id: int | None = None, timed_out: bool = False):
        data = {
            "user": {
                "id": str(user_id or next_id()),
                "username": "member",
                "discriminator": "0",
                "avatar": None,
                "global_name": None,
            },
            "roles": [str(r) for r in role_ids],
            "joined_at": None,
            "flags": 0,
        }
        if timed_out:
            until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
            data["communication_disabled_until"] = until.isoformat()
        return discord.Member(data=data, guild=self.guild, state=self.state)


def no_perms(g: FakeGuild):
    return g.member()


def manage_messages(g: FakeGuild):
    return g.member(g.role("Helpers", P(manage_messages=True)))


def manage_server(g: FakeGuild):
    return g.member(g.role("Admins-lite", P(manage_guild=True)))


def administrator_only(g: FakeGuild):
    return g.member(g.role("Root", P(administrator=True)))


def server_owner(g: FakeGuild):
    return g.member(user_id=OWNER_ID)


def role_by_name(g: FakeGuild):
    return g.member(g.role("Editors"))


def role_by_name_other_case(g: FakeGuild):
    return g.member(g.role("EDITORS"))


def role_by_id(g: FakeGuild):
    return g.member(g.role("Reviewers", role_id=EDITORS_ID))


def role_with_a_similar_name(g: FakeGuild):
    return g.member(g.role("Editor"), g.role("Editors-in-training"), g.role("Editors2"))


def role_with_a_look_alike_name(g: FakeGuild):
    return g.member(g.role("Εditors"))  # Greek capital epsilon


def role_named_like_the_moderator_role_id(g: FakeGuild):
    return g.member(g.role(str(EDITORS_ID)))


def dm_user(g: FakeGuild):
    return mock_user()


def channel_override_only(g: FakeGuild):
    return g.member()  # the interaction carries manage_messages for its channel (below)


def other_staff_permissions(g: FakeGuild):
    staff = P(
        kick_members=True,
        ban_members=True,
        manage_roles=True,
        manage_channels=True,
        moderate_members=True,
        manage_nicknames=True,
        mention_everyone=True,
    )
    return g.member(g.role("Bouncers", staff))


def timed_out_with_manage_messages(g: FakeGuild):
    return g.member(g.role("Helpers", P(manage_messages=True)), timed_out=True)


def timed_out_with_moderator_role(g: FakeGuild):
    return g.member(g.role("Editors"), timed_out=True)


def timed_out_administrator(g: FakeGuild):
    return g.member(g.role("Root", P(administrator=True)), timed_out=True)


MEMBERS = {
    no_perms: False,
    manage_messages: True,
    manage_server: True,
    administrator_only: True,
    server_owner: True,
    role_by_name: True,
    role_by_name_other_case: True,
    role_by_id: True,
    role_with_a_similar_name: False,
    role_with_a_look_alike_name: False,
    role_named_like_the_moderator_role_id: False,
    dm_user: False,
    channel_override_only: False,
    other_staff_permissions: False,
    timed_out_with_manage_messages: False,
    timed_out_with_moderator_role: False,
    timed_out_administrator: True,
}
COMMANDS = ["source add", "source add-file", "source remove", "stats"]


@pytest.fixture
def storybot(make_bot):
    return make_bot(
        NOTE,
        config={
            "discord": {"moderator_roles": MODERATOR_ROLES},
            "fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0},
        },
    )


def disk_state(client: StoryDiscordBot) -> dict[str, bytes]:
    root = Path(client.storybot.config.corpus_dir)
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def audit_rows(client: StoryDiscordBot) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.source_id) for e in client.storybot.audit_entries(limit=100)]


async def run(client: StoryDiscordBot, command: str, interaction, web):
    sources, stats = SourcesCog(client), StatsCog(client)
    tides = (
        b"# Tides\n\nHigh water at 06:12 on Saturday, low water at 12:30. The harbour master "
        b"asks boat owners to check their moorings before the spring tide on Sunday morning, "
        b"when the water will be higher than at any time this year.\n"
    )
    attachment = mock_attachment("tides.md", tides)
    if command == "source add":
        await invoke(sources.add, sources, interaction, web.url("/article"))
    elif command == "source add-file":
        await invoke(sources.add_file, sources, interaction, attachment, "Tide tables")
    elif command == "source remove":
        await invoke(sources.remove, sources, interaction, NOTE.id)
    else:
        client.storybot.question_log.record(client.storybot.ask("Who is the harbour master?"))
        await invoke(stats.stats, stats, interaction, 30)
    return attachment


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("make_member", list(MEMBERS), ids=lambda f: f.__name__)
async def test_permission_matrix(client, web, make_member, command):
    member = make_member(FakeGuild())
    allowed = MEMBERS[make_member]
    assert is_moderator(member, MODERATOR_ROLES) is allowed
    interaction = mock_interaction(member)
    interaction.permissions = (
        P(manage_messages=True, manage_guild=True)
        if make_member is channel_override_only
        else getattr(member, "guild_permissions", P.none())
    )
    before, rows_before = disk_state(client), audit_rows(client)
    attachment = await run(client, command, interaction, web)
    calls = sends(interaction)
    texts = "\n".join(str(c.get("content")) for c in calls)
    if not allowed:
        [sent] = calls
        assert sent["ephemeral"] is True
        assert sent["content"] in (REFUSAL, REFUSAL.replace("change the sources", "see the stats"))
        assert "embed" not in sent  # no figures
        interaction.response.defer.assert_not_awaited()
        attachment.read.assert_not_awaited()
        assert web.requests == []
        assert disk_state(client) == before
        assert audit_rows(client) == rows_before
        return
    interaction.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    assert "Only moderators" not in texts
    actor = f"{member.name} ({member.id}) via Discord"
    if command == "source add":
        assert "`council-approves-harbour-bridge`" in texts
        assert len(web.requests) == 1
        assert audit_rows(client)[0] == (actor, "add", "council-approves-harbour-bridge")
    elif command == "source add-file":
        assert "`tide-tables`" in texts
        assert audit_rows(client)[0] == (actor, "add", "tide-tables")
    elif command == "source remove":
        assert f"Removed `{NOTE.id}`" in texts
        assert NOTE.id not in {s.id for s in client.storybot.sources}
        assert audit_rows(client)[0] == (actor, "remove", NOTE.id)
    else:
        [sent] = calls
        assert sent["embed"].title.startswith("What members asked")
        assert disk_state(client) == before


def test_the_matrix_covers_every_corpus_changing_command():
    """A new /source subcommand must be added to the matrix above."""
    names = {command.qualified_name for command in SourcesCog.source.commands}
    assert names | {"stats"} == set(COMMANDS)


def test_discord_py_gives_administrator_and_the_owner_every_permission():
    """The semantics the decisions rest on (discord.py 2.x Member.guild_permissions)."""
    g = FakeGuild()
    assert administrator_only(g).guild_permissions == P.all()
    assert server_owner(g).guild_permissions == P.all()
    assert not timed_out_with_manage_messages(g).guild_permissions.manage_messages
    assert timed_out_administrator(g).guild_permissions == P.all()
    assert not manage_messages(g).guild_permissions.manage_guild
