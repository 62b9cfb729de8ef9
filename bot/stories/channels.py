"""Each server's own review and announcement channels.

One row per server (``guild``, as the ``stories`` table names it): the channel where its
stories' feed candidates are posted for review, and the one where their new sources are
announced (``''``: none set here). A channel id is a string of digits, like the server's id:
the core does not know what a channel is, only which server chose which id. That the channel
belongs to that server, and that the bot may post there, the adapter checks before it stores
one (``bot.discord.cogs.feeds``), and again before it posts.

A deployment's configured channels (``[discord] review_channel_id``, ``announce_channel_id``)
stay the channels of the server they belong to; a row here overrides them for its server.

Plain columns and an upsert PostgreSQL knows too (``ON CONFLICT ... DO UPDATE``), so the table
moves as it stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.clock import now_iso
from bot.insights.database import Component
from bot.stories.store import StoryRecord

CHANNEL_MIGRATIONS = [
    """
    CREATE TABLE server_channels (
        guild TEXT PRIMARY KEY,                -- the server (as in stories.guild)
        review_channel TEXT NOT NULL DEFAULT '',    -- '' = none set here
        announce_channel TEXT NOT NULL DEFAULT '',
        updated_by TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL
    )
    """,
]
REVIEW, ANNOUNCE = "review", "announce"
PURPOSES = (REVIEW, ANNOUNCE)
_COLUMN = {REVIEW: "review_channel", ANNOUNCE: "announce_channel"}
_ID = re.compile(r"^[0-9]{1,20}$")


class ChannelError(ValueError):
    """A server or channel id that is not one; the message says why."""


@dataclass(frozen=True)
class ServerChannels:
    """A server's channels as set for it (``''``: none set)."""

    guild: str
    review: str = ""
    announce: str = ""
    updated_by: str = ""
    updated_at: str = ""

    def of(self, purpose: str) -> str:
        return self.review if purpose == REVIEW else self.announce


def _check_id(value: str | int, what: str) -> str:
    text = str(value).strip()
    if not _ID.match(text) or int(text) == 0:
        raise ChannelError(f"{value!r} is not a {what} id")
    return text


class ChannelStore(Component):
    """The ``server_channels`` table."""

    component = "server_channels"
    migrations = CHANNEL_MIGRATIONS

    def get(self, guild: str | int) -> ServerChannels:
        """The server's channels (none set: a row of blanks; reading writes nothing)."""
        guild = str(guild)
        if not self.path.exists():
            return ServerChannels(guild)
        with self.transaction() as db:
            row = db.execute(
                "SELECT guild, review_channel, announce_channel, updated_by, updated_at "
                "FROM server_channels WHERE guild = ?",
                (guild,),
            ).fetchone()
        return ServerChannels(*row) if row else ServerChannels(guild)

    def all(self, purpose: str) -> dict[str, str]:
        """Server -> its channel for ``purpose`` (``review`` or ``announce``), where one is set."""
        column = _COLUMN[purpose]
        if not self.path.exists():
            return {}
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT guild, {column} FROM server_channels WHERE {column} <> ''"
            ).fetchall()
        return dict(rows)

    def set(
        self,
        guild: str | int,
        *,
        review: str | int | None = None,
        announce: str | int | None = None,
        by: str = "",
    ) -> ServerChannels:
        """Set the server's review and/or announcement channel (None: leave it as it is;
        ``''``: clear it, so the configured one applies again if it is this server's)."""
        guild = _check_id(guild, "server")
        given = {REVIEW: review, ANNOUNCE: announce}
        changes = {
            _COLUMN[purpose]: "" if value == "" else _check_id(value, "channel")
            for purpose, value in given.items()
            if value is not None
        }
        if changes:
            now = now_iso()
            with self.transaction() as db:
                db.execute(
                    "INSERT INTO server_channels (guild, updated_by, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (guild) DO NOTHING",
                    (guild, by, now),
                )
                assignments = ", ".join(f"{column} = ?" for column in changes)
                db.execute(
                    f"UPDATE server_channels SET {assignments}, updated_by = ?, updated_at = ? "
                    "WHERE guild = ?",
                    (*changes.values(), by, now, guild),
                )
                # A server with nothing set has no row (as before it set anything).
                db.execute(
                    "DELETE FROM server_channels WHERE guild = ? AND review_channel = '' "
                    "AND announce_channel = ''",
                    (guild,),
                )
        return self.get(guild)

    def clear(self, guild: str | int, purpose: str, *, by: str = "") -> ServerChannels:
        """Clear one of the server's channels (``review`` or ``announce``)."""
        if purpose not in PURPOSES:
            raise ChannelError(f"{purpose!r} is not one of {', '.join(PURPOSES)}")
        return self.set(guild, **{purpose: ""}, by=by)


def routes(
    stories: Iterable[StoryRecord],
    set_here: dict[str, str],
    configured: str = "",
    configured_guild: str | None = None,
    *,
    own: int | None = None,
) -> dict[str, list[StoryRecord]]:
    """Channel -> the stories whose posts (candidates or announcements) go there, in the
    order given. A story's posts go to its own server's channel: the one set for that server
    (``set_here``: server -> channel, as :meth:`ChannelStore.all` gives), else the configured
    channel if ``configured_guild`` (the server it belongs to) is the story's. The story
    ``own`` (the deployment's default) also goes to the configured channel while it belongs
    to no server, or when the configured channel's server is unknown (``None``: as before
    there were servers). A story of no server goes nowhere else; never to another server's
    channel."""
    out: dict[str, list[StoryRecord]] = {}
    for story in stories:
        if story.archived:
            continue
        channel = set_here.get(story.guild, "") if story.guild else ""
        if not channel and configured:
            mine = story.guild and story.guild == configured_guild
            unclaimed = story.id == own and (not story.guild or configured_guild is None)
            if mine or unclaimed:
                channel = configured
        if channel:
            out.setdefault(channel, []).append(story)
    return out
