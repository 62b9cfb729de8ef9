"""Watched feeds, the items they listed and what became of each: tables in the state database.

``feeds`` holds each watched feed or page with its HTTP validators (ETag, Last-Modified), when
it was polled and is due again, and its run of failures (for backoff). ``feed_items`` holds
every item ever judged, once per normalised URL across all feeds, so an item is judged once
and a moderator's decision sticks: its ``status`` is one of

- ``pending``: a candidate waiting for a moderator (``accepting`` while being added);
- ``accepted`` / ``ignored``: a moderator's decision (who, when; the source id it became);
- ``off-topic``, ``known`` (URL already in the corpus, or removed from it by a moderator),
  ``duplicate`` (near-duplicate text of a source), ``refused`` (not a public http(s) address),
  ``failed`` (fetching it kept failing), ``retry`` (fetching it failed; tried again at the
  next poll).

Removing a feed keeps its items: their decisions still hold if it is added again. Items are
kept as long as a feed lists them (``last_seen``), so they are never judged twice; ``purge``
deletes the judgements no decision depends on once no feed has listed them for the retention
period, and slims moderators' old decisions to what keeps them (URL, status, who, when).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.insights.database import Component

FEED_MIGRATIONS = [
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        url_key TEXT NOT NULL UNIQUE,           -- normalize_url(url)
        kind TEXT NOT NULL,                     -- 'feed' (RSS/Atom) or 'page'
        title TEXT NOT NULL DEFAULT '',
        added_by TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL,
        etag TEXT NOT NULL DEFAULT '',
        last_modified TEXT NOT NULL DEFAULT '',
        last_polled_at TEXT NOT NULL DEFAULT '',
        last_status TEXT NOT NULL DEFAULT '',   -- 'ok', 'not modified' or the last error
        next_poll_at TEXT NOT NULL DEFAULT '',  -- '' = now
        failures INTEGER NOT NULL DEFAULT 0     -- in a row, reset by a success
    );
    CREATE TABLE feed_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        url_key TEXT NOT NULL UNIQUE,
        feed_id INTEGER,                        -- the feed that listed it first
        title TEXT NOT NULL DEFAULT '',
        summary TEXT NOT NULL DEFAULT '',
        publisher TEXT NOT NULL DEFAULT '',
        published TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        score REAL,
        terms TEXT NOT NULL DEFAULT '[]',       -- JSON: the item's words in the matched passage
        match_source TEXT NOT NULL DEFAULT '',  -- the corpus passage it matched best
        match_start INTEGER,
        match_end INTEGER,
        match_text TEXT NOT NULL DEFAULT '',    -- that passage's text when it was judged
        reason TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        found_at TEXT NOT NULL,
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL DEFAULT '',
        source_id TEXT NOT NULL DEFAULT '',
        posted TEXT NOT NULL DEFAULT ''         -- where an adapter showed it (e.g. a message)
    );
    CREATE INDEX feed_items_status ON feed_items (status, id)
    """,
    """
    ALTER TABLE feed_items ADD COLUMN text_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE feed_items ADD COLUMN canonical_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE feed_items ADD COLUMN last_seen TEXT NOT NULL DEFAULT '';
    ALTER TABLE feed_items ADD COLUMN shown_status TEXT NOT NULL DEFAULT '';
    CREATE INDEX feed_items_text_key ON feed_items (text_key);
    CREATE INDEX feed_items_canonical_key ON feed_items (canonical_key)
    """,
    # Stories: every feed and item belongs to one (those from before stories: the default
    # story); a URL is unique per story, so two stories may watch the same feed. SQLite cannot
    # change a UNIQUE constraint in place: the tables are rebuilt, rows and ids kept.
    """
    CREATE TABLE feeds_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        story_id INTEGER NOT NULL DEFAULT 1,
        url TEXT NOT NULL,
        url_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL DEFAULT '',
        added_by TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL,
        etag TEXT NOT NULL DEFAULT '',
        last_modified TEXT NOT NULL DEFAULT '',
        last_polled_at TEXT NOT NULL DEFAULT '',
        last_status TEXT NOT NULL DEFAULT '',
        next_poll_at TEXT NOT NULL DEFAULT '',
        failures INTEGER NOT NULL DEFAULT 0,
        UNIQUE (story_id, url_key)
    );
    INSERT INTO feeds_v2 (
        id, url, url_key, kind, title, added_by, added_at, etag, last_modified,
        last_polled_at, last_status, next_poll_at, failures
    ) SELECT
        id, url, url_key, kind, title, added_by, added_at, etag, last_modified,
        last_polled_at, last_status, next_poll_at, failures
    FROM feeds;
    DROP TABLE feeds;
    ALTER TABLE feeds_v2 RENAME TO feeds;
    CREATE TABLE feed_items_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        story_id INTEGER NOT NULL DEFAULT 1,
        url TEXT NOT NULL,
        url_key TEXT NOT NULL,
        feed_id INTEGER,
        title TEXT NOT NULL DEFAULT '',
        summary TEXT NOT NULL DEFAULT '',
        publisher TEXT NOT NULL DEFAULT '',
        published TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        score REAL,
        terms TEXT NOT NULL DEFAULT '[]',
        match_source TEXT NOT NULL DEFAULT '',
        match_start INTEGER,
        match_end INTEGER,
        match_text TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        found_at TEXT NOT NULL,
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL DEFAULT '',
        source_id TEXT NOT NULL DEFAULT '',
        posted TEXT NOT NULL DEFAULT '',
        text_key TEXT NOT NULL DEFAULT '',
        canonical_key TEXT NOT NULL DEFAULT '',
        last_seen TEXT NOT NULL DEFAULT '',
        shown_status TEXT NOT NULL DEFAULT '',
        UNIQUE (story_id, url_key)
    );
    INSERT INTO feed_items_v2 (
        id, url, url_key, feed_id, title, summary, publisher, published, status,
        score, terms, match_source, match_start, match_end, match_text, reason,
        attempts, found_at, decided_by, decided_at, source_id, posted, text_key, canonical_key,
        last_seen, shown_status
    ) SELECT
        id, url, url_key, feed_id, title, summary, publisher, published, status,
        score, terms, match_source, match_start, match_end, match_text, reason,
        attempts, found_at, decided_by, decided_at, source_id, posted, text_key, canonical_key,
        last_seen, shown_status
    FROM feed_items;
    DROP TABLE feed_items;
    ALTER TABLE feed_items_v2 RENAME TO feed_items;
    CREATE INDEX feed_items_status ON feed_items (story_id, status, id);
    CREATE INDEX feed_items_text_key ON feed_items (story_id, text_key);
    CREATE INDEX feed_items_canonical_key ON feed_items (story_id, canonical_key)
    """,
]
DECIDED = ("accepted", "ignored")
# Judgements no moderator made: deleted once no feed lists them (``FeedStore.purge``).
UNDECIDED = ("off-topic", "known", "duplicate", "refused", "failed")
STATUSES = (
    "pending",
    "accepting",
    *DECIDED,
    "off-topic",
    "known",
    "duplicate",
    "refused",
    "failed",
    "retry",
)
_FEED_COLUMNS = (
    "id, url, kind, title, added_by, added_at, etag, last_modified, last_polled_at, "
    "last_status, next_poll_at, failures"
)
_ITEM_COLUMNS = (
    "i.id, i.url, i.title, i.summary, i.publisher, i.published, i.feed_id, "
    "COALESCE(f.title, ''), i.status, i.score, i.terms, i.match_source, i.match_start, "
    "i.match_end, i.match_text, i.reason, i.attempts, i.found_at, i.decided_by, i.decided_at, "
    "i.source_id, i.posted, i.story_id"
)


