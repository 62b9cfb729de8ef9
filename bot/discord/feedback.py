"""Helpful / Not helpful votes on answers, kept for moderators.

``FeedbackSink`` is the interface the buttons use; ``SqliteFeedback`` stores one vote per user
per answer in ``<state_dir>/feedback.sqlite3`` (a later change of mind replaces the vote).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.corpus import now_iso


@dataclass(frozen=True)
class Vote:
    message_id: int
    user_id: int
    question: str
    source_ids: tuple[str, ...]
    helpful: bool
    guild_id: int | None = None


class FeedbackSink(Protocol):
    def record(self, vote: Vote) -> None: ...

    def counts(self) -> tuple[int, int]:
        """(helpful, not helpful) over all answers."""
        ...


class MemoryFeedback:
    """Votes in a dict (tests, or a bot without a state directory)."""

    def __init__(self) -> None:
        self.votes: dict[tuple[int, int], Vote] = {}

    def record(self, vote: Vote) -> None:
        self.votes[(vote.message_id, vote.user_id)] = vote

    def counts(self) -> tuple[int, int]:
        helpful = sum(v.helpful for v in self.votes.values())
        return helpful, len(self.votes) - helpful


class SqliteFeedback:
    SCHEMA = """
        CREATE TABLE IF NOT EXISTS feedback (
            message_id INTEGER NOT NULL,
            user_id INTEGER NOT NULL,
            guild_id INTEGER,
            question TEXT NOT NULL,
            source_ids TEXT NOT NULL,
            helpful INTEGER NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (message_id, user_id)
        )
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._db:
            self._db.execute(self.SCHEMA)

    def record(self, vote: Vote) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    vote.message_id,
                    vote.user_id,
                    vote.guild_id,
                    vote.question,
                    " ".join(vote.source_ids),
                    int(vote.helpful),
                    now_iso(),
                ),
            )

    def counts(self) -> tuple[int, int]:
        with self._lock:
            row = self._db.execute(
                "SELECT COALESCE(SUM(helpful), 0), COUNT(*) - COALESCE(SUM(helpful), 0) "
                "FROM feedback"
            ).fetchone()
        return int(row[0]), int(row[1])

    def close(self) -> None:
        self._db.close()
