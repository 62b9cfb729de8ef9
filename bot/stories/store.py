"""Which stories exist, and which Discord server, channel, thread or category uses which.

Two tables of the state database. ``stories``: one row per story (its name, the server it
belongs to, archived or not). Its id is the ``story_id`` of every story-scoped row elsewhere
(audit, questions, answers, feeds, feed items, announcement cursors) and names its directory
(``<state_dir>/stories/<id>/``). The story that existed before stories is id 1, ``default``;
its corpus stays where ``[corpus] dir`` says. ``story_bindings``: (server, scope) -> story,
where scope is ``guild`` (the server's default story) or a channel, thread or category id.

A story belongs to one server (``guild``) or to none (``''``: made on the command line, or the
default story before a server claimed it). A server sees and changes only its own stories;
the command line (the operator) sees all.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

from bot.clock import now_iso
from bot.insights.audit import AuditLog, record_in
from bot.insights.database import DEFAULT_STORY_ID, Component

STORY_MIGRATIONS = [
    """
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        guild TEXT NOT NULL DEFAULT '',       -- the Discord server it belongs to ('' = none)
        status TEXT NOT NULL DEFAULT 'active',  -- 'active' or 'archived'
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL DEFAULT '',
        UNIQUE (guild, name)
    );
    INSERT INTO stories (id, name, guild, status, created_at, created_by)
        VALUES (1, 'default', '', 'active', '', 'upgrade');
    CREATE TABLE story_bindings (
        guild TEXT NOT NULL,
        scope TEXT NOT NULL,                  -- 'guild' (its default) or a channel id
        story_id INTEGER NOT NULL REFERENCES stories (id),
        bound_by TEXT NOT NULL DEFAULT '',
        bound_at TEXT NOT NULL,
        PRIMARY KEY (guild, scope)
    )
    """,
]
ACTIVE, ARCHIVED = "active", "archived"
GUILD_SCOPE = "guild"
DEFAULT_NAME = "default"
# A story's name: what members type in /ask story: and --story.
NAME_PATTERN = re.compile(r"^(?=.{1,32}$)[a-z0-9]+(?:-[a-z0-9]+)*$")
_COLUMNS = "id, name, guild, status, created_at, created_by"


class StoryError(ValueError):
    """A story that does not exist, or a name or change that is refused; the message says why."""


@dataclass(frozen=True)
class StoryRecord:
    id: int
    name: str
    guild: str = ""
    status: str = ACTIVE
    created_at: str = ""
    created_by: str = ""

    @property
    def archived(self) -> bool:
        return self.status == ARCHIVED

    def archived_note(self) -> str:
        """What an archived story's refusal (or read-only listing) says, with how to undo it."""
        return (
            f"story {self.name!r} is archived (bring it back with: storybot stories archive "
            f"{self.id} --undo)"
        )


def check_name(name: str) -> str:
    """A story name as stored: lowercase letters and digits, words joined by single hyphens,
    at most 32, with a letter (a number names a story by its id)."""
    cleaned = name.strip().lower()
    if not NAME_PATTERN.match(cleaned):
        raise StoryError(
            f"{name!r} is not a story name: use up to 32 lowercase letters and digits, words "
            "joined by single hyphens (e.g. harbour-fire)"
        )
    if cleaned.isdigit():  # --story 12 names the story whose id is 12
        raise StoryError(
            f"{name!r} is not a story name: it needs a letter (a number names a story by its "
            "id), e.g. fire-2024"
        )
    return cleaned


# What the stories table holds before anything was written: the default story alone.
UNWRITTEN = StoryRecord(DEFAULT_STORY_ID, DEFAULT_NAME, created_by="upgrade")