class FeedStoreError(ValueError):
    """A feed or candidate that does not exist or cannot change so; the message says why."""


@dataclass(frozen=True)
class Feed:
    id: int
    url: str
    kind: str
    title: str
    added_by: str
    added_at: str
    etag: str = ""
    last_modified: str = ""
    last_polled_at: str = ""
    last_status: str = ""
    next_poll_at: str = ""
    failures: int = 0

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


@dataclass(frozen=True)
class Candidate:
    """An item a feed listed, with how it was judged (and, for a candidate, decided)."""

    id: int
    url: str
    title: str
    summary: str
    publisher: str
    published: str
    feed_id: int | None
    feed_title: str
    status: str
    score: float | None
    terms: tuple[str, ...]
    match_source: str
    match_start: int | None
    match_end: int | None
    match_text: str
    reason: str
    attempts: int
    found_at: str
    decided_by: str
    decided_at: str
    source_id: str
    posted: str = ""  # the adapter's reference to where it showed the candidate, if it did
    story_id: int = 1  # the story whose review queue it is in


@dataclass(frozen=True)
class Judged:
    """What the poller found out about one item, to record."""

    url: str
    url_key: str
    feed_id: int
    status: str
    title: str = ""
    summary: str = ""
    publisher: str = ""
    published: str = ""
    score: float | None = None
    terms: tuple[str, ...] = ()
    match_source: str = ""
    match_start: int | None = None
    match_end: int | None = None
    match_text: str = ""
    reason: str = ""
    # The same article under another URL: a hash of its words, the address it names as its own.
    text_key: str = ""
    canonical_key: str = ""


