"""The one core API that the CLI and the Discord layer both adapt: a thin facade.

:class:`StoryBot` speaks for one story of a deployment (``story``: by name, or the default) and
hands each call to the collaborator that does it, in the order of the data flow
(``bot.stories``): :class:`~bot.stories.curation.Curation` changes the sources,
:class:`~bot.stories.asking.Asking` answers (and records) questions, figures, what is new and
announcements, :class:`~bot.stories.review.Review` watches feeds and keeps the review queue,
:class:`~bot.stories.answers.Answers` keeps what the buttons under a posted answer need and
counts votes (each method below is one line: the collaborator's docstring says what it does).
The stories themselves and which server or channel uses which are in the
:class:`~bot.stories.registry.StoryRegistry`, shared by every facade of a process
(:meth:`StoryBot.in_story`). Nothing below it imports it.

Heavy parts (spaCy, the embedding model, the index) load when a story is first asked (or at once
with ``load=True``, the default, as a running bot wants): commands that only read the database
or the corpus files never load them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from bot.config import Config, load_config
from bot.insights.database import DEFAULT_STORY_ID, database_path
from bot.insights.keyvalues import KeyValues
from bot.sources.corpus import Corpus, Source
from bot.stories.answers import MORE_LIMIT, Vote
from bot.stories.channels import ChannelStore
from bot.stories.review import Accepted
from bot.stories.store import StoryError, StoryRecord, StoryStore
from bot.stories.story import REFRESH_SECONDS, AuditUnavailable, Shared

if TYPE_CHECKING:
    import threading
    from collections.abc import Sequence

    from bot.insights.announcements import Announcement
    from bot.insights.answers import StoredAnswer
    from bot.insights.audit import AuditEntry
    from bot.insights.questionlog import Gap, Stats
    from bot.search.passages import Passage
    from bot.search.retrieval import Answer, Excerpt, Match, Retriever
    from bot.search.semantic import BuildProgress
    from bot.search.text import Analyzer
    from bot.sources.corpus import Link
    from bot.sources.feeds.poller import PollProgress, PollReport
    from bot.sources.feeds.store import Candidate, Feed
    from bot.sources.feeds.watcher import FeedWatcher, OnCandidates
    from bot.sources.ingest import Added, AddUrlOptions, IngestReport, Progress
    from bot.sources.web.fetch import Fetcher
    from bot.stories.registry import OpenStory, StoryRegistry

__all__ = [
    "MORE_LIMIT",
    "REFRESH_SECONDS",
    "Accepted",
    "AuditUnavailable",
    "StoryBot",
    "StoryError",
    "Vote",
]


class StoryBot:
    def __init__(
        self,
        config: Config,
        analyzer: Analyzer | None = None,
        fetcher: Fetcher | None = None,
        progress: BuildProgress | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        story: str | int | None = None,
        load: bool = True,
        registry: StoryRegistry | None = None,
        archived: bool = False,
    ) -> None:
        """``progress(source_id, done, total)`` hears how embedding a new source goes (the only
        slow step of a build: about 200 passages a second); ``clock`` (seconds, monotonic)
        times the checks for changes by other processes. ``story``: a name or id (None: the
        default story); ``load``: build its index now (else on its first question);
        ``archived``: an archived story may be named (to read its sources and logs)."""
        from bot.stories.registry import StoryRegistry

        self.config = config
        if registry is None:
            registry = StoryRegistry(Shared(config, analyzer, fetcher, progress, clock))
        self.registry = registry
        if story is None:
            self._open = registry.open(DEFAULT_STORY_ID)
        elif isinstance(story, int):
            self._open = registry.open(story)
        else:
            self._open = registry.named(story, archived=archived)
        if load:
            self._open.story.loaded()

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

    # -- which story ---------------------------------------------------------------------------

    def in_story(self, story: int | StoryRecord, *, load: bool = False) -> StoryBot:
        """A facade for another story of the same registry (by id or record)."""
        story_id = story.id if isinstance(story, StoryRecord) else story
        return StoryBot(self.config, story=story_id, load=load, registry=self.registry)

    @property
    def story(self) -> StoryRecord:
        return self._open.story.record

    @property
    def stories(self) -> StoryStore:
        """Which stories exist and which server and channel uses which."""
        return self.registry.store

    @property
    def server_channels(self) -> ChannelStore:
        """Each server's own review and announcement channels."""
        return self.registry.channels

    # -- the story's parts, for adapters and tests ---------------------------------------------

    @property
    def analyzer(self) -> Analyzer:
        return self.registry.shared.analyzer

    @property
    def progress(self) -> BuildProgress | None:
        return self.registry.shared.progress

    @property
    def corpus(self) -> Corpus:
        return self._open.story.corpus

    @property
    def audit(self):
        return self._open.story.audit

    @property
    def feed_store(self):
        return self._open.story.feed_store

    @property
    def question_log(self):
        return self._open.story.question_log

    @property
    def answers(self):
        return self._open.story.answers

    @property
    def _poller(self):
        return self._open.review.poller

    @property
    def open_story(self) -> OpenStory:
        return self._open

    # -- reading -------------------------------------------------------------------------------

    @property
    def sources(self) -> list[Source]:
        return self._open.story.sources

    @property
    def load_errors(self) -> tuple[str, ...]:
        return self._open.story.load_errors

    @property
    def passage_count(self) -> int:
        return len(self._open.story.snapshot.retriever.index)

    @property
    def passages(self) -> Sequence[Passage]:
        """The passages of the current snapshot, in index order (a sequence that makes each
        passage when it is read)."""
        return self._open.story.snapshot.retriever.index.passages

    @property
    def retriever(self) -> Retriever:
        """The current snapshot's retriever (replaced, never changed, when the corpus changes)."""
        return self._open.story.snapshot.retriever

    @property
    def cached_passage_builds(self) -> int:
        """How many sources this process ran through spaCy (the rest came from the cache)."""
        return self._open.story.loaded().passage_builds

    @property
    def vector_builds(self) -> int:
        """How many sources this process embedded (the rest came from the cache)."""
        return self._open.story.loaded().vector_builds

    def source(self, source_id: str) -> Source:
        """The source with this id; CorpusError if there is none."""
        return self._open.story.source(source_id)

    def refresh_if_changed(self, *, wait: bool = False) -> bool:
        return self._open.story.refresh_if_changed(wait=wait)

    def reload(self) -> None:
        self._open.story.reload()

    # -- changing the sources (Curation) ---------------------------------------------------------

    def links(self, source_id: str) -> list[tuple[Link, str | None]]:
        return self._open.curation.links(source_id)

    def audit_entries(self, source_id: str | None = None, limit: int = 50) -> list[AuditEntry]:
        return self._open.curation.audit_entries(source_id, limit)

    async def add_url(self, url: str, **options: Unpack[AddUrlOptions]) -> IngestReport:
        return await self._open.curation.add_url(url, **options)

    def add_file(self, filename: str, data: bytes, **fields) -> Added:
        return self._open.curation.add_file(filename, data, **fields)

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
        return self._open.curation.add_source(
            text,
            title,
            publisher=publisher,
            url=url,
            published=published,
            added_by=added_by,
            kind=kind,
            source_id=source_id,
            links=links,
            extra=extra,
            detail=detail,
            check=check,
        )

    def remove_source(self, source_id: str, *, removed_by: str = "") -> Source:
        return self._open.curation.remove_source(source_id, removed_by=removed_by)

    def restore_source(self, source_id: str, *, restored_by: str = "") -> Source:
        return self._open.curation.restore_source(source_id, restored_by=restored_by)

    # -- asking (Asking) -------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        record: bool = False,
        server: str = "",
        origin: str = "discord",
    ) -> Answer:
        return self._open.asking.ask(question, k, record=record, server=server, origin=origin)

    def match(self, text: str) -> Match:
        return self._open.asking.match(text)

    def story_names(self) -> frozenset[str]:
        return self._open.asking.story_names()

    def stats(self, days: int = 30) -> Stats:
        return self._open.asking.stats(days)

    def newly_answered(self, stats: Stats) -> list[tuple[Gap, Source]]:
        return self._open.asking.newly_answered(stats)

    def whats_new(self, n: int = 5) -> list[Excerpt]:
        return self._open.asking.whats_new(n)

    def announcement(self, source_id: str, *, audit_id: int = 0) -> Announcement:
        return self._open.asking.announcement(source_id, audit_id=audit_id)

    def pending_announcements(self, limit: int = 10) -> list[Announcement]:
        return self._open.asking.pending_announcements(limit)

    def mark_announced(self, audit_id: int) -> None:
        return self._open.asking.mark_announced(audit_id)

    # -- watched feeds and the review queue (Review) ---------------------------------------------

    def feeds_add(
        self, url: str, *, kind: str = "feed", added_by: str = "", trial: bool = True
    ) -> Feed:
        return self._open.review.feeds_add(url, kind=kind, added_by=added_by, trial=trial)

    def feeds_list(
        self,
    ) -> list[Feed]:
        return self._open.review.feeds_list()

    def feeds_remove(self, feed_id: int, *, removed_by: str = "") -> Feed:
        return self._open.review.feeds_remove(feed_id, removed_by=removed_by)

    async def poll_feeds(
        self, progress: PollProgress | None = None, *, force: bool = False
    ) -> PollReport:
        return await self._open.review.poll_feeds(progress, force=force)

    def poll_feeds_sync(
        self,
        progress: PollProgress | None = None,
        *,
        force: bool = False,
        stop: threading.Event | None = None,
    ) -> PollReport:
        return self._open.review.poll_feeds_sync(progress, force=force, stop=stop)

    def watch_feeds(self, on_candidates: OnCandidates | None = None) -> FeedWatcher:
        return self._open.review.watch_feeds(on_candidates)

    def feed_items(self, statuses: Sequence[str] | None = None, limit: int = 50) -> list[Candidate]:
        return self._open.review.feed_items(statuses, limit)

    def review_queue(self, limit: int = 25, *, unposted: bool = False) -> list[Candidate]:
        return self._open.review.review_queue(limit, unposted=unposted)

    def mark_candidate_posted(self, candidate_id: int, ref: str) -> None:
        return self._open.review.mark_candidate_posted(candidate_id, ref)

    def outdated_review_posts(self, limit: int = 25) -> list[Candidate]:
        return self._open.review.outdated_review_posts(limit)

    def mark_candidate_shown(self, candidate_id: int, status: str) -> None:
        return self._open.review.mark_candidate_shown(candidate_id, status)

    def candidate(self, candidate_id: int) -> Candidate:
        return self._open.review.candidate(candidate_id)

    async def accept_candidate(
        self, candidate_id: int, *, follow: int = 0, by: str = "", progress: Progress | None = None
    ) -> Accepted:
        return await self._open.review.accept_candidate(
            candidate_id, follow=follow, by=by, progress=progress
        )

    def ignore_candidate(self, candidate_id: int, *, by: str = "") -> Candidate:
        return self._open.review.ignore_candidate(candidate_id, by=by)

    # -- answers posted with buttons, and votes (Answers) ----------------------------------------

    def vote(self, question_id: int, helpful: bool) -> bool:
        return self._open.answers.vote(question_id, helpful)

    def remember_answer(
        self, answer: Answer, asker_id: int, *, via_interaction: bool
    ) -> StoredAnswer | None:
        return self._open.answers.remember_answer(answer, asker_id, via_interaction=via_interaction)

    def stored_answer(self, answer_id: int) -> StoredAnswer | None:
        return self._open.answers.stored_answer(answer_id)

    def is_asker(self, answer: StoredAnswer, member_id: int) -> bool:
        return self._open.answers.is_asker(answer, member_id)

    def forget_answer(self, answer_id: int) -> None:
        return self._open.answers.forget_answer(answer_id)

    def vote_on_answer(self, answer: StoredAnswer, member_id: int, helpful: bool) -> Vote:
        return self._open.answers.vote_on_answer(answer, member_id, helpful)

    def more_excerpts(self, answer: StoredAnswer, shown: int) -> tuple[int, list[Excerpt]]:
        return self._open.answers.more_excerpts(answer, shown)

    # -- Discord's registered commands (the deployment's, not a story's) -----------------------

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
