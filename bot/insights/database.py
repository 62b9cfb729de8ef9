"""storybot's own database: SQLite at ``<state_dir>/storybot.sqlite3`` (WAL mode).

Each feature owns a *component* with an ordered list of migrations (SQL scripts); the version of
each component is kept in ``schema_versions``, so features can add tables independently. A
feature's store subclasses :class:`Component`::

    class AuditLog(Component):
        component = "audit"
        migrations = ["CREATE TABLE audit (...)"]

and opens a transaction with ``with self.transaction() as db: ...`` (migrated on first use).
Migrations are append-only: never edit one that has shipped, add the next.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.files import create_private

DATABASE_NAME = "storybot.sqlite3"
# The story every row belonged to before there were stories (``bot.stories``): rows written by
# a storybot without stories get it through their columns' default.
DEFAULT_STORY_ID = 1
# Seconds a transaction waits for another process's write to end (a poll, a stats purge, a
# backup) before it gives up with "database is locked".
BUSY_TIMEOUT = 30.0


def database_path(state_dir: Path) -> Path:
    return Path(state_dir) / DATABASE_NAME


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """One transaction: committed on success, rolled back on error; the connection is closed.

    ``BEGIN IMMEDIATE`` serializes writers (and migrations) across threads and processes; DDL is
    transactional in SQLite, so a migration interrupted half-way leaves no trace.
    """
    create_private(path)  # it holds what members asked: 0600 in a 0700 directory
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        _use_wal(conn)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


def _use_wal(conn: sqlite3.Connection) -> None:
    """Write-ahead logging (kept in the file once set). While another connection switches a
    new database to it, SQLite refuses the switch with "database is locked" at once, without
    the busy timeout: connections opened together on a new database (threads of one process
    at start) wait and retry here, up to BUSY_TIMEOUT like any other lock."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[str]) -> int:
    """Apply the migrations of ``component`` not applied yet; return its schema version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions "
        "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    row = conn.execute(
        "SELECT version FROM schema_versions WHERE component = ?", (component,)
    ).fetchone()
    version = row[0] if row else 0
    if version > len(migrations):
        raise RuntimeError(
            f"the database's {component} schema (v{version}) is newer than this storybot"
        )
    for number, script in enumerate(migrations[version:], version + 1):
        for statement in filter(str.strip, script.split(";")):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
            "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            (component, number),
        )
    return len(migrations)


class Component:
    """One feature's tables in the shared database, migrated the first time they are used.

    A story-scoped component (audit, questions, answers, feeds, announcements) reads and writes
    only the rows of its ``story_id``: every such row carries the story's id, so one database
    (and later one PostgreSQL schema) holds every story."""

    component: str = ""
    migrations: Sequence[str] = ()
    # Components whose tables this one's transactions write too (the stories store writes
    # audit rows in the same transaction as the change): migrated together with it.
    writes_also: Sequence[type[Component]] = ()

    def __init__(self, path: Path, story_id: int = DEFAULT_STORY_ID) -> None:
        self.path = Path(path)
        self.story_id = story_id
        self._ready = False

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Migrated in the first transaction that commits: one rolled back (e.g. a refused
        insert) takes its migration with it, and the next one migrates again."""
        migrating = not self._ready
        with connect(self.path) as conn:
            if migrating:
                for part in (self, *self.writes_also):
                    migrate(conn, part.component, part.migrations)
            yield conn
        if migrating:
            self._ready = True