class FeedStore(Component):
    component = "feeds"
    migrations = FEED_MIGRATIONS

    # -- feeds ---------------------------------------------------------------------------------

    def add_feed(
        self, url: str, url_key: str, kind: str, added_by: str, at: str, *, title: str = ""
    ) -> Feed:
        try:
            with self.transaction() as db:
                cursor = db.execute(
                    "INSERT INTO feeds (url, url_key, kind, added_by, added_at, title, story_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (url, url_key, kind, added_by, at, title, self.story_id),
                )
                feed_id = cursor.lastrowid
        except sqlite3.IntegrityError:
            existing = next((f for f in self.feeds() if f.url == url), None)
            shown = f" as feed {existing.id}" if existing else ""
            raise FeedStoreError(f"{url} is already watched{shown}") from None
        return self.feed(feed_id)

    def story_ids(self) -> list[int]:
        """The stories that watch at least one feed (of every story, not only this one's: a
        running bot polls them all)."""
        if not self.path.exists():
            return []
        with self.transaction() as db:
            rows = db.execute("SELECT DISTINCT story_id FROM feeds ORDER BY story_id").fetchall()
        return [row[0] for row in rows]

    def refuse_watched(self, url_key: str) -> None:
        """FeedStoreError if this story watches a feed with this normalised URL already."""
        if not self.path.exists():
            return
        with self.transaction() as db:
            row = db.execute(
                "SELECT id, url FROM feeds WHERE story_id = ? AND url_key = ?",
                (self.story_id, url_key),
            ).fetchone()
        if row is not None:
            raise FeedStoreError(f"{row[1]} is already watched as feed {row[0]}")

    def feeds(self) -> list[Feed]:
        if not self.path.exists():
            return []
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT {_FEED_COLUMNS} FROM feeds WHERE story_id = ? ORDER BY id",
                (self.story_id,),
            ).fetchall()
        return [Feed(*row) for row in rows]

    def feed(self, feed_id: int) -> Feed:
        with self.transaction() as db:
            row = db.execute(
                f"SELECT {_FEED_COLUMNS} FROM feeds WHERE id = ? AND story_id = ?",
                (feed_id, self.story_id),
            )
            found = row.fetchone()
        if found is None:
            raise FeedStoreError(f"no feed with id {feed_id}")
        return Feed(*found)

    def remove_feed(self, feed_id: int) -> Feed:
        feed = self.feed(feed_id)
        with self.transaction() as db:
            db.execute("DELETE FROM feeds WHERE id = ? AND story_id = ?", (feed_id, self.story_id))
        return feed

    def claim(self, feed: Feed, until: str) -> bool:
        """Mark ``feed`` as being polled (due again at ``until`` should this poll never end),
        unless another process claimed it since it was read: then False."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE feeds SET next_poll_at = ? WHERE id = ? AND next_poll_at = ?",
                (until, feed.id, feed.next_poll_at),
            )
            return cursor.rowcount == 1

    def reschedule(self, feed_id: int, next_at: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE feeds SET next_poll_at = ? WHERE id = ?", (next_at, feed_id))

    def polled(
        self,
        feed_id: int,
        *,
        at: str,
        next_at: str,
        status: str,
        title: str = "",
        etag: str = "",
        last_modified: str = "",
    ) -> None:
        """A successful poll: validators and title kept (unless none came), failures reset."""
        with self.transaction() as db:
            db.execute(
                "UPDATE feeds SET last_polled_at = ?, next_poll_at = ?, last_status = ?, "
                "failures = 0, title = CASE WHEN ? != '' THEN ? ELSE title END, "
                "etag = CASE WHEN ? != '' THEN ? ELSE etag END, "
                "last_modified = CASE WHEN ? != '' THEN ? ELSE last_modified END WHERE id = ?",
                (at, next_at, status, title, title, etag, etag, last_modified, last_modified,
                 feed_id),
            )  # fmt: skip

    def failed(self, feed_id: int, *, at: str, next_at: str, error: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE feeds SET last_polled_at = ?, next_poll_at = ?, last_status = ?, "
                "failures = failures + 1 WHERE id = ?",
                (at, next_at, error, feed_id),
            )

    # -- items ---------------------------------------------------------------------------------

    def statuses(self, url_keys: list[str], seen_at: str = "") -> dict[str, tuple[str, int]]:
        """(status, attempts) of the items already recorded among ``url_keys``; with
        ``seen_at``, they are noted as listed by a feed then (``purge`` keeps them)."""
        found: dict[str, tuple[str, int]] = {}
        with self.transaction() as db:
            for start in range(0, len(url_keys), 500):
                chunk = url_keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                if seen_at:
                    db.execute(
                        "UPDATE feed_items SET last_seen = ?"
                        f" WHERE story_id = ? AND url_key IN ({marks})",
                        (seen_at, self.story_id, *chunk),
                    )
                rows = db.execute(
                    "SELECT url_key, status, attempts FROM feed_items"
                    f" WHERE story_id = ? AND url_key IN ({marks})",
                    (self.story_id, *chunk),
                )
                found.update((key, (status, attempts)) for key, status, attempts in rows)
        return found

    def record(self, judged: Judged, at: str) -> tuple[Candidate, bool]:
        """Store an item's judgement; returns the row and whether this call wrote it (a
        retried item's row is updated; one judged or decided otherwise is never)."""
        j = judged
        values = (
            j.url, j.url_key, j.feed_id, j.title, j.summary, j.publisher, j.published, j.status,
            j.score, json.dumps(list(j.terms)), j.match_source, j.match_start, j.match_end,
            j.match_text, j.reason, int(j.status in ("retry", "failed")), at, j.text_key,
            j.canonical_key, self.story_id,
        )  # fmt: skip
        with self.transaction() as db:
            written = db.execute(
                "INSERT INTO feed_items (url, url_key, feed_id, title, summary, publisher, "
                "published, status, score, terms, match_source, match_start, match_end, "
                "match_text, reason, attempts, found_at, text_key, canonical_key, story_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(story_id, url_key) DO UPDATE SET status = excluded.status, "
                "text_key = excluded.text_key, canonical_key = excluded.canonical_key, "
                "url = excluded.url, title = excluded.title, score = excluded.score, "
                "terms = excluded.terms, "
                "match_source = excluded.match_source, match_start = excluded.match_start, "
                "match_end = excluded.match_end, match_text = excluded.match_text, "
                "reason = excluded.reason, publisher = excluded.publisher, "
                "attempts = attempts + (excluded.status IN ('retry', 'failed')) "
                "WHERE feed_items.status = 'retry'",
                values,
            ).rowcount
            row = db.execute(
                "SELECT id FROM feed_items WHERE url_key = ? AND story_id = ?",
                (j.url_key, self.story_id),
            )
            item_id = row.fetchone()[0]
        return self.item(item_id), written == 1

    def twin(self, url_key: str, text_key: str = "", canonical_key: str = "") -> Candidate | None:
        """An item of this story judged before (not one waiting to be retried) that is the
        same article: the same words, or the same address the page names as its own
        (``canonical_key``, compared with the URLs and canonical addresses recorded); None if
        there is none."""
        if not self.path.exists() or not (text_key or canonical_key):
            return None
        keys = (text_key, text_key, canonical_key, canonical_key, canonical_key)
        with self.transaction() as db:
            row = db.execute(
                "SELECT id FROM feed_items WHERE story_id = ? AND url_key != ? AND status NOT IN "
                "('retry', 'failed') AND ((text_key = ? AND ? != '') OR (? != '' AND "
                "(canonical_key = ? OR url_key = ?))) ORDER BY id LIMIT 1",
                (self.story_id, url_key, *keys),
            ).fetchone()
        return self.item(row[0]) if row else None

    def story_of(self, item_id: int) -> int | None:
        """The story an item belongs to, whichever it is (for the command line, which sees
        every story; never for a server, which sees only its own)."""
        if not self.path.exists():
            return None
        with self.transaction() as db:
            row = db.execute("SELECT story_id FROM feed_items WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else int(row[0])

    def item(self, item_id: int) -> Candidate:
        with self.transaction() as db:
            row = db.execute(
                f"SELECT {_ITEM_COLUMNS} FROM feed_items i LEFT JOIN feeds f ON f.id = i.feed_id "
                "WHERE i.id = ? AND i.story_id = ?",
                (item_id, self.story_id),
            ).fetchone()
        if row is None:
            raise FeedStoreError(f"no candidate with id {item_id}")
        return _candidate(row)

    def items(
        self,
        statuses: tuple[str, ...] = ("pending",),
        limit: int = 50,
        *,
        unposted: bool = False,
        newest: bool = False,
    ) -> list[Candidate]:
        """Items in these statuses, oldest first (a queue; ``newest``: newest first);
        ``unposted``: only those no adapter has marked as shown."""
        if not self.path.exists():
            return []
        marks = ",".join("?" * len(statuses))
        only = " AND i.posted = ''" if unposted else ""
        order = "DESC" if newest else ""
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT {_ITEM_COLUMNS} FROM feed_items i LEFT JOIN feeds f ON f.id = i.feed_id "
                f"WHERE i.story_id = ? AND i.status IN ({marks}){only} ORDER BY i.id {order} "
                "LIMIT ?",
                (self.story_id, *statuses, limit),
            ).fetchall()
        return [_candidate(row) for row in rows]

    def mark_posted(self, item_id: int, ref: str, shown: str = "pending") -> None:
        """``ref``: where the item's message is; ``shown``: the status it shows (candidates
        are posted while pending; a decision made meanwhile is redrawn, see
        ``outdated_posts``)."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE feed_items SET posted = ?, shown_status = ? WHERE id = ? AND story_id = ?",
                (ref, shown, item_id, self.story_id),
            )
            if cursor.rowcount != 1:
                raise FeedStoreError(f"no candidate with id {item_id}")

    def outdated_posts(self, limit: int = 25) -> list[Candidate]:
        """Posted items whose message shows another status than theirs (e.g. decided from
        the command line while the message still has its buttons), oldest first; an item
        being added is left until it is settled."""
        if not self.path.exists():
            return []
        with self.transaction() as db:
            rows = db.execute(
                f"SELECT {_ITEM_COLUMNS} FROM feed_items i LEFT JOIN feeds f ON f.id = i.feed_id "
                "WHERE i.story_id = ? AND i.posted != '' AND i.status != 'accepting' AND "
                "i.status != (CASE WHEN i.shown_status = '' THEN 'pending' ELSE i.shown_status "
                "END) ORDER BY i.id LIMIT ?",
                (self.story_id, limit),
            ).fetchall()
        return [_candidate(row) for row in rows]

    def mark_shown(self, item_id: int, status: str) -> None:
        """The item's message now shows ``status``."""
        with self.transaction() as db:
            db.execute(
                "UPDATE feed_items SET shown_status = ? WHERE id = ? AND story_id = ?",
                (status, item_id, self.story_id),
            )

    def counts(self) -> dict[str, int]:
        """How many items are in each status."""
        if not self.path.exists():
            return {}
        with self.transaction() as db:
            rows = db.execute(
                "SELECT status, COUNT(*) FROM feed_items WHERE story_id = ? GROUP BY status",
                (self.story_id,),
            )
            return dict(rows.fetchall())

    def purge(self, before: str) -> tuple[int, int]:
        """Delete this story's judgements no decision depends on (``UNDECIDED``) that no feed
        has listed since ``before`` (an ISO time), and slim the decisions made before it to
        what keeps them (their texts emptied); returns (deleted, slimmed)."""
        if not self.path.exists():
            return 0, 0
        marks = ",".join("?" * len(UNDECIDED))
        with self.transaction() as db:
            deleted = db.execute(
                f"DELETE FROM feed_items WHERE story_id = ? AND status IN ({marks}) "
                "AND (CASE WHEN last_seen != '' THEN last_seen ELSE found_at END) < ?",
                (self.story_id, *UNDECIDED, before),
            ).rowcount
            slimmed = db.execute(
                "UPDATE feed_items SET summary = '', match_text = '', terms = '[]' "
                "WHERE story_id = ? AND status IN ('accepted', 'ignored') AND decided_at < ? "
                "AND (summary != '' OR match_text != '' OR terms != '[]')",
                (self.story_id, before),
            ).rowcount
        return deleted, slimmed

    # -- decisions -----------------------------------------------------------------------------

    def take(self, item_id: int, by: str, at: str, stale_before: str) -> Candidate:
        """Move a pending candidate to ``accepting`` for ``by``, so that two moderators who
        click at once cannot both add it; one left ``accepting`` since before ``stale_before``
        (a crash mid-add) may be taken again."""
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE feed_items SET status = 'accepting', decided_by = ?, decided_at = ? "
                "WHERE id = ? AND story_id = ? AND (status = 'pending' OR "
                "(status = 'accepting' AND decided_at < ?))",
                (by, at, item_id, self.story_id, stale_before),
            )
            taken = cursor.rowcount == 1
        item = self.item(item_id)
        if not taken:
            raise FeedStoreError(_not_pending(item))
        return item

    def decide(
        self,
        item_id: int,
        status: str,
        by: str,
        at: str,
        *,
        source_id: str = "",
        reason: str = "",
        only_from: tuple[str, ...] = ("pending", "accepting"),
    ) -> Candidate:
        """Record a decision (or put a candidate back to ``pending``)."""
        marks = ",".join("?" * len(only_from))
        with self.transaction() as db:
            cursor = db.execute(
                "UPDATE feed_items SET status = ?, decided_by = ?, decided_at = ?, "
                "source_id = CASE WHEN ? != '' THEN ? ELSE source_id END, "
                f"reason = CASE WHEN ? != '' THEN ? ELSE reason END "
                f"WHERE id = ? AND story_id = ? AND status IN ({marks})",
                (
                    status,
                    by,
                    at,
                    source_id,
                    source_id,
                    reason,
                    reason,
                    item_id,
                    self.story_id,
                    *only_from,
                ),
            )
            changed = cursor.rowcount == 1
        item = self.item(item_id)
        if not changed:
            raise FeedStoreError(_not_pending(item))
        return item


def _candidate(row: tuple) -> Candidate:
    values = list(row)
    values[10] = tuple(json.loads(values[10] or "[]"))
    return Candidate(*values)


def _not_pending(item: Candidate) -> str:
    if item.status in DECIDED or item.status == "accepting":
        who = f" by {item.decided_by}" if item.decided_by else ""
        verb = "being added" if item.status == "accepting" else item.status
        return f"candidate {item.id} was already {verb}{who}"
    return f"item {item.id} is not waiting for a decision (it was judged {item.status})"
