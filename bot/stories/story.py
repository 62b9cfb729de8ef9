"""One story: a named corpus with its own sources, caches, audit log, question log, answers,
feeds and review queue, and the index built from it on first need.

Files: the story's directory is ``<state_dir>/stories/<id>/`` with ``corpus/`` (one file per
source) and ``cache/`` (passages and vectors per source). The default story (id 1, the corpus
that existed before stories) keeps its corpus where ``[corpus] dir`` says. Rows: every row in
the state database that belongs to the story carries its id (``bot.insights.database``).

Cheap to open (the database handles and the corpus directory); the index (spaCy, the
embedding model, every passage) is built by :meth:`Story.loaded` when a question first needs
it, and dropped by :meth:`Story.unload` when the registry makes room.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config
from bot.files import remove_stale_temp_files
from bot.insights.announcements import AnnouncementCursor
from bot.insights.answers import AnswerStore, member_key
from bot.insights.audit import AuditEntry, AuditLog
from bot.insights.database import DEFAULT_STORY_ID, database_path
from bot.insights.questionlog import QuestionLog, open_log
from bot.sources.corpus import Corpus, CorpusError, Source
from bot.sources.feeds.store import FeedStore
from bot.stories.store import StoryRecord

if TYPE_CHECKING:
    from bot.search.semantic import BuildProgress
    from bot.search.text import Analyzer
    from bot.sources.web.fetch import Fetcher
    from bot.stories.index import Snapshot, StoryIndex

log = logging.getLogger(__name__)

# What a broken audit database raises: a change whose row cannot be begun is refused.
AUDIT_ERRORS = (sqlite3.Error, OSError, RuntimeError)


class AuditUnavailable(CorpusError):
    """A corpus change refused because its audit row could not be written."""


STORIES_DIR = "stories"
# How often (at most) a question checks whether another process changed the corpus directory.
REFRESH_SECONDS = 1.0


def corpus_mtime(corpus: Corpus) -> int | None:
    """The corpus directory's modification time (None: no directory)."""
    try:
        return os.stat(corpus.directory).st_mtime_ns
    except OSError:
        return None


def story_directory(state_dir: Path, story_id: int) -> Path:
    """Where a story's files live: ``<state_dir>/stories/<id>``."""
    return Path(state_dir) / STORIES_DIR / str(story_id)


def corpus_dir_of(config: Config, story_id: int) -> Path:
    if story_id == DEFAULT_STORY_ID:
        return config.corpus_dir  # where it always was: an upgrade moves no source
    return story_directory(config.state_dir, story_id) / "corpus"


def cache_dir_of(config: Config, story_id: int) -> Path:
    return story_directory(config.state_dir, story_id) / "cache"


