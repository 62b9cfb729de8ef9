"""The one core API that the CLI and the Discord layer both adapt.

Data flow: corpus files -> Source -> passages (spaCy) -> Index (BM25) -> Retriever -> Answer.
A change to the corpus builds a new Retriever and swaps it in with one assignment, so a question
asked meanwhile is answered from the old, consistent state.

:class:`StoryBot` is everything an adapter calls: ask (and record) questions and votes; add
sources from a URL or a document, list their links, remove and restore them; read the audit
log and the moderators' figures; keep what the buttons under a posted answer need (More,
votes once per member, who may delete it) and which commands were last registered; watch
feeds, review their candidates, announce new sources and show what is new. Nothing below it
imports it: the ingestor sees it only as a ``Library`` (its sources and ``add_source``).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import cached_property
from pathlib import Path

from bot.clock import iso, now_iso
from bot.config import Config, load_config
from bot.files import remove_stale_temp_files
from bot.insights.announcements import Announcement, AnnouncementCursor, answered_by
from bot.insights.answers import AnswerStore, StoredAnswer, member_key
from bot.insights.audit import AuditEntry, AuditLog
from bot.insights.database import database_path
from bot.insights.keyvalues import KeyValues
from bot.insights.questionlog import Gap, QuestionLog, Stats, newly_answered, open_log
from bot.search.index import Index
from bot.search.leads import leads
from bot.search.passages import Passage
from bot.search.retrieval import Answer, Excerpt, Match, Retriever
from bot.search.semantic import BuildProgress
from bot.search.snapshot import Reloader, Segments, Snapshot
from bot.search.text import Analyzer
from bot.sources.corpus import Corpus, CorpusError, Link, Source
from bot.sources.decoding import is_iso_date, visible
from bot.sources.feeds.items import FEED_KINDS
from bot.sources.feeds.poller import FeedPoller, PollEvent, PollProgress, PollReport
from bot.sources.feeds.store import STATUSES, Candidate, Feed, FeedStore, FeedStoreError
from bot.sources.feeds.watcher import FeedWatcher, OnCandidates
from bot.sources.ingest import Added, DuplicateUrl, Ingestor, IngestReport, Progress
from bot.sources.relevance import Relevance, story_names
from bot.sources.urls import clean_url, link_target, normalize_url
from bot.sources.web.fetch import Fetcher
from bot.sources.web.urlguard import url_host

log = logging.getLogger(__name__)

# How often (at most) a question checks whether another process changed the corpus directory.
REFRESH_SECONDS = 1.0
# How many excerpts of one question a member can page through with More, the answer's included.
MORE_LIMIT = 30


class Vote(Enum):
    """What became of a Helpful / Not helpful press on a posted answer."""

    COUNTED = "counted"
    ALREADY = "already"  # this member already voted on this answer
    NOT_RECORDED = "not recorded"  # question logging is off, or the question was not logged


# What a broken audit database raises: a change whose row cannot be begun is refused.
AUDIT_ERRORS = (sqlite3.Error, OSError, RuntimeError)


class AuditUnavailable(CorpusError):
    """A corpus change refused because its audit row could not be written."""


# Gaps of the question log checked for each announcement (the most asked first).
ANNOUNCE_GAPS = 25
# A candidate left "accepting" this long (a crash mid-add) may be accepted again.
STALE_ACCEPT = timedelta(minutes=10)


@dataclass(frozen=True)
class Accepted:
    """A candidate a moderator accepted: the candidate as now recorded, what was added."""

    candidate: Candidate
    report: IngestReport


class StoryBot:
    def __init__(
        self,
        config: Config,
        analyzer: Analyzer | None = None,
        fetcher: Fetcher | None = None,
        progress: BuildProgress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``progress(source_id, done, total)`` hears how embedding a new source goes (the only
        slow step of a build: about 200 passages a second); ``clock`` (seconds, monotonic)
        times the checks for changes by other processes."""
        self.config = config
        self.progress = progress
        self._clock = clock
        self.corpus = Corpus(config.corpus_dir, config.max_source_bytes)
        self.analyzer = analyzer or Analyzer(config.nlp.model)
        self.audit = AuditLog(database_path(config.state_dir))
        self._write_lock = threading.Lock()
        # Passages and vectors per source, reused across builds and restarts (only changed
        # sources are run through spaCy and the embedding model again).
        self._segments = Segments(config, self.analyzer, progress)
        # What a process killed mid-write left behind (ignored by loading anyway).
        for directory in (self.corpus.directory, *self._segments.directories):
            for path in remove_stale_temp_files(directory):
                log.info("removed stale temp file %s", path)
        self._names: tuple[object, frozenset[str]] | None = None
        relevance = Relevance(self.match, config.feeds, self.story_names)
        self._ingestor = Ingestor(self, fetcher or Fetcher(config.fetch), relevance)
        self.feed_store = FeedStore(database_path(config.state_dir))
        self._poller = FeedPoller(
            self.feed_store,
            self._ingestor,
            self.match,
            config.feeds,
            retention_days=config.stats.retention_days,
            names=self.story_names,
        )
        self._announced = AnnouncementCursor(database_path(config.state_dir))
        # The current snapshot; a change seen on disk is rebuilt in the background.
        self._reloader = Reloader(self._build, self._write_lock)
        self._reloader.reload()
        self._checked_at = clock()
        self._settle_interrupted_changes()

    @classmethod
    def from_config(cls, path: str | None = None) -> StoryBot:
        return cls(load_config(path))

    @classmethod
    def over_text(
        cls, config: Config, title: str, text: str, directory: Path, **kwargs
    ) -> StoryBot:
        """An engine whose corpus is this one text, with corpus and state in ``directory``
        (for evaluation: one story per corpus). Caches there are reused by the next run."""
        corpus = Corpus(directory / "corpus", config.max_source_bytes)
        source = Source(id=corpus.new_id(title), title=title, text=text, kind="story")
        existing = corpus.load().sources
        if [(s.title, s.text) for s in existing] != [(title, text)]:
            for old in existing:
                corpus.path_for(old.id).unlink()
            corpus.write(source)
        settings = replace(config, corpus_dir=directory / "corpus", state_dir=directory / "state")
        return cls(settings, **kwargs)

    # -- reading -------------------------------------------------------------------------------

    @property
    def _snapshot(self) -> Snapshot:
        return self._reloader.snapshot

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
        return self._segments.processed

    @property
    def vector_builds(self) -> int:
        """How many sources this process embedded (the rest came from the cache)."""
        return self._segments.embedded

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
        except Exception as exc:  # one line per question, not a traceback
            log.error("could not record the question: %s", exc)
            return answer
        return replace(answer, question_id=question_id)

    def match(self, text: str) -> Match:
        """How strongly the corpus matches ``text`` (a feed item, say), by the answer rule's
        own number, and the passage behind it."""
        self.refresh_if_changed()
        return self._snapshot.retriever.match(text)

    def story_names(self) -> frozenset[str]:
        """The names the story mentions most (``bot.sources.relevance``), once per snapshot."""
        snapshot = self._snapshot
        cached = self._names
        if cached is None or cached[0] is not snapshot:
            cached = (snapshot, story_names(s.text for s in snapshot.sources.values()))
            self._names = cached
        return cached[1]

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

    def refresh_if_changed(self, *, wait: bool = False) -> bool:
        """Reload when another process (the CLI beside the running bot) added, removed or
        restored a source: one stat of the corpus directory, at most every REFRESH_SECONDS.
        The new snapshot is built in the background (reusing the caches the other process
        wrote); questions are answered from the current one meanwhile. True if a change was
        seen; ``wait``: return once a reload under way is done."""
        now = self._clock()
        changed = False
        if now - self._checked_at >= REFRESH_SECONDS:
            self._checked_at = now
            changed = self._corpus_mtime() != self._snapshot.corpus_mtime
        if changed and self._reloader.reload_in_background(self._changed_on_disk):
            log.info("the corpus changed on disk; reloading in the background")
        if wait:
            self._reloader.wait()
        return changed

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

    # -- answers posted on Discord: what their buttons need ----------------------------------

    @cached_property
    def answers(self) -> AnswerStore:
        """Opened on first use (``bot.insights.answers``: what is stored, and why no ids)."""
        state_dir = self.config.state_dir
        return AnswerStore(
            database_path(state_dir),
            member_key(state_dir),
            retention_days=self.config.stats.retention_days,
        )

    def remember_answer(
        self, answer: Answer, asker_id: int, *, via_interaction: bool
    ) -> StoredAnswer | None:
        """Keep what the buttons under a posted answer need; None if that failed (the answer
        is then posted without buttons: a broken database never costs the answer)."""
        try:
            return self.answers.save(
                question=answer.question,
                shown=len(answer.excerpts),
                answered=answer.answered,
                question_id=answer.question_id,
                asker_id=asker_id,
                via_interaction=via_interaction,
            )
        except (sqlite3.Error, OSError, RuntimeError) as exc:  # one line, not a traceback
            log.error("could not store the answer for its buttons: %s", exc)
            return None

    def stored_answer(self, answer_id: int) -> StoredAnswer | None:
        """A posted answer by id; None once deleted or purged (``[stats] retention_days``)."""
        return self.answers.get(answer_id)

    def is_asker(self, answer: StoredAnswer, member_id: int) -> bool:
        return self.answers.is_asker(answer, member_id)

    def forget_answer(self, answer_id: int) -> None:
        """Drop a posted answer and its votes (its message was deleted)."""
        self.answers.delete(answer_id)

    def vote_on_answer(self, answer: StoredAnswer, member_id: int, helpful: bool) -> Vote:
        """Count a Helpful / Not helpful press in the question log, once per member and answer."""
        if answer.question_id is None or not self.config.stats.log_questions:
            return Vote.NOT_RECORDED
        if not self.answers.add_vote(answer.id, member_id):
            return Vote.ALREADY
        if not self.question_log.vote(answer.question_id, helpful):
            return Vote.NOT_RECORDED  # the question was purged from the log meanwhile
        return Vote.COUNTED

    def more_excerpts(self, answer: StoredAnswer, shown: int) -> tuple[int, list[Excerpt]]:
        """The page of excerpts for More after the first ``shown`` ones: its first number and
        its excerpts (empty when the sources have nothing more).

        Pages are recomputed from the question (so More needs no memory of who saw what):
        each page is the next ``top_k`` excerpts that overlap nothing shown before it, up to
        MORE_LIMIT in all. With an unchanged corpus that is exactly what earlier presses
        showed; after a change, More quotes the current sources."""
        for first, page in self._more_pages(answer):
            if first > shown:
                return first, page
        return shown + 1, []

    def _more_pages(self, answer: StoredAnswer) -> Iterator[tuple[int, list[Excerpt]]]:
        per_page = self.config.retrieval.top_k
        seen = [_span(e) for e in self.ask(answer.question, answer.shown or None).excerpts]
        while len(seen) < MORE_LIMIT:
            again = self.ask(answer.question, min(len(seen) + per_page, MORE_LIMIT))
            fresh = [e for e in again.excerpts if not _overlaps(_span(e), seen)][:per_page]
            if not fresh:
                return
            yield len(seen) + 1, fresh
            seen.extend(_span(e) for e in fresh)

    # -- Discord's registered commands ---------------------------------------------------------

    @cached_property
    def key_values(self) -> KeyValues:
        return KeyValues(database_path(self.config.state_dir))

    def synced_commands(self, target: str) -> str | None:
        """The hash of the commands last registered for ``target`` (an application and a
        server, or global); None if never (or forgotten)."""
        return self.key_values.get(f"synced-commands:{target}")

    def remember_synced_commands(self, target: str, digest: str | None) -> None:
        """Note (or, with None, forget) the hash of the commands registered for ``target``."""
        if digest is None:
            self.key_values.delete(f"synced-commands:{target}")
        else:
            self.key_values.set(f"synced-commands:{target}", digest)

    # -- what is new ---------------------------------------------------------------------------

    def whats_new(self, n: int = 5) -> list[Excerpt]:
        """The ``n`` sources added last, newest first, each with its opening passage."""
        newest = sorted(self.sources, key=lambda s: (s.added_at, s.id), reverse=True)
        opening = leads(newest, self.passages)
        return [opening[s.id] for s in newest if s.id in opening][: max(0, n)]

    def announcement(self, source_id: str, *, audit_id: int = 0) -> Announcement:
        """The note for a source just added: title, publisher, link (all on ``source``) and
        the earlier unanswered questions it now answers. Blocking (it asks those questions)."""
        source = self.source(source_id)
        answers: list[str] = []
        if self.config.stats.log_questions:
            try:
                gaps = self.question_log.stats(
                    self.analyzer.terms,
                    days=self.config.stats.retention_days,
                    limit=ANNOUNCE_GAPS,
                ).gaps
                answers = answered_by(source, gaps, self.ask)
            except (sqlite3.Error, OSError) as exc:  # the note goes out without them
                log.error("could not read the question log for an announcement: %s", exc)
        return Announcement(audit_id, source, source.added_by, source.added_at, tuple(answers))

    def pending_announcements(self, limit: int = 10) -> list[Announcement]:
        """Sources added (by any path, any process) since the last ``mark_announced``, oldest
        first; the first call ever starts from now. Sources removed since are left out."""
        cursor = self._announced.get()
        if cursor is None:
            self._announced.advance(self.audit.last_id())
            return []
        if self._changed_on_disk():
            self.reload()  # another process just added: see its source now
        # The entries stop at the first pending row; one a killed process left is settled
        # here (a change in flight holds the corpus lock: this waits for it).
        self._settle_interrupted_changes()
        out = []
        for entry in self.audit.since(cursor, "add", limit):
            try:
                out.append(self.announcement(entry.source_id, audit_id=entry.id))
            except CorpusError:
                if self.corpus.path_for(entry.source_id).exists():
                    break  # stored but not loaded yet: the next round announces it
                if not out:  # removed since: nothing to announce, ever
                    self._announced.advance(entry.id)
        return out

    def mark_announced(self, audit_id: int) -> None:
        """Remember that the announcement of this audit row (and all before it) was posted."""
        self._announced.advance(audit_id)

    # -- watched feeds -------------------------------------------------------------------------

    def feeds_add(
        self, url: str, *, kind: str = "feed", added_by: str = "", trial: bool = True
    ) -> Feed:
        """Watch an RSS/Atom feed (``kind`` "feed") or a topic page ("page") for new items.

        With ``trial`` (the default) it is fetched and read once first, so what can never work
        (a 404, broken XML, an HTML page given as a feed, an address the guard refuses) is
        refused now with the same errors as ``add_url`` and ``FeedError`` (``NotAFeed`` for
        an HTML page: watch it as kind "page"), not at the next poll. Blocking (a download)."""
        if kind not in FEED_KINDS:
            raise FeedStoreError(f"kind must be one of {', '.join(FEED_KINDS)}")
        url_host(url.strip())  # only http(s); the guard judges the address at every fetch
        url = clean_url(url)
        key = normalize_url(url)
        self.feed_store.refuse_watched(key)  # before any download
        title = self._poller.trial(url, kind).title if trial else ""
        feed = self.feed_store.add_feed(url, key, kind, added_by, now_iso(), title=title)
        self._audit_feed(added_by, "feed add", feed.url, f"feed {feed.id} ({kind})")
        return feed

    def feeds_list(self) -> list[Feed]:
        return self.feed_store.feeds()

    def feeds_remove(self, feed_id: int, *, removed_by: str = "") -> Feed:
        """Stop watching a feed (its items' decisions are kept)."""
        feed = self.feed_store.remove_feed(feed_id)
        self._audit_feed(removed_by, "feed remove", feed.url, f"feed {feed.id}")
        return feed

    async def poll_feeds(
        self, progress: PollProgress | None = None, *, force: bool = False
    ) -> PollReport:
        """Poll the due feeds (``force``: all) once, in a worker thread; returns the new
        candidates among the results. ``progress`` (a function or coroutine function) hears
        about each feed, on the caller's event loop."""
        loop = asyncio.get_running_loop()
        relay = None
        if progress is not None:
            pending: set[asyncio.Task] = set()

            def deliver(event: PollEvent) -> None:
                result = progress(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    pending.add(task)
                    task.add_done_callback(pending.discard)

            def relay(event: PollEvent) -> None:
                loop.call_soon_threadsafe(deliver, event)

        report = await asyncio.to_thread(self._poller.poll, force=force, progress=relay)
        await asyncio.sleep(0)  # let the last progress calls run
        return report

    def poll_feeds_sync(
        self,
        progress: PollProgress | None = None,
        *,
        force: bool = False,
        stop: threading.Event | None = None,
    ) -> PollReport:
        """``poll_feeds`` for callers without an event loop (``progress`` runs in worker
        threads)."""
        return self._poller.poll(force=force, progress=progress, stop=stop)

    def watch_feeds(self, on_candidates: OnCandidates | None = None) -> FeedWatcher:
        """A background poller for a running bot: ``watcher.start()`` on its event loop,
        ``await watcher.stop()`` at shutdown; ``on_candidates(list)`` hears about new ones."""
        return FeedWatcher(
            lambda stop: self._poller.poll(stop=stop), self._poller.next_due, on_candidates
        )

    def feed_items(self, statuses: Sequence[str] | None = None, limit: int = 50) -> list[Candidate]:
        """Items the feeds listed, newest first, in these statuses (None: all), each with what
        became of it and why (``Candidate.reason``): e.g. those waiting to retry a page that
        failed to download, or judged off topic."""
        wanted = tuple(statuses) if statuses else STATUSES
        unknown = [s for s in wanted if s not in STATUSES]
        if unknown:
            raise FeedStoreError(f"unknown status {unknown[0]!r}; one of: {', '.join(STATUSES)}")
        return self.feed_store.items(wanted, limit, newest=True)

    def review_queue(self, limit: int = 25, *, unposted: bool = False) -> list[Candidate]:
        """Candidates waiting for a moderator, oldest first; ``unposted``: only those not
        marked as shown (``mark_candidate_posted``), e.g. to post what a restart missed."""
        return self.feed_store.items(("pending",), limit, unposted=unposted)

    def mark_candidate_posted(self, candidate_id: int, ref: str) -> None:
        """Remember where an adapter showed a candidate (e.g. "channel_id/message_id"), so it
        can find the message again after a restart; ``Candidate.posted`` gives it back."""
        self.feed_store.mark_posted(candidate_id, ref)

    def outdated_review_posts(self, limit: int = 25) -> list[Candidate]:
        """Candidates whose posted message shows a status they no longer have (decided from
        the command line or another process), for the adapter to redraw."""
        return self.feed_store.outdated_posts(limit)

    def mark_candidate_shown(self, candidate_id: int, status: str) -> None:
        """The candidate's posted message now shows ``status``."""
        self.feed_store.mark_shown(candidate_id, status)

    def candidate(self, candidate_id: int) -> Candidate:
        return self.feed_store.item(candidate_id)

    async def accept_candidate(
        self,
        candidate_id: int,
        *,
        follow: int = 0,
        by: str = "",
        progress: Progress | None = None,
    ) -> Accepted:
        """Add a candidate through the normal add path (``add_url``, audited), and up to
        ``follow`` pages it links to. Only one moderator's accept runs; the other gets a
        FeedStoreError. If the add fails, the candidate waits again (and the error is raised),
        unless its URL turned out to be in the corpus already."""
        now = datetime.now(UTC)
        item = self.feed_store.take(candidate_id, by, iso(now), iso(now - STALE_ACCEPT))
        feed = f"feed {item.feed_id}" if item.feed_id is not None else "a feed"
        if item.feed_title:
            feed += f" ({item.feed_title})"
        try:
            report = await self.add_url(
                item.url,
                added_by=by,
                follow=follow,
                progress=progress,
                published=item.published[:10],  # the feed's date (or the page's), kept
                detail=f"from {feed}, candidate {item.id}",
                extra={"from_feed": item.feed_id, "candidate": item.id}
                if item.feed_id is not None
                else {"candidate": item.id},
            )
        except DuplicateUrl as exc:
            self.feed_store.decide(item.id, "known", by, now_iso(), reason=str(exc))
            raise
        except BaseException:
            self.feed_store.decide(item.id, "pending", "", "", only_from=("accepting",))
            raise
        source_id = report.added[0].source.id
        done = self.feed_store.decide(item.id, "accepted", by, now_iso(), source_id=source_id)
        return Accepted(done, report)

    def ignore_candidate(self, candidate_id: int, *, by: str = "") -> Candidate:
        """A moderator's no: the item is never queued again."""
        item = self.feed_store.decide(
            candidate_id, "ignored", by, now_iso(), only_from=("pending",)
        )
        self._audit_feed(by, "ignore", item.url, f"candidate {item.id}")
        return item

    def _audit_feed(self, actor: str, action: str, url: str, detail: str) -> None:
        try:
            self.audit.record(actor, action, "", url, detail)
        except (sqlite3.Error, OSError, RuntimeError) as exc:
            log.error("audit log not written (%s %s): %s", action, url, exc)

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
        published: str = "",
        detail: str = "",
        extra: dict | None = None,
    ) -> IngestReport:
        """Fetch and store ``url`` (and up to ``follow`` pages it links to); ``progress`` hears
        about every step. The first page's failure raises one of ``bot.sources.ingest.ERRORS``;
        ``force`` stores it even if its text is near-empty or exactly another source's.
        ``published`` overrides the page's date, ``detail`` leads its audit row's detail,
        ``extra`` adds header fields (provenance)."""
        return await self._ingestor.add_url(
            url,
            title=title,
            added_by=added_by,
            kind=kind,
            follow=follow,
            progress=progress,
            force=force,
            published=published,
            detail=detail,
            extra=extra,
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
        if not visible(title):
            raise CorpusError("a source needs a title (with visible characters)")
        if not text.strip():
            raise CorpusError("the source has no text")
        if published and not is_iso_date(published):
            raise CorpusError(
                f"published must be a date such as 2020-09-10, got {published[:40]!r}"
            )
        with self._write_lock:
            with self._corpus_locked():
                # Checks (duplicate URL, near-duplicate text) must see what other processes
                # added; holding the corpus lock, nothing can be added between check and store.
                if self._changed_on_disk():
                    self._reload()
                if check is not None:
                    check(list(self._snapshot.sources.values()))
                source = Source(
                    id=source_id or self.corpus.new_id(title),
                    title=title.strip(),
                    text=text,
                    kind=kind,
                    publisher=publisher.strip(),
                    url=link_target(url.strip()) or url.strip(),  # stored safe
                    published=published,
                    added_by=added_by,
                    added_at=now_iso(),
                    links=tuple(links),
                    extra=dict(extra or {}),
                )
                target = self.corpus.path_for(source.id).name
                with self._audited(added_by, "add", source, target, detail):
                    self.corpus.write(source)
            self._reload()
        return source

    def remove_source(self, source_id: str, *, removed_by: str = "") -> Source:
        """Move a source to the corpus trash (``restore_source`` brings it back).

        ``source_id`` may also name a corpus file that does not load (as a load error shows
        it, e.g. ``notes.txt``): it is moved to the trash all the same."""
        self.corpus.find(source_id)  # an unknown id is refused before anything is touched
        with self._write_lock:
            with self._corpus_locked():
                path, source = self.corpus.find(source_id)
                detail = "" if source.text else "the file did not load"
                with self._audited(removed_by, "remove", source, path.name, detail):
                    self.corpus.move_to_trash(path)
            self._reload()
        return source

    def restore_source(self, source_id: str, *, restored_by: str = "") -> Source:
        self.corpus.restorable(source_id)  # refused before anything is touched
        with self._write_lock:
            with self._corpus_locked():
                _, source = self.corpus.restorable(source_id)
                target = self.corpus.path_for(source_id).name
                detail = "" if source.text else "the file did not load"
                with self._audited(restored_by, "restore", source, target, detail):
                    source = self.corpus.restore(source_id)
            self._reload()
        return source

    # -- keeping the audit log and the corpus together -----------------------------------------

    @contextmanager
    def _corpus_locked(self) -> Iterator[None]:
        """Hold the lock every storybot process takes to change the corpus: what a change
        checks (a duplicate URL, a free id) stays true until it is on disk. Changes a killed
        process left half-recorded are settled first (its death released the lock)."""
        with self.corpus.locked():
            self._reconcile_audit()
            yield

    @contextmanager
    def _audited(
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

    def _settle_interrupted_changes(self) -> None:
        """At start: settle what a process killed mid-change left pending (if anything)."""
        try:
            if not self.audit.pending():
                return
            with self._corpus_locked():
                pass
        except (*AUDIT_ERRORS, CorpusError) as exc:  # e.g. a read-only corpus: not now
            log.warning("interrupted changes not settled: %s", exc)

    def _changed_on_disk(self, snapshot: Snapshot | None = None) -> bool:
        snapshot = snapshot or self._snapshot
        return (
            self._corpus_mtime() != snapshot.corpus_mtime
            or self.corpus.ids() != snapshot.corpus_ids
        )

    def reload(self) -> None:
        """Re-read the corpus and swap the new index in (only new or changed sources are
        processed again; the index itself is rebuilt from all passages, which is fast).

        Under the write lock like every change: a reload that read the corpus before a
        concurrent add must not swap its older snapshot in after the add's, and the passage
        cache is not shared between two builds at once."""
        with self._write_lock:
            self._reload()

    def _reload(self) -> None:  # the caller holds the write lock
        self._reloader.reload()

    def _build(self) -> Snapshot:
        # Read before loading: a change during the load is seen by the next check.
        mtime = self._corpus_mtime()
        ids = frozenset(self.corpus.ids()) if mtime is not None else frozenset()
        loaded = self.corpus.load()
        for error in loaded.errors:
            log.warning("skipped corpus file: %s", error)
        sources = {s.id: s for s in loaded.sources}
        index, semantic = self._segments.build(sources.values(), Index)
        retriever = Retriever(
            index,
            sources,
            self.analyzer,
            self.config.retrieval,
            self.config.aliases,
            semantic,
            self.config.semantic.weight,
        )
        return Snapshot(sources, retriever, tuple(loaded.errors), mtime, ids)


def _span(excerpt: Excerpt) -> tuple[str, int, int]:
    return excerpt.source.id, excerpt.start, excerpt.end


def _overlaps(span: tuple[str, int, int], seen: Sequence[tuple[str, int, int]]) -> bool:
    source_id, start, end = span
    return any(s == source_id and start < e and end > b for s, b, e in seen)
