"""What builds and serves one story's index today: corpus files -> passages (spaCy, cached per
source) -> BM25 index (+ vectors, cached per source) -> a Retriever, kept as one immutable
:class:`Snapshot`. A change builds a new snapshot and swaps it in with one assignment, so a
question asked meanwhile is answered from the old, consistent state.

Imported only when a story answers its first question (``bot.stories.story``): commands that
only read files or the database never load spaCy or the embedding model.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.search.cache import PassageCache
from bot.search.embeddings import embedder_for
from bot.search.index import Index
from bot.search.passages import Passage
from bot.search.retrieval import Retriever
from bot.search.semantic import BuildProgress, VectorCache
from bot.search.text import Analyzer
from bot.sources.corpus import Corpus, Source
from bot.stories import story as story_module
from bot.stories.story import corpus_mtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    """Everything one question needs, built together and never mutated."""

    sources: dict[str, Source]
    retriever: Retriever
    load_errors: tuple[str, ...]
    # The corpus directory's modification time when it was read (None: no directory).
    corpus_mtime: int | None = None
    # The names of its files then: a file another process added within the same timestamp
    # tick leaves the modification time unchanged, but not this.
    corpus_ids: frozenset[str] = frozenset()


class StoryIndex:
    """A story's current snapshot and the caches it is built from. The caller (``Story``)
    holds its write lock around ``build``/``swap``."""

    def __init__(
        self,
        config: Config,
        corpus: Corpus,
        cache_dir: Path,
        analyzer: Analyzer,
        embedder_factory: Callable[[], object] | None = None,
        progress: BuildProgress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.corpus = corpus
        self.analyzer = analyzer
        self.progress = progress
        self._clock = clock
        # Passages per source, reused across builds and restarts (only changed sources are
        # run through spaCy again).
        self._passages = PassageCache(cache_dir / "passages", analyzer, config.nlp.window_sentences)
        # The semantic layer: passage vectors per source, cached beside the passages.
        self._vectors: VectorCache | None = None
        if config.semantic.enabled:
            embedder = embedder_factory() if embedder_factory else embedder_for(config.semantic)
            self._vectors = VectorCache(cache_dir / "vectors", embedder)
        self.snapshot = self.build()
        self.checked_at = clock()

    @property
    def passages(self) -> list[Passage]:
        return self.snapshot.retriever.index.passages

    @property
    def passage_builds(self) -> int:
        return self._passages.processed

    @property
    def vector_builds(self) -> int:
        return self._vectors.embedded if self._vectors is not None else 0

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

    def changed_on_disk(self) -> bool:
        return self.stale() or self.corpus.ids() != self.snapshot.corpus_ids

    def reload(self) -> None:  # the caller holds the story's write lock
        self.snapshot = self.build()

    def build(self) -> Snapshot:
        # Read before loading: a change during the load is seen by the next check.
        mtime = corpus_mtime(self.corpus)
        ids = frozenset(self.corpus.ids()) if mtime is not None else frozenset()
        loaded = self.corpus.load()
        for error in loaded.errors:
            log.warning("skipped corpus file: %s", error)
        sources = {s.id: s for s in loaded.sources}
        passages = self._passages.passages(sources.values())
        index = Index(passages, self.config.retrieval)
        semantic = None
        if self._vectors is not None:
            by_source: dict[str, list] = {source_id: [] for source_id in sources}
            for passage in passages:
                by_source[passage.source_id].append(passage)
            keys = self._passages.last_keys()
            per_source = [(s, keys[s.id], by_source[s.id]) for s in sources.values()]
            semantic = self._vectors.index(per_source, self.progress)
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
