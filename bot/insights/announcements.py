"""Announcements of new sources: what an adapter posts when a source is added, by any path.

Every add (Discord, the command line, an accepted feed candidate, another process) leaves an
``add`` row in the audit log; announcements are those rows, each with the source's title,
publisher and link and the earlier questions it now answers: gaps of the question log (asked,
not answered or voted "Not helpful") that the corpus now answers by quoting this source, which
was added after the gap was last asked. A cursor in the database remembers the last row
announced, so a restart neither repeats nor skips one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.insights.database import Component
from bot.insights.questionlog import Gap
from bot.sources.corpus import Source

if TYPE_CHECKING:  # the index and spaCy load only when a story is asked
    from bot.search.retrieval import Answer

ANNOUNCEMENT_MIGRATIONS = [
    """
    CREATE TABLE announce_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        audit_id INTEGER NOT NULL             -- the last audit row announced
    )
    """,
    # Stories: one cursor per story (the one cursor there was is the default story's).
    """
    CREATE TABLE announce_cursors (
        story_id INTEGER PRIMARY KEY,
        audit_id INTEGER NOT NULL
    );
    INSERT INTO announce_cursors (story_id, audit_id) SELECT 1, audit_id FROM announce_cursor;
    DROP TABLE announce_cursor
    """,
]


@dataclass(frozen=True)
class Announcement:
    audit_id: int  # the audit log's row for the add (0 when built for a source directly)
    source: Source
    added_by: str
    at: str
    answers: tuple[str, ...] = ()  # earlier unanswered questions it now answers (latest wording)


class AnnouncementCursor(Component):
    """The last audit row an adapter announced, per story."""

    component = "announcements"
    migrations = ANNOUNCEMENT_MIGRATIONS

    def get(self) -> int | None:
        """None until the first announcement round (which starts from the present)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT audit_id FROM announce_cursors WHERE story_id = ?", (self.story_id,)
            ).fetchone()
        return row[0] if row else None

    def advance(self, audit_id: int) -> None:
        """Move the cursor to ``audit_id`` (never backwards)."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO announce_cursors (story_id, audit_id) VALUES (?, ?) "
                "ON CONFLICT(story_id) DO UPDATE SET audit_id = MAX(audit_id, excluded.audit_id)",
                (self.story_id, audit_id),
            )


def answered_by(source: Source, gaps: Iterable[Gap], ask: Callable[[str], Answer]) -> list[str]:
    """The gaps' questions that the corpus now answers by quoting ``source``, added after they
    were last asked."""
    found = []
    for gap in gaps:
        if source.added_at < gap.last_asked:
            continue
        answer = ask(gap.question)
        if answer.answered and any(e.source.id == source.id for e in answer.excerpts):
            found.append(gap.question)
    return found
