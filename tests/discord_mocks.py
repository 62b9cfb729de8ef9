"""Mocks of discord.py objects for driving the real command callbacks.

As python-discord's ``tests/helpers.py`` does: ``MagicMock(spec_set=<real discord class>)``, so a
test that touches an attribute or method the real class lacks fails; coroutine methods of the
spec become ``AsyncMock`` automatically. ``InteractionResponse`` keeps the real rule that an
interaction is answered once (a second response raises ``InteractionResponded``).
"""

from __future__ import annotations

import contextlib
import itertools
import re
from unittest.mock import MagicMock

import discord

_ids = itertools.count(1_100_000_000_000_000_000)


def next_id() -> int:
    return next(_ids)


# The one server the mocked members are in (a server has its own stories: bot.discord.stories).
GUILD_ID = next_id()


def mock_role(name: str, role_id: int | None = None) -> MagicMock:
    role = MagicMock(spec_set=discord.Role)
    role.name = name
    role.id = role_id or next_id()
    return role


def mock_member(
    *,
    name: str = "member",
    user_id: int | None = None,
    permissions: discord.Permissions | None = None,
    roles=(),
    bot: bool = False,
) -> MagicMock:
    member = MagicMock(spec_set=discord.Member)
    member.id = user_id or next_id()
    member.name = name
    member.bot = bot
    member.mention = f"<@{member.id}>"
    member.guild_permissions = permissions or discord.Permissions.none()
    member.roles = list(roles)
    member.is_timed_out.return_value = False
    return member


def moderator(name: str = "mod", **kwargs) -> MagicMock:
    """A member with Manage Messages: a moderator for storybot."""
    return mock_member(name=name, permissions=discord.Permissions(manage_messages=True), **kwargs)


def mock_user(*, name: str = "dm-user", user_id: int | None = None) -> MagicMock:
    user = MagicMock(spec_set=discord.User)
    user.id = user_id or next_id()
    user.name = name
    user.bot = False
    return user


def mock_message(content: str = "", *, author=None, channel_id: int | None = None, mentions=()):
    message = MagicMock(spec_set=discord.Message)
    message.id = next_id()
    message.content = content
    message.author = author or mock_member()
    message.mentions = list(mentions)
    message.webhook_id = None
    message.guild = MagicMock(spec_set=discord.Guild)
    message.guild.id = GUILD_ID
    message.channel = MagicMock(spec_set=discord.TextChannel)
    message.channel.id = channel_id or next_id()
    message.channel.typing.return_value = contextlib.nullcontext()
    message.reply.return_value = _sent_message()
    return message


def _sent_message() -> MagicMock:
    sent = MagicMock(spec_set=discord.Message)
    sent.id = next_id()
    return sent


def mock_attachment(filename: str, data: bytes) -> MagicMock:
    attachment = MagicMock(spec_set=discord.Attachment)
    attachment.filename = filename
    attachment.size = len(data)
    attachment.read.return_value = data
    return attachment


def mock_interaction(user=None, *, message=None) -> MagicMock:
    """A slash-command (or, with ``message``, a button) interaction by ``user``."""
    interaction = MagicMock(spec_set=discord.Interaction)
    interaction.user = user or mock_member()
    interaction.guild_id = GUILD_ID
    interaction.message = message
    response = MagicMock(spec_set=discord.InteractionResponse)
    done = {"value": False}

    def respond(*args, **kwargs):
        if done["value"]:
            raise discord.InteractionResponded(interaction)
        done["value"] = True

    response.is_done.side_effect = lambda: done["value"]
    for name in ("send_message", "defer", "edit_message"):
        getattr(response, name).side_effect = respond
    interaction.response = response
    interaction.followup = MagicMock(spec_set=discord.Webhook)
    interaction.followup.send.return_value = _sent_message()
    return interaction


def sends(mock) -> list[dict]:
    """Keyword arguments of every message sent through an interaction (``mock_interaction``)
    or as a reply to a message (``mock_message``); positional content becomes ``content``."""
    if isinstance(mock, MagicMock) and mock._spec_class is discord.Interaction:
        targets = [
            mock.response.send_message,
            mock.response.edit_message,
            mock.followup.send,
            mock.edit_original_response,
        ]
    else:
        targets = [mock.reply]
    calls = []
    for target in targets:
        for call in target.call_args_list:
            kwargs = dict(call.kwargs)
            if call.args:
                kwargs["content"] = call.args[0]
            calls.append(kwargs)
    return calls


def texts(kwargs: dict) -> str:
    """All text a send shows: content and every part of every embed."""
    parts = [str(kwargs.get("content") or "")]
    embeds = list(kwargs.get("embeds") or []) + ([kwargs["embed"]] if kwargs.get("embed") else [])
    for embed in embeds:
        data = embed.to_dict()
        parts += [data.get("title", ""), data.get("description", "")]
        parts += [data.get("author", {}).get("name", ""), data.get("footer", {}).get("text", "")]
        for f in data.get("fields", []):
            parts += [f["name"], f["value"]]
    return "\n".join(parts)


async def invoke(command, cog, interaction, *args, **kwargs) -> None:
    """Run an app command as discord.py does: its checks first (a failed check goes to the
    tree's error handler, as in the running bot), then its callback."""
    from discord import app_commands

    from bot.discord.errors import on_app_command_error

    interaction.client = cog.bot  # what discord.py sets: the bot the command belongs to
    try:
        for check in command.checks:
            if not await discord.utils.maybe_coroutine(check, interaction):
                raise app_commands.CheckFailure(f"check failed for {command.name}")
    except app_commands.CheckFailure as error:
        await on_app_command_error(interaction, error)
        return
    await command.callback(cog, interaction, *args, **kwargs)


def unrender(quoted: str) -> str:
    """Undo a quote's Discord presentation: '> ' prefixes, bold markers, backslash escapes, and
    the zero-width space that escaping puts after "@" (other zero-width characters are text)."""
    lines = [line.removeprefix(">").removeprefix(" ") for line in quoted.splitlines()]
    out = []
    for m in re.finditer(r"\\(.)|\*\*|(.)", "\n".join(lines), re.DOTALL):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(m.group(2))
    return "".join(out).replace("@\u200b", "@")