class StoryStore(Component):
    component = "stories"
    migrations = STORY_MIGRATIONS
    writes_also = (AuditLog,)

    # -- reading -------------------------------------------------------------------------------

    def _unwritten(self) -> bool:
        """No database yet: reading creates none (commands that only read leave no trace)."""
        return not self.path.exists()

    def get(self, story_id: int) -> StoryRecord:
        if self._unwritten() and story_id == DEFAULT_STORY_ID:
            return UNWRITTEN
        with self.transaction() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM stories WHERE id = ?", (story_id,))
            found = row.fetchone()
        if found is None:
            raise StoryError(f"no story with id {story_id}")
        return StoryRecord(*found)

    def all(self, *, archived: bool = True) -> list[StoryRecord]:
        """Every story (the command line's view), oldest first."""
        only = "" if archived else " WHERE status = 'active'"
        if self._unwritten():
            return [UNWRITTEN]
        with self.transaction() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM stories{only} ORDER BY id").fetchall()
        return [StoryRecord(*row) for row in rows]

    def of_guild(self, guild: str, *, archived: bool = False) -> list[StoryRecord]:
        """A server's own stories, oldest first."""
        only = "" if archived else " AND status = 'active'"
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM stories WHERE guild = ?{only} ORDER BY id", (guild,)
            ).fetchall()
        return [StoryRecord(*row) for row in rows]

    def named(self, name: str, guild: str | None = None) -> StoryRecord:
        """The story called ``name`` in ``guild``; with None (the command line), the one story
        of that name anywhere, or the one whose id ``name`` is."""
        if self._unwritten() and guild is None and name.strip().lower() in (DEFAULT_NAME, "1"):
            return UNWRITTEN
        with self.transaction() as db:
            if guild is not None:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM stories WHERE guild = ? AND name = ?",
                    (guild, name.strip().lower()),
                ).fetchall()
            elif name.strip().isdigit():
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM stories WHERE id = ?", (int(name.strip()),)
                ).fetchall()
            else:
                rows = db.execute(
                    f"SELECT {_COLUMNS} FROM stories WHERE name = ? ORDER BY id",
                    (name.strip().lower(),),
                ).fetchall()
        if not rows:
            what = f"with id {name.strip()}" if guild is None and name.strip().isdigit() else ""
            raise StoryError(
                f"no story {what or f'named {name!r}'} (storybot stories list shows them)"
            )
        if len(rows) > 1:
            ids = ", ".join(f"{r[0]} (server {r[2] or 'none'})" for r in rows)
            raise StoryError(f"several stories are named {name!r}: {ids}; give the id instead")
        return StoryRecord(*rows[0])

    # -- changing ------------------------------------------------------------------------------

    def create(self, name: str, *, guild: str = "", by: str = "") -> StoryRecord:
        name = check_name(name)
        try:
            with self.transaction() as db:
                cursor = db.execute(
                    "INSERT INTO stories (name, guild, created_at, created_by) VALUES (?, ?, ?, ?)",
                    (name, guild, now_iso(), by),
                )
                story_id = int(cursor.lastrowid or 0)
                record_in(db, story_id, by, "story create", f"named {name!r}")
        except sqlite3.IntegrityError:
            raise StoryError(f"there is already a story named {name!r}") from None
        return self.get(story_id)

    def rename(self, story_id: int, new_name: str, *, by: str = "") -> StoryRecord:
        new_name = check_name(new_name)
        story = self.get(story_id)  # StoryError if there is no such story
        try:
            with self.transaction() as db:  # the old name read under the write lock
                (old,) = db.execute("SELECT name FROM stories WHERE id = ?", (story_id,)).fetchone()
                if old != new_name:
                    db.execute("UPDATE stories SET name = ? WHERE id = ?", (new_name, story_id))
                    record_in(db, story_id, by, "story rename", f"{old!r} -> {new_name!r}")
        except sqlite3.IntegrityError:
            raise StoryError(f"there is already a story named {new_name!r}") from None
        if old == new_name:
            raise StoryError(f"the story is already named {new_name!r}")
        return self.get(story.id)

    def set_status(self, story_id: int, status: str, *, by: str = "") -> StoryRecord:
        """Archive (or bring back) a story: an archived story answers nothing and is listed
        apart; its files and rows are kept. Its bindings go with the archiving. Refused when
        the story already has that status (nothing to change, nothing to record)."""
        with self.transaction() as db:
            changed = db.execute(
                "UPDATE stories SET status = ? WHERE id = ? AND status != ?",
                (status, story_id, status),
            ).rowcount
            if changed:
                action = "story archive" if status == ARCHIVED else "story unarchive"
                record_in(db, story_id, by, action)
            if changed and status == ARCHIVED:
                db.execute("DELETE FROM story_bindings WHERE story_id = ?", (story_id,))
        story = self.get(story_id)  # StoryError if there is no such story
        if not changed:
            already = "archived" if status == ARCHIVED else "active (not archived)"
            raise StoryError(f"story {story.name!r} is already {already}")
        return story

    # -- which story a server and a channel use ------------------------------------------------

    def bound(self, guild: str, scopes: tuple[str, ...]) -> StoryRecord | None:
        """The story bound to the first of ``scopes`` (most specific first, e.g. thread,
        channel, category, ``guild``) that has one, if any."""
        if not scopes:
            return None
        marks = ",".join("?" * len(scopes))
        with self.transaction() as db:
            rows = dict(
                db.execute(
                    f"SELECT scope, story_id FROM story_bindings WHERE guild = ? "
                    f"AND scope IN ({marks})",
                    (guild, *scopes),
                ).fetchall()
            )
        for scope in scopes:
            if scope in rows:
                return self.get(rows[scope])
        return None

    def bind(self, guild: str, scope: str, story_id: int, *, by: str = "") -> None:
        """Bind ``scope`` of ``guild`` to a story of that server (never another's)."""
        story = self.get(story_id)
        if story.guild != guild or story.archived:
            raise StoryError(f"no story named {story.name!r} in this server")
        with self.transaction() as db:
            db.execute(
                "INSERT INTO story_bindings (guild, scope, story_id, bound_by, bound_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(guild, scope) DO UPDATE SET "
                "story_id = excluded.story_id, bound_by = excluded.bound_by, "
                "bound_at = excluded.bound_at",
                (guild, scope, story_id, by, now_iso()),
            )

    def guild_default(self, guild: str, *, by: str = "") -> StoryRecord:
        """A server's default story: the one bound to its ``guild`` scope; the first time, the
        deployment's default story if no server has claimed it yet (an upgraded one-server
        deployment keeps its corpus), else a new empty story named ``default`` of its own.
        Atomic: of two servers at once, one claims it."""
        found = self.bound(guild, (GUILD_SCOPE,))
        if found is not None:
            return found
        with self.transaction() as db:
            claimed = db.execute(
                "UPDATE stories SET guild = ? WHERE id = ? AND guild = '' AND status = 'active'"
                " AND NOT EXISTS (SELECT 1 FROM stories WHERE guild = ? AND name = 'default')",
                (guild, DEFAULT_STORY_ID, guild),
            ).rowcount
            if claimed:
                story_id = DEFAULT_STORY_ID
                record_in(db, story_id, by or "first use", "story claim", f"by server {guild}")
            else:
                row = db.execute(
                    "SELECT id FROM stories WHERE guild = ? AND status = 'active' ORDER BY id",
                    (guild,),
                ).fetchone()
                if row is None:
                    taken = {
                        name
                        for (name,) in db.execute(
                            "SELECT name FROM stories WHERE guild = ?", (guild,)
                        )
                    }
                    name = next(
                        n
                        for n in (DEFAULT_NAME, *(f"{DEFAULT_NAME}-{i}" for i in range(2, 10**6)))
                        if n not in taken
                    )  # "default" archived: "default-2"
                    story_id = db.execute(
                        "INSERT INTO stories (name, guild, created_at, created_by) "
                        "VALUES (?, ?, ?, ?)",
                        (name, guild, now_iso(), by or "first use"),
                    ).lastrowid
                    detail = f"named {name!r}, the server's first story"
                    record_in(db, story_id, by or "first use", "story create", detail)
                else:
                    story_id = row[0]
            db.execute(
                "INSERT INTO story_bindings (guild, scope, story_id, bound_by, bound_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(guild, scope) DO NOTHING",
                (guild, GUILD_SCOPE, story_id, by, now_iso()),
            )
        bound = self.bound(guild, (GUILD_SCOPE,))
        assert bound is not None
        return bound
