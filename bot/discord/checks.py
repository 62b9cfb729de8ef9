"""Who may change the corpus. Checked inside every corpus-changing command, not only in the UI."""

from __future__ import annotations

from collections.abc import Iterable

import discord

REFUSAL = (
    "Only moderators can change the sources (Manage Server or Manage Messages permission, "
    "or a moderator role)."
)


def is_moderator(user: discord.abc.User, moderator_roles: Iterable[str] = ()) -> bool:
    """A server member with Manage Server or Manage Messages, or one of ``moderator_roles``
    (role names or ids). Users outside a server (DMs) never are."""
    if not isinstance(user, discord.Member):
        return False
    permissions = user.guild_permissions
    if permissions.manage_guild or permissions.manage_messages:
        return True
    wanted = {str(r).strip().casefold() for r in moderator_roles}
    return any(str(role.id) in wanted or role.name.casefold() in wanted for role in user.roles)
