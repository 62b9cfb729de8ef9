"""What one question needs, built from per-source segments, and swapped in whole.

A :class:`Snapshot` is a corpus's sources with its retriever (passages, BM25 index, vectors),
built together and never changed. :class:`Segments` builds the index part from per-source
segments: each source's passages (offsets, terms, sentence starts) and vectors live in the
passage and vector caches (``bot.search.cache``, ``bot.search.semantic``), keyed by the
source's text and the settings, so a build runs spaCy and the embedding model only on sources
that are new or changed, and the stacked vectors reuse every block of unchanged sources.

A :class:`Reloader` holds the current snapshot. A change made by this process rebuilds it
synchronously (the change's caller waits, as it should); a change seen on disk (another
process added or removed a source) is rebuilt in a background thread while questions keep
being answered from the current snapshot, and the new one is swapped in with one assignment.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.search.cache import PassageCache
from bot.search.embeddings import embedder_for
from bot.search.index import Index
from bot.search.retrieval import Retriever
from bot.search.semantic import BuildProgress, SemanticIndex, VectorCache
from bot.search.text import Analyzer
from bot.sources.corpus import Source

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


class Segments:
    """Sources -> (BM25 index, semantic index) from the per-source caches under a cache
    directory. One build at a time (the caller's lock)."""

    def __init__(
        self,
        config: Config,
        analyzer: Analyzer,
        progress: BuildProgress | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        """``cache_dir``: where the segments live (default ``<state_dir>/cache``; a story's
        own in ``bot.stories``)."""
        self.config = config
        self.progress = progress
        cache_dir = cache_dir if cache_dir is not None else config.state_dir / "cache"
        passages_dir = cache_dir / "passages"
        self.passages = PassageCache(passages_dir, analyzer, config.nlp.window_sentences)
        self.vectors: VectorCache | None = None
        self.directories: tuple[Path, ...] = (passages_dir,)
        if config.semantic.enabled:
            vectors_dir = cache_dir / "vectors"
            self.vectors = VectorCache(
                vectors_dir,
                embedder_for(config.semantic),
                windows=config.semantic.windows,
                dtype=config.semantic.vector_dtype,
                blas_threads=config.semantic.blas_threads,
            )
            self.directories += (vectors_dir,)

    @property
    def processed(self) -> int:
        """How many sources this process ran through spaCy (the rest came from the cache)."""
        return self.passages.processed

    @property
    def embedded(self) -> int:
        """How many sources this process embedded (the rest came from the cache)."""
        return self.vectors.embedded if self.vectors is not None else 0

    def build(
        self, sources: Iterable[Source], index_type: type[Index] = Index
    ) -> tuple[Index, SemanticIndex | None]:
        """The indexes of ``sources`` (in order); ``index_type`` builds the BM25 index."""
        sources = list(sources)
        passages = self.passages.passages(sources)
        index = index_type(passages, self.config.retrieval)
        if self.vectors is None:
            return index, None
        by_source = passages.by_source()
        keys = self.passages.last_keys()
        per_source = [(s, keys[s.id], by_source[s.id]) for s in sources]
        return index, self.vectors.index(per_source, self.progress)


def release_free_memory() -> None:
    """Give the memory a build freed back to the system. A build's temporary arrays (tens of
    MB at 100k passages) are freed into the C heap, which keeps them (RSS) unless asked:
    glibc's ``malloc_trim``; elsewhere nothing happens."""
    global _TRIM
    if _TRIM is None:
        try:
            _TRIM = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _TRIM = False
    if _TRIM:
        _TRIM(0)


_TRIM = None


class Reloader:
    """The current snapshot of a corpus, and how it is replaced: ``reload()`` builds the next
    one now (the caller holds ``lock``); ``reload_in_background(stale)`` builds it in a
    thread, under ``lock``, if ``stale(current)`` still holds then, while readers keep the
    current one. Readers never take a lock: ``snapshot`` is one attribute read."""

    def __init__(self, build: Callable[[], Snapshot], lock: threading.Lock) -> None:
        self._build = build
        self._lock = lock
        self._state = threading.Lock()
        self._thread: threading.Thread | None = None
        self.snapshot: Snapshot | None = None
        # Background reloads that failed (logged; the next check tries again).
        self.failures = 0

    def reload(self) -> Snapshot:
        """Build and swap in the next snapshot (the caller holds the lock)."""
        self.snapshot = self._build()
        release_free_memory()
        return self.snapshot

    def reload_in_background(self, stale: Callable[[Snapshot], bool]) -> bool:
        """Start a background rebuild unless one is under way; True if one was started."""
        with self._state:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._thread = threading.Thread(
                target=self._run, args=(stale,), name="storybot-reload", daemon=True
            )
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background rebuild under way; False if it is still running."""
        with self._state:
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _run(self, stale: Callable[[Snapshot], bool]) -> None:
        try:
            with self._lock:
                if self.snapshot is None or stale(self.snapshot):
                    self.reload()
        except Exception:  # the current snapshot keeps answering; the next check retries
            self.failures += 1
            log.exception("reloading the corpus in the background failed")
