"""Who may change the corpus (and see the moderators' figures).

``moderator_only()`` is an ``app_commands.check``: discord.py runs it before the command's body
on every invocation, whatever the server's command permissions say (those are only a default
that server admins can change). A refusal raises :class:`NotModerator`, which
``errors.on_app_command_error`` answers privately.
"""

from __future__ import annotations

from collections.abc import Iterable

import discord
from discord import app_commands

from bot.config import DiscordSettings

REFUSAL = (
    "Only moderators can change the sources (Manage Server or Manage Messages permission, "
    "or a moderator role)."
)
STATS_REFUSAL = REFUSAL.replace("change the sources", "see the stats")
FEEDS_REFUSAL = REFUSAL.replace("change the sources", "manage the watched feeds")


def added_by(user: discord.abc.User) -> str:
    """How a member who changed something is named in the audit log (and in the feed store,
    as who decided on a candidate)."""
    return f"{user.name} ({user.id}) via Discord"


class NotModerator(app_commands.CheckFailure):
    """A member who is not a moderator used a moderator command; the message says why."""


def is_moderator(user: discord.abc.User, moderator_roles: Iterable[str] = ()) -> bool:
    """A server member with Manage Server or Manage Messages, or one of ``moderator_roles``.

    - Server-wide permissions only (``Member.guild_permissions``): Administrator and the server
      owner have every permission, so they are moderators; a channel override granting Manage
      Messages in one channel does not make a moderator of the whole corpus.
    - A timed-out member is not a moderator by role either: Discord takes every permission but
      viewing from them (owner and Administrator exempt, as ``guild_permissions`` reflects).
    - A ``moderator_roles`` entry of digits only is a role id and matches ids only, so a role
      *named* like the configured id grants nothing; any other entry matches role names,
      case-insensitively.
    - Users outside a server (DMs) never are.
    """
    if not isinstance(user, discord.Member):
        return False
    permissions = user.guild_permissions
    if permissions.manage_guild or permissions.manage_messages:
        return True
    if user.is_timed_out():
        return False
    wanted = {str(r).strip().casefold() for r in moderator_roles}
    ids = {w for w in wanted if w.isdigit()}
    names = wanted - ids
    return any(str(role.id) in ids or role.name.casefold() in names for role in user.roles)


def moderator_only(refusal: str = REFUSAL):
    """A check for moderator commands; the bot's ``settings.moderator_roles`` count too."""

    def predicate(interaction: discord.Interaction) -> bool:
        if is_moderator(interaction.user, interaction.client.settings.moderator_roles):
            return True
        raise NotModerator(refusal)

    return app_commands.check(predicate)


def moderator_default_permissions(settings: DiscordSettings) -> discord.Permissions | None:
    """Who sees a moderator command by default (its ``default_member_permissions``).

    Without ``moderator_roles``: members with Manage Messages (and Administrators). With them:
    everyone, since Discord cannot hide a command by a role named in our config, and a
    moderator by role alone must see it; ``moderator_only`` refuses the others inside. (A
    member with Manage Server but not Manage Messages is a moderator too, but Discord's
    default can require only permissions all moderators share: server admins can show the
    commands to them under Server Settings > Integrations, where either default can be
    changed; the check inside is what counts.)"""
    if settings.moderator_roles:
        return None
    return discord.Permissions(manage_messages=True)
