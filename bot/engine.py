"""The one core API that the CLI and the Discord layer both adapt: a thin facade.

:class:`StoryBot` speaks for one story of a deployment (``story``: by name, or the default)
and hands each call to the collaborator that does it, in the order of the data flow
(``bot.stories``): :class:`~bot.stories.curation.Curation` changes the sources,
:class:`~bot.stories.asking.Asking` answers (and records) questions, figures, what is new and
announcements, :class:`~bot.stories.review.Review` watches feeds and keeps the review queue,
:class:`~bot.stories.answers.Answers` keeps what the buttons under a posted answer need and
counts votes. The stories themselves and which server or channel uses which are in the
:class:`~bot.stories.registry.StoryRegistry`, shared by every facade of a process
(:meth:`StoryBot.in_story`). Nothing below it imports it.

Heavy parts (spaCy, the embedding model, the index) load when a story is first asked (or at
once with ``load=True``, the default, as a running bot wants): commands that only read the
database or the corpus files never load them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, load_config
from bot.insights.database import DEFAULT_STORY_ID, database_path
from bot.insights.keyvalues import KeyValues
from bot.sources.corpus import Corpus, Source
from bot.stories.answers import MORE_LIMIT, Vote
from bot.stories.review import Accepted
from bot.stories.store import StoryError, StoryRecord, StoryStore
from bot.stories.story import REFRESH_SECONDS, Shared

if TYPE_CHECKING:
    from bot.search.passages import Passage
    from bot.search.retrieval import Retriever
    from bot.search.semantic import BuildProgress
    from bot.search.text import Analyzer
    from bot.sources.web.fetch import Fetcher
    from bot.stories.registry import OpenStory, StoryRegistry

__all__ = ["MORE_LIMIT", "REFRESH_SECONDS", "Accepted", "StoryBot", "StoryError", "Vote"]


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
    ) -> None:
        """``progress(source_id, done, total)`` hears how embedding a new source goes (the only
        slow step of a build: about 200 passages a second); ``clock`` (seconds, monotonic)
        times the checks for changes by other processes. ``story``: a name or id (None: the
        default story); ``load``: build its index now (else on its first question)."""
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
            self._open = registry.named(story)
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
    def passages(self) -> list[Passage]:
        """The passages of the current snapshot, in index order."""
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

    def refresh_if_changed(self) -> bool:
        return self._open.story.refresh_if_changed()

    def reload(self) -> None:
        self._open.story.reload()

    def __getattr__(self, name: str):
        """Every other public call goes to the collaborator that does it (see the module
        docstring); the table is :data:`DELEGATED`."""
        part = DELEGATED.get(name)
        if part is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(getattr(self._open, part), name)

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


# Which collaborator of a story does each call (``OpenStory`` attribute -> its methods).
_PARTS = {
    "curation": ("links", "audit_entries", "add_url", "add_file", "add_source",
                 "remove_source", "restore_source"),
    "asking": ("ask", "match", "stats", "newly_answered", "whats_new", "announcement",
               "pending_announcements", "mark_announced"),
    "review": ("feeds_add", "feeds_list", "feeds_remove", "poll_feeds", "poll_feeds_sync",
               "watch_feeds", "review_queue", "mark_candidate_posted", "candidate",
               "accept_candidate", "ignore_candidate"),
    "answers": ("vote", "remember_answer", "stored_answer", "is_asker", "forget_answer",
                "vote_on_answer", "more_excerpts"),
}  # fmt: skip
DELEGATED = {name: part for part, names in _PARTS.items() for name in names}
