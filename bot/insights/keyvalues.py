"""Small facts the bot keeps between runs, by name: e.g. the hash of the slash commands it
last registered with Discord (so that a restart with the same commands does not sync again)."""

from __future__ import annotations

from bot.clock import now_iso
from bot.insights.database import Component

KEY_VALUE_MIGRATIONS = [
    """
CREATE TABLE key_values (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
""",
]


class KeyValues(Component):
    component = "key_values"
    migrations = KEY_VALUE_MIGRATIONS

    def get(self, key: str) -> str | None:
        if not self.path.exists():
            return None
        with self.transaction() as db:
            row = db.execute("SELECT value FROM key_values WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO key_values (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (key, value, now_iso()),
            )

    def delete(self, key: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM key_values WHERE key = ?", (key,))
