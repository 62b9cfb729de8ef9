"""What members asked, for moderators: the record, its retention, and the gaps it shows.

Each question asked through the bot is a row in the state database: text, time, server (Discord),
origin (``discord`` or ``cli``), answered or not, top score, the sources quoted, and the Helpful /
Not helpful votes. No user ids are stored.
``[stats] log_questions = false`` turns recording off; rows older than ``retention_days`` are
purged.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import iso
from bot.insights.database import Component, database_path
from bot.search.retrieval import Answer
from bot.sources.corpus import Source

QUESTION_MIGRATIONS = [
    """
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    asked_at TEXT NOT NULL,          -- ISO 8601, UTC
    server TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    top_score REAL,
    sources TEXT NOT NULL DEFAULT '[]',   -- JSON list of quoted source ids, best first
    helpful INTEGER NOT NULL DEFAULT 0,
    not_helpful INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX questions_asked_at ON questions (asked_at)
""",
    # Which front end asked: 'discord' or 'cli'. Rows recorded before this column existed all
    # came from Discord (the CLI did not record), hence the default.
    "ALTER TABLE questions ADD COLUMN origin TEXT NOT NULL DEFAULT 'discord'",
]
# The front ends that record questions (``origin``).
ORIGINS = ("discord", "cli")
# Two questions whose informative words overlap this much (Jaccard) are one gap.
NEAR_DUPLICATE = 0.5


@dataclass(frozen=True)
class Gap:
    """Unanswered or "Not helpful" questions that ask the same thing."""

    question: str  # the most recent wording
    count: int
    variants: tuple[str, ...]
    last_asked: str
    unanswered: int
    not_helpful: int


@dataclass
class Stats:
    days: list[tuple[str, int, int]] = field(default_factory=list)  # (day, asked, answered)
    asked: int = 0
    answered: int = 0
    helpful: int = 0
    not_helpful: int = 0
    top_sources: list[tuple[str, int]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    origins: dict[str, int] = field(default_factory=dict)  # questions per front end

    @property
    def answer_rate(self) -> float | None:
        """Answered over asked; None when nothing was asked (shown as "—", not 0 %)."""
        return self.answered / self.asked if self.asked else None

    @property
    def helpful_rate(self) -> float | None:
        """Helpful over all votes; None without votes (shown as "—", not 0 %)."""
        votes = self.helpful + self.not_helpful
        return self.helpful / votes if votes else None


class QuestionLog(Component):
    component = "questions"
    migrations = QUESTION_MIGRATIONS

    def __init__(self, path: Path, *, enabled: bool = True, retention_days: int = 90) -> None:
        super().__init__(path)
        self.enabled = enabled
        self.retention_days = retention_days
        self._purged_on: str | None = None  # the UTC day of the last purge while recording

    def record(
        self,
        answer: Answer,
        server: str = "",
        when: datetime | None = None,
        origin: str = "discord",
    ) -> int | None:
        """Store one asked question; returns its row id (None when logging is off).
        ``origin`` is the front end that asked (one of ORIGINS)."""
        if not self.enabled:
            return None
        if origin not in ORIGINS:
            raise ValueError(f"unknown origin {origin!r}")
        when = when or datetime.now(UTC)
        sources = list(dict.fromkeys(e.source.id for e in answer.excerpts))
        top = answer.excerpts[0].score if answer.excerpts else None
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO questions"
                " (asked_at, server, question, answered, top_score, sources, origin)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    iso(when),
                    server,
                    answer.question,
                    int(answer.answered),
                    top,
                    json.dumps(sources),
                    origin,
                ),
            )
            row_id = cursor.lastrowid
        # A long-running bot keeps the retention promise: old rows go once a day.
        today = when.astimezone(UTC).date().isoformat()
        if self._purged_on != today:
            self._purged_on = today
            self.purge(now=when)
        return row_id

    def vote(self, question_id: int, helpful: bool) -> bool:
        """Count a Helpful / Not helpful vote; False if the question is not (or no more) logged."""
        if not self.enabled:
            return False
        column = "helpful" if helpful else "not_helpful"
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE questions SET {column} = {column} + 1 WHERE id = ?", (question_id,)
            )
            return cursor.rowcount == 1

    def purge(self, now: datetime | None = None) -> int:
        """Delete rows older than the retention period; returns how many."""
        if not self.enabled:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.retention_days)
        with self.transaction() as db:
            return db.execute("DELETE FROM questions WHERE asked_at < ?", (iso(cutoff),)).rowcount

    def rows(self, since: datetime | None = None) -> list[sqlite3.Row]:
        if not self.enabled or not self.path.exists():
            return []
        with self.transaction() as db:
            db.row_factory = sqlite3.Row
            return db.execute(
                "SELECT * FROM questions WHERE asked_at >= ? ORDER BY asked_at, id",
                (iso(since) if since else "",),
            ).fetchall()

    def stats(
        self,
        terms_of: Callable[[str], Iterable[str]],
        days: int = 30,
        now: datetime | None = None,
        limit: int = 10,
    ) -> Stats:
        """Figures over the last ``days`` days; ``terms_of`` gives a question's informative words
        (the analyzer's terms), used to group near-duplicate gaps."""
        now = now or datetime.now(UTC)
        rows = self.rows(now - timedelta(days=days))
        stats = Stats()
        per_day: dict[str, list[int]] = {}
        quoted: Counter[str] = Counter()
        for row in rows:
            day = per_day.setdefault(row["asked_at"][:10], [0, 0])
            day[0] += 1
            day[1] += row["answered"]
            stats.helpful += row["helpful"]
            stats.not_helpful += row["not_helpful"]
            quoted.update(json.loads(row["sources"]))
        stats.days = [(d, asked, answered) for d, (asked, answered) in sorted(per_day.items())]
        stats.asked = len(rows)
        stats.answered = sum(row["answered"] for row in rows)
        stats.top_sources = quoted.most_common(limit)
        stats.origins = dict(Counter(row["origin"] for row in rows).most_common())
        gaps = [r for r in rows if not r["answered"] or r["not_helpful"] > r["helpful"]]
        stats.gaps = group_gaps(gaps, terms_of)[:limit]
        return stats


def group_gaps(rows: list, terms_of: Callable[[str], Iterable[str]]) -> list[Gap]:
    """Cluster questions whose term sets overlap by at least NEAR_DUPLICATE (Jaccard), biggest
    cluster first. Each row needs question, asked_at, answered, helpful, not_helpful."""
    clusters: list[tuple[set[str], list]] = []
    for row in rows:
        terms = set(terms_of(row["question"])) or {row["question"].casefold().strip()}
        for cluster_terms, members in clusters:
            if len(terms & cluster_terms) / len(terms | cluster_terms) >= NEAR_DUPLICATE:
                members.append(row)
                cluster_terms |= terms
                break
        else:
            clusters.append((set(terms), [row]))
    gaps = []
    for _, members in clusters:
        # The most recent wording; among equal times, the one recorded last.
        _, latest = max(enumerate(members), key=lambda pair: (pair[1]["asked_at"], pair[0]))
        gaps.append(
            Gap(
                question=latest["question"],
                count=len(members),
                variants=tuple(dict.fromkeys(m["question"] for m in members)),
                last_asked=latest["asked_at"],
                unanswered=sum(1 for m in members if not m["answered"]),
                not_helpful=sum(m["not_helpful"] for m in members),
            )
        )
    gaps.sort(key=lambda g: g.last_asked, reverse=True)
    gaps.sort(key=lambda g: g.count, reverse=True)  # stable: ties stay most recent first
    return gaps


def newly_answered(gaps: Iterable[Gap], ask: Callable[[str], Answer]) -> list[tuple[Gap, Source]]:
    """Gaps that the corpus answers now by quoting a source added since the gap was last
    asked, with that source: what a moderator's new source fixed."""
    fixed = []
    for gap in gaps:
        answer = ask(gap.question)
        if not answer.answered:
            continue
        newer = [e.source for e in answer.excerpts if e.source.added_at >= gap.last_asked]
        if newer:
            fixed.append((gap, newer[0]))
    return fixed


def open_log(config) -> QuestionLog:
    """The question log of a Config (its [stats] settings, its state directory)."""
    settings = config.stats
    return QuestionLog(
        database_path(config.state_dir),
        enabled=settings.log_questions,
        retention_days=settings.retention_days,
    )
