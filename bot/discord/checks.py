"""Who may change the corpus. Checked inside every corpus-changing command, not only in the UI."""

from __future__ import annotations

from collections.abc import Iterable

import discord

REFUSAL = (
    "Only moderators can change the sources (Manage Server or Manage Messages permission, "
    "or a moderator role)."
)


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
