"""The audit log: who added, removed or restored which source, when, and from which URL.

A change and its record must not part ways when the process dies in between. So the row is
written first, as *pending* with the file name the change creates or removes (``target``),
then the file is changed, then the row is marked *done*. A row left pending by a killed
process is settled by :meth:`AuditLog.reconcile`, which the engine runs, holding the corpus
lock, before every change and at start: done if the disk shows the change happened, deleted
if it never did. Only done rows are entries.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from bot.clock import now_iso
from bot.insights.database import Component

AUDIT_MIGRATIONS = [
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        source_id TEXT,
        url TEXT,
        detail TEXT
    );
    CREATE INDEX audit_source ON audit (source_id)
    """,
    """
    ALTER TABLE audit ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
    ALTER TABLE audit ADD COLUMN target TEXT NOT NULL DEFAULT '';
    CREATE INDEX audit_state ON audit (state)
    """,
    # Stories: every row belongs to one (rows from before stories: the default story).
    """
    ALTER TABLE audit ADD COLUMN story_id INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX audit_story ON audit (story_id, id)
    """,
]
PENDING, DONE = "pending", "done"
_COLUMNS = "id, at, actor, action, source_id, url, detail, target"
_NO_ROW = 2**63 - 1  # above every row id


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    source_id: str
    url: str
    detail: str
    target: str = ""  # the corpus file the change created or removed (relative name)


class AuditLog(Component):
    """Who added, removed or restored which source, when, and from which URL."""

    component = "audit"
    migrations = AUDIT_MIGRATIONS

    def record(
        self, actor: str, action: str, source_id: str = "", url: str = "", detail: str = ""
    ) -> None:
        """A done row at once (for events that change no file)."""
        self._insert(DONE, actor, action, source_id, url, detail, "")

    def begin(
        self,
        actor: str,
        action: str,
        source_id: str,
        url: str = "",
        detail: str = "",
        target: str = "",
    ) -> int:
        """A pending row for a change about to be made to ``target``; returns its id."""
        return self._insert(PENDING, actor, action, source_id, url, detail, target)

    def done(self, row_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE audit SET state = ? WHERE id = ?", (DONE, row_id))

    def abandon(self, row_id: int) -> None:
        """The change failed and did not happen: its pending row goes."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM audit WHERE id = ? AND state = ?", (row_id, PENDING))

    def pending(self) -> list[AuditEntry]:
        if not self.path.exists():
            return []
        with self.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit WHERE state = ? AND story_id = ? ORDER BY id",
                (PENDING, self.story_id),
            ).fetchall()
        return [_entry(row) for row in rows]

    def reconcile(self, happened: Callable[[AuditEntry], bool]) -> tuple[int, int]:
        """Settle the pending rows: done where ``happened(entry)``, deleted elsewhere. Only
        safe while no change is in flight (the caller holds the corpus lock). Returns
        (confirmed, dropped)."""
        confirmed = dropped = 0
        for entry in self.pending():
            with self.transaction() as conn:
                if happened(entry):
                    conn.execute("UPDATE audit SET state = ? WHERE id = ?", (DONE, entry.id))
                    confirmed += 1
                else:
                    conn.execute("DELETE FROM audit WHERE id = ?", (entry.id,))
                    dropped += 1
        return confirmed, dropped

    def entries(
        self, source_id: str | None = None, limit: int | None = 50, *, action: str = ""
    ) -> list[AuditEntry]:
        """The newest done entries first, optionally only those about one source or of one
        ``action``; ``limit`` None: all of them."""
        if not self.path.exists():
            return []
        if source_id and not _is_text(source_id):
            return []  # e.g. a non-UTF-8 argv byte: no source has such an id
        query = f"SELECT {_COLUMNS} FROM audit WHERE state = ? AND story_id = ?"
        params: tuple = (DONE, self.story_id)
        if source_id:
            query += " AND source_id = ?"
            params += (source_id,)
        if action:
            query += " AND action = ?"
            params += (action,)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params += (limit,)
        with self.transaction() as conn:
            rows = conn.execute(query, params).fetchall()
        return [_entry(row) for row in rows]

    def since(self, after_id: int, action: str, limit: int = 100) -> list[AuditEntry]:
        """Done entries of one action after the row ``after_id``, oldest first, and none at or
        after the first row still pending: a cursor moved to the last entry returned never
        passes a change that may yet be done (announcements read the adds this way, whichever
        process made them)."""
        if not self.path.exists():
            return []
        story = self.story_id
        params = (after_id, action, DONE, story, after_id, PENDING, story, _NO_ROW, limit)
        with self.transaction() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit WHERE id > ? AND action = ? AND state = ? "
                "AND story_id = ? AND id < COALESCE((SELECT MIN(id) FROM audit WHERE id > ? "
                "AND state = ? AND story_id = ?), ?) ORDER BY id LIMIT ?",
                params,
            ).fetchall()
        return [_entry(row) for row in rows]

    def last_id(self) -> int:
        if not self.path.exists():
            return 0
        with self.transaction() as conn:
            return conn.execute(
                "SELECT COALESCE(MAX(id), 0) FROM audit WHERE story_id = ?", (self.story_id,)
            ).fetchone()[0]

    def _insert(self, state: str, actor: str, action: str, *fields: str) -> int:
        with self.transaction() as conn:
            return _insert_row(conn, self.story_id, state, actor, action, *fields)


def record_in(
    conn: sqlite3.Connection, story_id: int, actor: str, action: str, detail: str = ""
) -> None:
    """A done row written inside the caller's transaction, for a change to a story itself
    (created, renamed, archived): the change and its record commit together or not at all.
    The caller's component lists ``AuditLog`` in ``writes_also`` (the table exists)."""
    _insert_row(conn, story_id, DONE, actor, action, "", "", detail, "")


def _insert_row(
    conn: sqlite3.Connection, story_id: int, state: str, actor: str, action: str, *fields: str
) -> int:
    """``fields``: source_id, url, detail, target."""
    cursor = conn.execute(
        "INSERT INTO audit (at, actor, action, source_id, url, detail, target, state,"
        " story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (now_iso(), _text(actor) or "unknown", action, *map(_text, fields), state, story_id),
    )
    return int(cursor.lastrowid or 0)


def _entry(row: tuple) -> AuditEntry:
    return AuditEntry(*(value if value is not None else "" for value in row))


def _text(value: str) -> str:
    """``value`` storable as UTF-8 (a lone surrogate from a non-UTF-8 argv becomes "?")."""
    return value if _is_text(value) else value.encode("utf-8", "replace").decode("utf-8")


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
