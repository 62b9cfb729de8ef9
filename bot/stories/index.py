"""What builds and serves one story's index: corpus files -> per-source segments (passages
through spaCy, vectors through the model, both cached in the story's cache directory,
``bot.search.snapshot.Segments``) -> BM25 index (+ vectors) -> a Retriever, kept as one
immutable :class:`Snapshot`. A change builds a new snapshot and swaps it in with one
assignment (``bot.search.snapshot.Reloader``), so a question asked meanwhile is answered from
the old, consistent state; a change another process made is rebuilt in the background.

Imported only when a story answers its first question (``bot.stories.story``): commands that
only read files or the database never load spaCy or the embedding model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.config import Config
from bot.search.index import Index
from bot.search.passages import Passage
from bot.search.retrieval import Retriever
from bot.search.semantic import BuildProgress
from bot.search.snapshot import Reloader, Segments, Snapshot
from bot.search.text import Analyzer
from bot.sources.corpus import Corpus
from bot.stories import story as story_module
from bot.stories.story import corpus_mtime

log = logging.getLogger(__name__)

__all__ = ["Snapshot", "StoryIndex"]


class StoryIndex:
    """A story's current snapshot and the segments it is built from. ``lock`` is the story's
    write lock: the caller holds it around ``reload``; a background reload takes it."""

    def __init__(
        self,
        config: Config,
        corpus: Corpus,
        cache_dir: Path,
        analyzer: Analyzer,
        lock: threading.Lock,
        progress: BuildProgress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.corpus = corpus
        self.analyzer = analyzer
        self._clock = clock
        self.segments = Segments(config, analyzer, progress, cache_dir)
        self.reloader = Reloader(self.build, lock)
        self.reloader.reload()
        self.checked_at = clock()

    @property
    def snapshot(self) -> Snapshot:
        return self.reloader.snapshot

    @property
    def passages(self) -> Sequence[Passage]:
        return self.snapshot.retriever.index.passages

    @property
    def passage_builds(self) -> int:
        return self.segments.processed

    @property
    def vector_builds(self) -> int:
        return self.segments.embedded

    def due_for_check(self) -> bool:
        """At most every REFRESH_SECONDS: whether to look at the corpus directory again."""
        now = self._clock()
        if now - self.checked_at < story_module.REFRESH_SECONDS:
            return False
        self.checked_at = now
        return True

    def stale(self) -> bool:
        """Whether the corpus directory changed since the snapshot was read (one stat)."""
        return corpus_mtime(self.corpus) != self.snapshot.corpus_mtime

    def changed_on_disk(self, snapshot: Snapshot | None = None) -> bool:
        snapshot = snapshot or self.snapshot
        return (
            corpus_mtime(self.corpus) != snapshot.corpus_mtime
            or self.corpus.ids() != snapshot.corpus_ids
        )

    def reload(self) -> None:  # the caller holds the story's write lock
        self.reloader.reload()

    def reload_in_background(self) -> bool:
        """Rebuild in a background thread (unless one is under way) if the corpus still
        differs then; questions keep the current snapshot meanwhile. True if one started."""
        return self.reloader.reload_in_background(self.changed_on_disk)

    def build(self) -> Snapshot:
        # Read before loading: a change during the load is seen by the next check.
        mtime = corpus_mtime(self.corpus)
        ids = frozenset(self.corpus.ids()) if mtime is not None else frozenset()
        loaded = self.corpus.load()
        for error in loaded.errors:
            log.warning("skipped corpus file: %s", error)
        sources = {s.id: s for s in loaded.sources}
        index, semantic = self.segments.build(sources.values(), Index)
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
