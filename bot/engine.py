"""The one core API that the CLI and the Discord layer both adapt.

Data flow: corpus files -> Source -> passages (spaCy) -> Index (BM25) -> Retriever -> Answer.
A change to the corpus builds a new Retriever and swaps it in with one assignment, so a question
asked meanwhile is answered from the old, consistent state.

:class:`StoryBot` is everything an adapter calls: ask (and record) questions and votes; add
sources from a URL or a document, list their links, remove and restore them; read the audit
log and the moderators' figures. Nothing below it imports it: the ingestor sees it only as a
``Library`` (its sources and ``add_source``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from bot.clock import now_iso
from bot.config import Config, load_config
from bot.files import remove_stale_temp_files
from bot.insights.audit import AuditEntry, AuditLog
from bot.insights.database import database_path
from bot.insights.questionlog import Gap, QuestionLog, Stats, newly_answered, open_log
from bot.search.cache import PassageCache
from bot.search.index import Index
from bot.search.passages import Passage
from bot.search.retrieval import Answer, Retriever
from bot.search.text import Analyzer
from bot.sources.corpus import Corpus, CorpusError, Link, Source
from bot.sources.ingest import Added, Ingestor, IngestReport, Progress
from bot.sources.web.fetch import Fetcher

log = logging.getLogger(__name__)

# How often (at most) a question checks whether another process changed the corpus directory.
REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class Snapshot:
    """Everything one question needs, built together and never mutated."""

    sources: dict[str, Source]
    retriever: Retriever
    load_errors: tuple[str, ...]
    # The corpus directory's modification time when it was read (None: no directory).
    corpus_mtime: int | None = None


class StoryBot:
    def __init__(
        self,
        config: Config,
        analyzer: Analyzer | None = None,
        fetcher: Fetcher | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock`` (seconds, monotonic) times the checks for changes by other processes."""
        self.config = config
        self._clock = clock
        self.corpus = Corpus(config.corpus_dir, config.max_source_bytes)
        self.analyzer = analyzer or Analyzer(config.nlp.model)
        self.audit = AuditLog(database_path(config.state_dir))
        self._write_lock = threading.Lock()
        # Passages per source, reused across builds and restarts (only changed sources are
        # run through spaCy again).
        cache_dir = config.state_dir / "cache" / "passages"
        self._passages = PassageCache(cache_dir, self.analyzer, config.nlp.window_sentences)
        # What a process killed mid-write left behind (ignored by loading anyway).
        for directory in (self.corpus.directory, cache_dir):
            for path in remove_stale_temp_files(directory):
                log.info("removed stale temp file %s", path)
        self._ingestor = Ingestor(self, fetcher or Fetcher(config.fetch))
        self._snapshot = self._build()
        self._checked_at = clock()

    @classmethod
    def from_config(cls, path: str | None = None) -> StoryBot:
        return cls(load_config(path))

    # -- reading -------------------------------------------------------------------------------

    @property
    def sources(self) -> list[Source]:
        self.refresh_if_changed()
        return list(self._snapshot.sources.values())

    @property
    def load_errors(self) -> tuple[str, ...]:
        return self._snapshot.load_errors

    @property
    def passage_count(self) -> int:
        return len(self._snapshot.retriever.index)

    @property
    def passages(self) -> list[Passage]:
        """The passages of the current snapshot, in index order."""
        return self._snapshot.retriever.index.passages

    @property
    def retriever(self) -> Retriever:
        """The current snapshot's retriever (replaced, never changed, when the corpus changes)."""
        return self._snapshot.retriever

    @property
    def cached_passage_builds(self) -> int:
        """How many sources this process ran through spaCy (the rest came from the cache)."""
        return self._passages.processed

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        record: bool = False,
        server: str = "",
        origin: str = "discord",
    ) -> Answer:
        """Answer ``question`` with excerpts, or abstain. Raises QuestionError for bad input.

        With ``record``, the question goes to the question log (``[stats]`` settings) marked
        with its ``origin`` ("discord" or "cli"), and the answer carries its ``question_id``
        for votes; a broken log never costs the answer."""
        self.refresh_if_changed()
        answer = self._snapshot.retriever.ask(question, k)
        if not record:
            return answer
        try:
            question_id = self.question_log.record(answer, server, origin=origin)
        except Exception:
            log.exception("could not record the question")
            return answer
        return replace(answer, question_id=question_id)

    def vote(self, question_id: int, helpful: bool) -> bool:
        """Count a Helpful / Not helpful vote on a recorded question; False if not recorded."""
        return self.question_log.vote(question_id, helpful)

    def source(self, source_id: str) -> Source:
        """The source with this id; CorpusError if there is none."""
        self.refresh_if_changed()
        found = self._snapshot.sources.get(source_id)
        if found is None:
            raise CorpusError(f"no source with id {source_id!r}")
        return found

    def links(self, source_id: str) -> list[tuple[Link, str | None]]:
        """A source's links, each with the id of the source it already is in the corpus."""
        return self._ingestor.links(source_id)

    def audit_entries(self, source_id: str | None = None, limit: int = 50) -> list[AuditEntry]:
        """Who added, removed or restored what, newest first."""
        return self.audit.entries(source_id, limit)

    def refresh_if_changed(self) -> bool:
        """Reload when another process (the CLI beside the running bot) added, removed or
        restored a source: one stat of the corpus directory, at most every REFRESH_SECONDS.
        Skipped while this process is changing the corpus itself (it reloads anyway)."""
        now = self._clock()
        if now - self._checked_at < REFRESH_SECONDS:
            return False
        self._checked_at = now
        if self._corpus_mtime() == self._snapshot.corpus_mtime:
            return False
        if not self._write_lock.acquire(blocking=False):
            return False
        try:
            if self._corpus_mtime() == self._snapshot.corpus_mtime:
                return False
            log.info("the corpus changed on disk; reloading")
            self._reload()
            return True
        finally:
            self._write_lock.release()

    def _corpus_mtime(self) -> int | None:
        try:
            return os.stat(self.corpus.directory).st_mtime_ns
        except OSError:
            return None

    # -- what members asked --------------------------------------------------------------------

    @cached_property
    def question_log(self) -> QuestionLog:
        """Opened on first use, so commands that never log create no database."""
        return open_log(self.config)

    def stats(self, days: int = 30) -> Stats:
        """Figures for moderators; gaps include which ones newer sources now answer."""
        self.question_log.purge()
        return self.question_log.stats(self.analyzer.terms, days=days)

    def newly_answered(self, stats: Stats) -> list[tuple[Gap, Source]]:
        """The gaps of ``stats`` that sources added since now answer, with those sources."""
        return newly_answered(stats.gaps, self.ask)

    # -- changing the corpus -------------------------------------------------------------------

    async def add_url(
        self,
        url: str,
        *,
        title: str | None = None,
        added_by: str = "",
        kind: str = "source",
        follow: int = 0,
        progress: Progress | None = None,
        force: bool = False,
    ) -> IngestReport:
        """Fetch and store ``url`` (and up to ``follow`` pages it links to); ``progress`` hears
        about every step. The first page's failure raises one of ``bot.sources.ingest.ERRORS``;
        ``force`` stores it even if its text is near-empty or exactly another source's."""
        return await self._ingestor.add_url(
            url,
            title=title,
            added_by=added_by,
            kind=kind,
            follow=follow,
            progress=progress,
            force=force,
        )

    def add_file(
        self,
        filename: str,
        data: bytes,
        *,
        title: str | None = None,
        url: str = "",
        publisher: str = "",
        published: str = "",
        added_by: str = "",
        kind: str = "source",
        force: bool = False,
    ) -> Added:
        """Store a .txt, .md or .html document (name and bytes), checked like a fetched page;
        without ``title``, a .md or .html document's own heading or title."""
        return self._ingestor.add_document(
            filename,
            data,
            title=title,
            url=url,
            publisher=publisher,
            published=published,
            added_by=added_by,
            kind=kind,
            force=force,
        )

    def add_source(
        self,
        text: str,
        title: str,
        *,
        publisher: str = "",
        url: str = "",
        published: str = "",
        added_by: str = "",
        kind: str = "source",
        source_id: str | None = None,
        links: Sequence[Link] = (),
        extra: dict | None = None,
        detail: str = "",
        check: Callable[[list[Source]], None] | None = None,
    ) -> Source:
        """Store a new source and make it answerable; returns what was stored.

        ``extra`` holds further header fields (e.g. ``author``); ``detail`` goes to the audit log.
        ``check(sources)`` runs under the write lock with the current sources and may raise to
        refuse the add (e.g. a duplicate URL), so two concurrent adds cannot both pass it.
        """
        if not title.strip():
            raise CorpusError("a source needs a title")
        if not text.strip():
            raise CorpusError("the source has no text")
        with self._write_lock:
            # Checks (duplicate URL, near-duplicate text) must see what other processes added.
            if self._corpus_mtime() != self._snapshot.corpus_mtime:
                self._reload()
            if check is not None:
                check(list(self._snapshot.sources.values()))
            source = Source(
                id=source_id or self.corpus.new_id(title),
                title=title.strip(),
                text=text,
                kind=kind,
                publisher=publisher.strip(),
                url=url.strip(),
                published=published,
                added_by=added_by,
                added_at=now_iso(),
                links=tuple(links),
                extra=dict(extra or {}),
            )
            self.corpus.write(source)
            self._audit(added_by, "add", source, detail)
            self._reload()
        return source

    def remove_source(self, source_id: str, *, removed_by: str = "") -> Source:
        """Move a source to the corpus trash (``restore_source`` brings it back)."""
        with self._write_lock:
            source = self.corpus.remove(source_id)
            self._audit(removed_by, "remove", source)
            self._reload()
        return source

    def restore_source(self, source_id: str, *, restored_by: str = "") -> Source:
        with self._write_lock:
            source = self.corpus.restore(source_id)
            self._audit(restored_by, "restore", source)
            self._reload()
        return source

    def _audit(self, actor: str, action: str, source: Source, detail: str = "") -> None:
        # The corpus change has happened; a broken database must not undo or hide it.
        try:
            self.audit.record(actor, action, source.id, source.url, detail)
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            log.error("audit log not written (%s %s): %s", action, source.id, exc)

    def reload(self) -> None:
        """Re-read the corpus and swap the new index in (only new or changed sources are
        processed again; the index itself is rebuilt from all passages, which is fast).

        Under the write lock like every change: a reload that read the corpus before a
        concurrent add must not swap its older snapshot in after the add's, and the passage
        cache is not shared between two builds at once."""
        with self._write_lock:
            self._reload()

    def _reload(self) -> None:  # the caller holds the write lock
        self._snapshot = self._build()

    def _build(self) -> Snapshot:
        # Read before loading: a change during the load is seen by the next check.
        mtime = self._corpus_mtime()
        loaded = self.corpus.load()
        for error in loaded.errors:
            log.warning("skipped corpus file: %s", error)
        sources = {s.id: s for s in loaded.sources}
        passages = self._passages.passages(sources.values())
        index = Index(passages, self.config.retrieval)
        retriever = Retriever(
            index, sources, self.analyzer, self.config.retrieval, self.config.aliases
        )
        return Snapshot(sources, retriever, tuple(loaded.errors), mtime)
