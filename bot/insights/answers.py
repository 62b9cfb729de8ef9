"""Answers the bot has posted, kept so that their buttons work for weeks and across restarts.

A button under an answer carries only the answer's id (in its ``custom_id``); everything the
button needs is a row here: the question (More asks it again), how many excerpts the answer
showed, whether it was answered, the question log's row (votes count there), who asked (only
the asker may delete it) and whether it was posted as an interaction reply (deleted through
the interaction's webhook) or as a reply to a message (deleted through the channel).

No member id is stored, here or in the question log. Who asked, and who voted on which answer
(one vote per member per answer), are kept as *member tags*: an HMAC-SHA256 of the answer id
and the member id under a secret key that lives in its own file in the state directory
(``members.key``), not in the database. So the database alone does not say who asked or
voted; the tags of one member differ from answer to answer (no profile across answers); and
deleting the key file unlinks every tag at once (old answers then can't be deleted by their
askers, and old votes no longer block a second vote).

Rows older than ``[stats] retention_days`` are purged (votes with their answer), like the
question log; a button on a purged answer says so.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import iso
from bot.files import atomic_write
from bot.insights.database import DEFAULT_STORY_ID, Component

ANSWER_MIGRATIONS = [
    """
CREATE TABLE answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- in the buttons' custom_ids: never reused
    created_at TEXT NOT NULL,              -- ISO 8601, UTC
    question TEXT NOT NULL,
    shown INTEGER NOT NULL,                -- excerpts the answer showed
    answered INTEGER NOT NULL,
    question_id INTEGER,                   -- the question log's row (NULL: not logged)
    asker TEXT NOT NULL,                   -- member tag of who asked
    via_interaction INTEGER NOT NULL       -- 1: an interaction reply, 0: a channel message
);
CREATE INDEX answers_created_at ON answers (created_at);
CREATE TABLE answer_votes (
    answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    voter TEXT NOT NULL,                   -- member tag
    PRIMARY KEY (answer_id, voter)
) WITHOUT ROWID
""",
    # Stories: every answer belongs to one (answers from before stories: the default story).
    # Ids stay unique across stories: a button carries only the id and finds its story here.
    "ALTER TABLE answers ADD COLUMN story_id INTEGER NOT NULL DEFAULT 1",
]
KEY_FILE = "members.key"
KEY_BYTES = 32
TAG_HEX_CHARS = 32  # 128 bits of the HMAC: collisions are not a concern


@dataclass(frozen=True)
class StoredAnswer:
    """What the buttons under one answer need."""

    id: int
    created_at: str
    question: str
    shown: int
    answered: bool
    question_id: int | None
    asker: str
    via_interaction: bool
    story_id: int = DEFAULT_STORY_ID  # the story that answered (More and votes ask it again)


def member_key(state_dir: Path) -> bytes:
    """The secret key for member tags: read from ``members.key``, created (0600) if missing.

    Written whole and never replaced (``atomic_write(replace=False)``), so two processes
    starting at once agree on one key and neither reads a half-written one."""
    path = Path(state_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = secrets.token_bytes(KEY_BYTES)
        try:
            atomic_write(path, key, replace=False, private=True)
            return key
        except FileExistsError:
            pass  # another process was first: use its key
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise RuntimeError(f"{path} is not a storybot key ({len(key)} bytes)")
    return key


class AnswerStore(Component):
    """The ``answers`` and ``answer_votes`` tables of the state database."""

    component = "answers"
    migrations = ANSWER_MIGRATIONS

    def __init__(
        self,
        path: Path,
        key: bytes,
        *,
        retention_days: int = 90,
        story_id: int = DEFAULT_STORY_ID,
    ) -> None:
        """``story_id``: the story whose answers ``save`` stores (``get`` finds any story's)."""
        super().__init__(path, story_id)
        self._key = key
        self.retention_days = retention_days
        self._purged_on: str | None = None  # the UTC day of the last purge while saving

    def tag(self, answer_id: int, member_id: int) -> str:
        """The member tag of ``member_id`` for this answer (see the module docstring)."""
        message = f"{answer_id}:{member_id}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:TAG_HEX_CHARS]

    def save(
        self,
        *,
        question: str,
        shown: int,
        answered: bool,
        question_id: int | None,
        asker_id: int,
        via_interaction: bool,
        when: datetime | None = None,
    ) -> StoredAnswer:
        """Store a posted answer; returns it with its new id. Purges old rows once a day."""
        when = when or datetime.now(UTC)
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO answers (created_at, question, shown, answered, question_id, asker,"
                " via_interaction, story_id) VALUES (?, ?, ?, ?, ?, '', ?, ?)",
                (
                    iso(when),
                    question,
                    shown,
                    int(answered),
                    question_id,
                    int(via_interaction),
                    self.story_id,
                ),
            )
            answer_id = cursor.lastrowid
            # The tag needs the id, which the insert just chose.
            asker = self.tag(answer_id, asker_id)
            db.execute("UPDATE answers SET asker = ? WHERE id = ?", (asker, answer_id))
        today = when.astimezone(UTC).date().isoformat()
        if self._purged_on != today:
            self._purged_on = today
            self.purge(now=when)
        return StoredAnswer(
            answer_id,
            iso(when),
            question,
            shown,
            answered,
            question_id,
            asker,
            via_interaction,
            self.story_id,
        )

    def get(self, answer_id: int, now: datetime | None = None) -> StoredAnswer | None:
        """The stored answer, or None (never stored, deleted, or past the retention period
        even if not purged yet)."""
        if not self.path.exists():
            return None
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, created_at, question, shown, answered, question_id, asker,"
                " via_interaction, story_id FROM answers WHERE id = ? AND created_at >= ?",
                (answer_id, iso(self._cutoff(now))),
            ).fetchone()
        if row is None:
            return None
        return StoredAnswer(
            row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], bool(row[7]), row[8]
        )

    def is_asker(self, answer: StoredAnswer, member_id: int) -> bool:
        return hmac.compare_digest(answer.asker, self.tag(answer.id, member_id))

    def add_vote(self, answer_id: int, member_id: int) -> bool:
        """Note that this member voted on this answer; False if they already had (or the
        answer is gone). Atomic: of two simultaneous presses, one wins."""
        try:
            with self.transaction() as db:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO answer_votes (answer_id, voter) VALUES (?, ?)",
                    (answer_id, self.tag(answer_id, member_id)),
                )
                return cursor.rowcount == 1
        except sqlite3.IntegrityError:  # the answer was deleted or purged meanwhile
            return False

    def delete(self, answer_id: int) -> bool:
        """Forget an answer (and its votes), e.g. once its message is deleted."""
        with self.transaction() as db:
            return db.execute("DELETE FROM answers WHERE id = ?", (answer_id,)).rowcount == 1

    def purge(self, now: datetime | None = None) -> int:
        """Delete answers (and their votes) older than the retention period; returns how many."""
        if not self.path.exists():
            return 0
        with self.transaction() as db:
            cutoff = iso(self._cutoff(now))
            return db.execute("DELETE FROM answers WHERE created_at < ?", (cutoff,)).rowcount

    def _cutoff(self, now: datetime | None) -> datetime:
        return (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
