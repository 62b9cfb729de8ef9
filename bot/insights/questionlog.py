"""What members asked, for moderators: the record, its retention, and the gaps it shows.

Each question asked through the bot is a row in the state database: text, time, server (Discord),
origin (``discord`` or ``cli``), answered or not, top score, the sources quoted, and the Helpful /
Not helpful votes. No user ids are stored.
``[stats] log_questions = false`` turns recording off; rows older than ``retention_days`` are
purged whatever that setting (rows logged before it was turned off go too).

Gaps (unanswered or "Not helpful" questions) are grouped in near-linear time: each distinct
wording's terms are computed once, and a question is compared only with the groups that share
one of its rarest terms (prefix filtering over an inverted index), at most MAX_CANDIDATES of
them; at most MAX_GAP_WORDINGS distinct wordings, the most recent, are grouped.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.clock import iso
from bot.insights.database import DEFAULT_STORY_ID, Component, database_path
from bot.sources.corpus import Source

if TYPE_CHECKING:  # the index and spaCy load only when a story is asked
    from bot.search.retrieval import Answer

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
    # Stories: every row belongs to one (rows from before stories: the default story).
    """
ALTER TABLE questions ADD COLUMN story_id INTEGER NOT NULL DEFAULT 1;
CREATE INDEX questions_story ON questions (story_id, asked_at)
""",
    # The question's informative words (JSON), stored by the process that asked it (its
    # spaCy pipeline is loaded anyway), so grouping gaps needs no spaCy. NULL: recorded
    # before; those are analysed when grouped.
    "ALTER TABLE questions ADD COLUMN terms TEXT",
    # The reply's kind (answer, closest, nothing); '' for rows recorded before.
    "ALTER TABLE questions ADD COLUMN kind TEXT NOT NULL DEFAULT ''",
]
# The front ends that record questions (``origin``).
ORIGINS = ("discord", "cli")
# Two questions whose informative words overlap this much (Jaccard) are one gap.
NEAR_DUPLICATE = 0.5
# Bounds on the work of grouping gaps: the most recent distinct wordings grouped, the groups
# one wording is compared with, the variants a gap lists.
MAX_GAP_WORDINGS = 20_000
MAX_CANDIDATES = 64
MAX_VARIANTS = 20


@dataclass(frozen=True)
class Gap:
    """Unanswered or "Not helpful" questions that ask the same thing."""

    question: str  # the most recent wording
    count: int
    variants: tuple[str, ...]
    last_asked: str
    unanswered: int
    not_helpful: int
    # Of the unanswered: replies that said nothing in the sources is about it (off-topic, or
    # words the story never uses); the rest got the closest passages.
    nothing: int = 0


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

    def __init__(
        self,
        path: Path,
        *,
        enabled: bool = True,
        retention_days: int = 90,
        story_id: int = DEFAULT_STORY_ID,
    ) -> None:
        super().__init__(path, story_id)
        self.enabled = enabled
        self.retention_days = retention_days
        self._purged_on: str | None = None  # the UTC day of the last purge while recording

    def record(
        self,
        answer: Answer,
        server: str = "",
        when: datetime | None = None,
        origin: str = "discord",
        terms: Iterable[str] | None = None,
    ) -> int | None:
        """Store one asked question; returns its row id (None when logging is off). ``origin``
        is the front end that asked (one of ORIGINS); ``terms``, its informative words (the
        analyzer's), kept for grouping gaps. Rows past retention are purged once a day
        either way."""
        if origin not in ORIGINS:
            raise ValueError(f"unknown origin {origin!r}")
        when = when or datetime.now(UTC)
        if not self.enabled:
            self._purge_daily(when)
            return None
        sources = list(dict.fromkeys(e.source.id for e in answer.excerpts))
        top = answer.excerpts[0].score if answer.excerpts else None
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT INTO questions"
                " (asked_at, server, question, answered, top_score, sources, origin, story_id,"
                " terms, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    iso(when),
                    server,
                    answer.question,
                    int(answer.answered),
                    top,
                    json.dumps(sources),
                    origin,
                    self.story_id,
                    None if terms is None else json.dumps(list(terms)),
                    answer.kind,
                ),
            )
            row_id = cursor.lastrowid
        self._purge_daily(when)
        return row_id

    def _purge_daily(self, when: datetime) -> None:
        # A long-running bot keeps the retention promise: old rows go once a day.
        today = when.astimezone(UTC).date().isoformat()
        if self._purged_on != today:
            self._purged_on = today
            self.purge(now=when)

    def vote(self, question_id: int, helpful: bool) -> bool:
        """Count a Helpful / Not helpful vote; False if the question is not (or no more) logged."""
        if not self.enabled:
            return False
        column = "helpful" if helpful else "not_helpful"
        with self.transaction() as db:
            cursor = db.execute(
                f"UPDATE questions SET {column} = {column} + 1 WHERE id = ? AND story_id = ?",
                (question_id, self.story_id),
            )
            return cursor.rowcount == 1

    def purge(self, now: datetime | None = None) -> int:
        """Delete rows older than the retention period, whether logging is on or off (never
        creating a database that does not exist); returns how many."""
        if not self.enabled and not self.path.exists():
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
                "SELECT * FROM questions WHERE asked_at >= ? AND story_id = ?"
                " ORDER BY asked_at, id",
                (iso(since) if since else "", self.story_id),
            ).fetchall()

    def stats(
        self,
        terms_of: Callable[[str], Iterable[str]],
        days: int = 30,
        now: datetime | None = None,
        limit: int = 10,
    ) -> Stats:
        """Figures over the last ``days`` days; ``terms_of`` gives a question's informative words
        (the analyzer's terms), used to group near-duplicate gaps. The figures are counted by
        SQLite; only the gap rows come to Python."""
        stats = Stats()
        if not self.enabled or not self.path.exists():
            return stats
        since = iso((now or datetime.now(UTC)) - timedelta(days=days))
        with self.transaction() as db:
            per_day = db.execute(
                "SELECT substr(asked_at, 1, 10), COUNT(*), SUM(answered), SUM(helpful),"
                " SUM(not_helpful) FROM questions WHERE asked_at >= ? AND story_id = ?"
                " GROUP BY 1 ORDER BY 1",
                (since, self.story_id),
            ).fetchall()
            # Ties in the order they were first quoted (as a Counter would keep them).
            quoted = db.execute(
                "SELECT quoted.value, COUNT(*) FROM questions, json_each(questions.sources)"
                " AS quoted WHERE asked_at >= ? AND story_id = ? GROUP BY quoted.value"
                " ORDER BY COUNT(*) DESC, MIN(asked_at), MIN(questions.id) LIMIT ?",
                (since, self.story_id, limit),
            ).fetchall()
            db.row_factory = sqlite3.Row
            origins = db.execute(
                "SELECT origin, COUNT(*) FROM questions WHERE asked_at >= ? AND story_id = ?"
                " GROUP BY origin ORDER BY COUNT(*) DESC, origin",
                (since, self.story_id),
            ).fetchall()
            gaps = db.execute(
                "SELECT question, asked_at, answered, helpful, not_helpful, terms, kind"
                " FROM questions"
                " WHERE asked_at >= ? AND story_id = ? AND (answered = 0 OR not_helpful > helpful)"
                " ORDER BY asked_at, id",
                (since, self.story_id),
            ).fetchall()
        stats.days = [(day, asked, answered) for day, asked, answered, _, _ in per_day]
        stats.asked = sum(row[1] for row in per_day)
        stats.answered = sum(row[2] for row in per_day)
        stats.helpful = sum(row[3] for row in per_day)
        stats.not_helpful = sum(row[4] for row in per_day)
        stats.top_sources = [(source, count) for source, count in quoted]
        stats.origins = {origin: count for origin, count in origins}
        stats.gaps = group_gaps(gaps, terms_of)[:limit]
        return stats


def _kind(row) -> str:
    """A row's reply kind ("" when it has none: recorded before kinds were kept)."""
    try:
        return row["kind"] or ""
    except (KeyError, IndexError):  # a dict without it; an sqlite3.Row without the column
        return ""


def group_gaps(rows: list, terms_of: Callable[[str], Iterable[str]]) -> list[Gap]:
    """Cluster questions whose term sets overlap by at least NEAR_DUPLICATE (Jaccard) with the
    first question of a group, biggest group first. Each row needs question, asked_at,
    answered, helpful, not_helpful; rows come oldest first.

    Near-linear with bounded work: terms are computed once per distinct wording (at most
    MAX_GAP_WORDINGS, the most recent; older ones are left out); wordings with the same terms
    are one; a term set is compared only with the groups sharing a term of its prefix (its
    rarest terms: two sets this similar always share one, the "prefix filter" of set
    similarity joins), at most MAX_CANDIDATES of them."""
    positions: dict[str, list[int]] = {}  # wording -> its rows' positions, newest first
    for pos in range(len(rows) - 1, -1, -1):  # newest first: the cap keeps recent wordings
        question = rows[pos]["question"]
        found = positions.get(question)
        if found is None:
            if len(positions) >= MAX_GAP_WORDINGS:
                continue
            found = positions[question] = []
        found.append(pos)
    by_terms: dict[frozenset[str], list[int]] = {}
    for question in sorted(positions, key=lambda q: positions[q][-1]):  # first asked first
        stored = _stored_terms(rows[positions[question][0]])
        terms = frozenset(terms_of(question) if stored is None else stored)
        terms = terms or frozenset({question.casefold().strip()})
        by_terms.setdefault(terms, []).extend(positions[question])
    gaps = []
    for group in _cluster(list(by_terms)):
        members = [rows[pos] for pos in sorted(p for terms in group for p in by_terms[terms])]
        # The most recent wording; among equal times, the one recorded last.
        _, latest = max(enumerate(members), key=lambda pair: (pair[1]["asked_at"], pair[0]))
        gaps.append(
            Gap(
                question=latest["question"],
                count=len(members),
                variants=tuple(dict.fromkeys(m["question"] for m in members))[:MAX_VARIANTS],
                last_asked=latest["asked_at"],
                unanswered=sum(1 for m in members if not m["answered"]),
                not_helpful=sum(m["not_helpful"] for m in members),
                nothing=sum(1 for m in members if _kind(m) == "nothing"),
            )
        )
    gaps.sort(key=lambda g: g.last_asked, reverse=True)
    gaps.sort(key=lambda g: g.count, reverse=True)  # stable: ties stay most recent first
    return gaps


def _stored_terms(row) -> list[str] | None:
    """The terms recorded with a question (None: recorded before they were, or not given)."""
    keys = row.keys() if hasattr(row, "keys") else ()
    if "terms" not in keys or row["terms"] is None:
        return None
    try:
        return [str(t) for t in json.loads(row["terms"])]
    except (ValueError, TypeError):
        return None


def _cluster(sets: list[frozenset[str]]) -> list[list[frozenset[str]]]:
    """Leader clustering of ``sets`` (in order): each joins the earliest group whose first set
    it resembles (Jaccard >= NEAR_DUPLICATE), else starts a group. Candidates come from an
    inverted index over the leaders' prefixes in a global rarest-first term order."""
    frequency = Counter(term for terms in sets for term in terms)
    rank = {term: i for i, term in enumerate(sorted(frequency, key=lambda t: (frequency[t], t)))}
    leaders: list[frozenset[str]] = []
    groups: list[list[frozenset[str]]] = []
    index: defaultdict[str, list[int]] = defaultdict(list)
    for terms in sets:
        # Sets with Jaccard >= t share at least ceil(t * |set|) terms, so they share one among
        # the first |set| - ceil(t * |set|) + 1 of either, in one global order.
        prefix = sorted(terms, key=rank.__getitem__)
        del prefix[len(prefix) - math.ceil(NEAR_DUPLICATE * len(prefix)) + 1 :]
        candidates: set[int] = set()
        for term in prefix:
            candidates.update(index[term][:MAX_CANDIDATES])
            if len(candidates) >= MAX_CANDIDATES:
                break
        for g in sorted(candidates):
            if len(terms & leaders[g]) >= NEAR_DUPLICATE * len(terms | leaders[g]):
                groups[g].append(terms)
                break
        else:
            for term in prefix:
                index[term].append(len(leaders))
            leaders.append(terms)
            groups.append([terms])
    return groups


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


def open_log(config, story_id: int = DEFAULT_STORY_ID) -> QuestionLog:
    """The question log of a Config (its [stats] settings, its state directory) for a story."""
    settings = config.stats
    return QuestionLog(
        database_path(config.state_dir),
        enabled=settings.log_questions,
        retention_days=settings.retention_days,
        story_id=story_id,
    )