class Shared:
    """What every story of a process shares: one spaCy pipeline (loaded on first use), one
    fetcher (its connection pool and per-host limits), the progress callback."""

    def __init__(
        self,
        config: Config,
        analyzer: Analyzer | None = None,
        fetcher: Fetcher | None = None,
        progress: BuildProgress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._analyzer = analyzer
        self._fetcher = fetcher
        self.progress = progress
        self.clock = clock
        self._lock = threading.Lock()

    @property
    def analyzer(self) -> Analyzer:
        if self._analyzer is None:
            with self._lock:
                if self._analyzer is None:
                    from bot.search.text import Analyzer

                    self._analyzer = Analyzer(self.config.nlp.model)
        return self._analyzer

    @property
    def analyzer_loaded(self) -> bool:
        return self._analyzer is not None

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            with self._lock:
                if self._fetcher is None:
                    from bot.sources.web.fetch import Fetcher

                    self._fetcher = Fetcher(self.config.fetch)
        return self._fetcher


@dataclass(frozen=True)
class CorpusView:
    """The sources as the corpus directory holds them, read without building an index."""

    sources: dict[str, Source]
    load_errors: tuple[str, ...]
    mtime: int | None
    ids: frozenset[str]


class Story:
    def __init__(
        self,
        record: StoryRecord,
        shared: Shared,
        on_load: Callable[[Story], None] | None = None,
    ) -> None:
        """``on_load(story)`` hears when the index was built (the registry keeps a budget)."""
        self.record = record
        self.shared = shared
        self._on_load = on_load
        config = self.config = shared.config
        self.corpus = Corpus(corpus_dir_of(config, record.id), config.max_source_bytes)
        self.cache_dir = cache_dir_of(config, record.id)
        database = database_path(config.state_dir)
        self.audit = AuditLog(database, record.id)
        self.feed_store = FeedStore(database, record.id)
        self.announced = AnnouncementCursor(database, record.id)
        # Held by every change of this story in this process (and around index builds).
        self.write_lock = threading.Lock()
        self._index: StoryIndex | None = None
        self._view: CorpusView | None = None
        self.last_used = shared.clock()
        # What a process killed mid-write left behind (ignored by loading anyway).
        caches = (self.cache_dir / "passages", self.cache_dir / "vectors")
        for directory in (self.corpus.directory, *caches):
            for path in remove_stale_temp_files(directory):
                log.info("removed stale temp file %s", path)
        self.settle_interrupted_changes()

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    # -- the index, built on first need --------------------------------------------------------

    @property
    def is_loaded(self) -> bool:
        return self._index is not None

    def loaded(self) -> StoryIndex:
        """The story's index, built now if it is not (spaCy, the model, every passage)."""
        self.last_used = self.shared.clock()
        index = self._index
        if index is not None:
            return index
        with self.write_lock:
            index = self._index
            if index is not None:  # built by another thread meanwhile
                return index
            built = self._index = self._new_index()
            self._view = None
        if self._on_load is not None:
            self._on_load(self)
        return built

    def _new_index(self) -> StoryIndex:  # the caller holds the write lock
        from bot.stories.index import StoryIndex

        return StoryIndex(
            self.config,
            self.corpus,
            self.cache_dir,
            self.shared.analyzer,
            self.write_lock,
            progress=self.shared.progress,
            clock=self.shared.clock,
        )

    def unload(self) -> None:
        """Drop the index (the registry makes room); the next question builds it again from
        the caches. Without the lock (one assignment): a question in flight keeps the snapshot
        it holds, and two stories loading at once never wait for each other."""
        self._index = None

    @property
    def snapshot(self) -> Snapshot:
        self.refresh_if_changed()
        return self.loaded().snapshot

    def reload(self) -> None:
        """Re-read the corpus and swap the new index in. Under the write lock like every
        change: a reload that read the corpus before a concurrent add must not swap its older
        snapshot in after the add's, and the passage cache is not shared between two builds."""
        with self.write_lock:
            self.reload_locked()

    def reload_locked(self, *, warm: bool = True) -> None:  # the caller holds the write lock
        """``warm``: build the index even if it was not loaded (an add: its passages and
        vectors are cached now, not by the next question of the running bot); without it, an
        unloaded story stays unloaded (a removal leaves nothing to prepare)."""
        self._view = None
        index = self._index  # once: the registry may unload the story meanwhile
        if index is None and not warm:
            return
        if index is None:
            self._index = self._new_index()
            if self._on_load is not None:
                self._on_load(self)
        else:
            index.reload()

    def refresh_if_changed(self, *, wait: bool = False) -> bool:
        """Reload when another process (the CLI beside the running bot) added, removed or
        restored a source: one stat of the corpus directory, at most every REFRESH_SECONDS.
        The new snapshot is built in the background (reusing the segments the other process
        wrote); questions are answered from the current one meanwhile. True if a change was
        seen; ``wait``: return once a reload under way is done."""
        index = self._index
        if index is None:
            return False
        changed = index.due_for_check() and index.stale()
        if changed and index.reload_in_background():
            log.info("story %s: the corpus changed on disk; reloading in the background", self.name)
        if wait:
            index.reloader.wait()
        return changed

    def changed_on_disk(self) -> bool:
        index = self._index
        return index is not None and index.changed_on_disk()

    # -- reading without the index -------------------------------------------------------------

    def _corpus_view(self) -> CorpusView:
        mtime = corpus_mtime(self.corpus)
        ids = frozenset(self.corpus.ids()) if mtime is not None else frozenset()
        view = self._view
        if view is not None and view.mtime == mtime and view.ids == ids:
            return view
        loaded = self.corpus.load()
        view = CorpusView({s.id: s for s in loaded.sources}, tuple(loaded.errors), mtime, ids)
        self._view = view
        return view

    @property
    def sources(self) -> list[Source]:
        """The story's sources: the index's when it is built, else read from the corpus."""
        if self._index is not None:
            return list(self.snapshot.sources.values())
        return list(self._corpus_view().sources.values())

    def source_map(self) -> dict[str, Source]:
        if self._index is not None:
            return self.snapshot.sources
        return self._corpus_view().sources

    @property
    def load_errors(self) -> tuple[str, ...]:
        index = self._index
        if index is not None:
            return index.snapshot.load_errors
        return self._corpus_view().load_errors

    def source(self, source_id: str) -> Source:
        """The source with this id; CorpusError if there is none."""
        found = self.source_map().get(source_id)
        if found is None:
            raise CorpusError(f"no source with id {source_id!r}")
        return found

    # -- its rows in the state database --------------------------------------------------------

    @cached_property
    def question_log(self) -> QuestionLog:
        """Opened on first use, so commands that never log create no database."""
        return open_log(self.config, self.id)

    @cached_property
    def answers(self) -> AnswerStore:
        """Opened on first use (``bot.insights.answers``: what is stored, and why no ids)."""
        state_dir = self.config.state_dir
        return AnswerStore(
            database_path(state_dir),
            member_key(state_dir),
            retention_days=self.config.stats.retention_days,
            story_id=self.id,
        )

    # -- keeping the audit log and the corpus together -----------------------------------------

    @contextmanager
    def corpus_locked(self) -> Iterator[None]:
        """Hold the lock every storybot process takes to change this corpus: what a change
        checks (a duplicate URL, a free id) stays true until it is on disk. Changes a killed
        process left half-recorded are settled first (its death released the lock)."""
        with self.corpus.locked():
            self._reconcile_audit()
            yield

    @contextmanager
    def audited(
        self, actor: str, action: str, source: Source, target: str, detail: str = ""
    ) -> Iterator[None]:
        """Record the change as pending, make it (the body), then mark it done. A process
        killed in between leaves a pending row, which the next change or start settles by
        looking at ``target``. No change without its row: when the row cannot be begun (the
        database locked, full or read-only), the change is refused (AuditUnavailable); once
        begun, a failure to mark it done leaves it pending, to be settled the same way."""
        try:
            row = self.audit.begin(actor, action, source.id, source.url, detail, target)
        except AUDIT_ERRORS as exc:
            log.error("audit log not written (%s %s): %s", action, source.id, exc)
            raise AuditUnavailable(
                f"nothing was changed: the audit log could not be written ({exc}); "
                f"check that {self.audit.path} is writable and its disk not full, then retry"
            ) from exc
        try:
            yield
        except BaseException:
            self._quietly(self.audit.abandon, row)
            raise
        self._quietly(self.audit.done, row)

    def audit_event(self, actor: str, action: str, url: str, detail: str) -> None:
        """A row for a change that touches no corpus file (feeds, candidates)."""
        try:
            self.audit.record(actor, action, "", url, detail)
        except AUDIT_ERRORS as exc:
            log.error("audit log not written (%s %s): %s", action, url, exc)

    def _quietly(self, step: Callable[[int], None], row: int) -> None:
        try:
            step(row)
        except AUDIT_ERRORS as exc:  # the row stays pending: the next change settles it
            log.error("audit row %s not updated: %s", row, exc)

    def _reconcile_audit(self) -> None:
        """Settle pending audit rows (the caller holds the corpus lock)."""
        try:
            confirmed, dropped = self.audit.reconcile(self._happened)
        except AUDIT_ERRORS as exc:
            log.error("could not settle the audit log: %s", exc)
            return
        if confirmed or dropped:
            log.warning(
                "audit log: %d interrupted change(s) confirmed, %d that never happened dropped",
                confirmed,
                dropped,
            )

    def _happened(self, entry: AuditEntry) -> bool:
        on_disk = os.path.lexists(self.corpus.directory / entry.target)
        return not on_disk if entry.action == "remove" else on_disk

    def settle_interrupted_changes(self) -> None:
        """At start: settle what a process killed mid-change left pending (if anything)."""
        try:
            if not self.audit.pending():
                return
            with self.corpus_locked():
                pass
        except (*AUDIT_ERRORS, CorpusError) as exc:  # e.g. a read-only corpus: not now
            log.warning("interrupted changes not settled: %s", exc)
