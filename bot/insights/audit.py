"""The audit log: who added, removed or restored which source, when, and from which URL."""

from __future__ import annotations

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
]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    source_id: str
    url: str
    detail: str


class AuditLog(Component):
    """Who added, removed or restored which source, when, and from which URL."""

    component = "audit"
    migrations = AUDIT_MIGRATIONS

    def record(
        self, actor: str, action: str, source_id: str = "", url: str = "", detail: str = ""
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO audit (at, actor, action, source_id, url, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (now_iso(), actor or "unknown", action, source_id, url, detail),
            )

    def since(self, after_id: int, action: str, limit: int = 100) -> list[AuditEntry]:
        """Entries of one action after the row ``after_id``, oldest first."""
        if not self.path.exists():
            return []
        with self.transaction() as conn:
            rows = conn.execute(
                "SELECT id, at, actor, action, source_id, url, detail FROM audit "
                "WHERE id > ? AND action = ? ORDER BY id LIMIT ?",
                (after_id, action, limit),
            ).fetchall()
        return [AuditEntry(*(value if value is not None else "" for value in row)) for row in rows]

    def last_id(self) -> int:
        if not self.path.exists():
            return 0
        with self.transaction() as conn:
            return conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]

    def entries(self, source_id: str | None = None, limit: int = 50) -> list[AuditEntry]:
        """The newest entries first, optionally only those about one source."""
        if not self.path.exists():
            return []
        query = "SELECT id, at, actor, action, source_id, url, detail FROM audit"
        params: tuple = ()
        if source_id:
            query += " WHERE source_id = ?"
            params = (source_id,)
        query += " ORDER BY id DESC LIMIT ?"
        with self.transaction() as conn:
            rows = conn.execute(query, (*params, limit)).fetchall()
        return [AuditEntry(*(value if value is not None else "" for value in row)) for row in rows]
