"""Passages -> sentence vectors, cached per source, and the cosines a question gets from them.

Every passage window *and* every sentence of it gets a vector. A window's cosine with a
question is the larger of the window's own and its best sentence's: a long window dilutes the
one sentence that answers, a lone sentence misses context the window has (measured on SQuAD:
each alone ranks worse than the max).

Vectors are cached like passages: one file per source, ``<state_dir>/cache/vectors/<id>.npz``,
keyed by the source's passage key (text, pipeline, windows) and the embedder's fingerprint
(model and tokenizer hashes); plain arrays, no pickle; a file that does not match or cannot be
read is ignored and rewritten. Only sources that changed are embedded again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from bot.search.cache import ArrayFiles, valid_offsets, within
from bot.search.embeddings import Embedder
from bot.search.passages import Passage
from bot.sources.corpus import Source

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
# A source's texts are embedded in runs of this many, each run kept on disk as a checkpoint
# (``<id>.part<n>.npz``) until the source is done: a process killed while embedding a large
# source loses at most one run (about 10 s), not the whole source.
CHECKPOINT_TEXTS = 2048
# (source id, texts embedded so far, texts to embed): for a progress bar on large sources.
BuildProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SourceVectors:
    """One source's vectors: a row per passage window and per distinct sentence, and for each
    passage the rows of its sentences (``sentence_ptr[i]:sentence_ptr[i+1]`` into
    ``sentence_rows``)."""

    windows: np.ndarray
    sentences: np.ndarray
    sentence_ptr: np.ndarray
    sentence_rows: np.ndarray


def sentence_spans(text: str, passages: Sequence[Passage]) -> tuple[list[tuple[int, int]], list]:
    """The distinct sentences of a source's passages as (start, end) spans in text order, and
    per passage the indices of its sentences. A sentence ends where the next one of its
    window starts (trailing whitespace trimmed), or where the window ends."""
    ends: dict[int, int] = {}
    for p in passages:
        starts = p.sentence_starts or (p.start,)
        for start, nxt in zip(starts, (*starts[1:], None), strict=True):
            end = p.end if nxt is None else len(text[start:nxt].rstrip()) + start
            ends[start] = max(ends.get(start, 0), end)
    order = sorted(ends)
    index = {start: n for n, start in enumerate(order)}
    spans = [(start, ends[start]) for start in order]
    members = [[index[s] for s in (p.sentence_starts or (p.start,))] for p in passages]
    return spans, members


class VectorCache:
    """Vectors per source, in memory and on disk; only new or changed sources are embedded."""

    def __init__(self, directory: Path | None, embedder: Embedder) -> None:
        self._files = ArrayFiles(directory, "vector cache")
        self.embedder = embedder
        self._memory: dict[str, tuple[str, SourceVectors]] = {}
        # How many sources were embedded (the rest came from the cache).
        self.embedded = 0

    def vectors(
        self,
        sources: Iterable[tuple[Source, str, Sequence[Passage]]],
        progress: BuildProgress | None = None,
    ) -> list[SourceVectors]:
        """Per (source, passage cache key, its passages), its vectors, in order."""
        memory: dict[str, tuple[str, SourceVectors]] = {}
        out = []
        for source, passage_key, passages in sources:
            key = hashlib.sha256(
                f"{FORMAT_VERSION}|{self.embedder.fingerprint}|{passage_key}".encode()
            ).hexdigest()
            known = self._memory.get(source.id)
            found = known[1] if known is not None and known[0] == key else None
            if found is None:
                unpack = partial(self._unpack, passages=len(passages))
                found = self._files.read(source.id, key, unpack)
            if found is None:
                found = self._embed(source, passages, progress, key)
                self.embedded += 1
                self._files.write(source.id, key, vars(found))
                self._files.drop_parts(source.id)
            memory[source.id] = (key, found)
            out.append(found)
        self._memory = memory
        self._files.prune(memory.keys())
        return out

    def index(
        self,
        sources: Iterable[tuple[Source, str, Sequence[Passage]]],
        progress: BuildProgress | None = None,
    ) -> SemanticIndex:
        """The stacked index of ``sources``' vectors (see ``vectors``). The cache then keeps
        each source's vectors as views into the index's matrices, so a corpus's vectors are
        held once, not once per source and again stacked (twice during a rebuild only)."""
        per_source = self.vectors(sources, progress)
        index = SemanticIndex(per_source, self.embedder)
        self._memory = {
            source_id: (key, view)
            for (source_id, (key, _)), view in zip(
                self._memory.items(), index.per_source(), strict=True
            )
        }
        return index

    def _embed(
        self,
        source: Source,
        passages: Sequence[Passage],
        progress: BuildProgress | None,
        key: str,
    ) -> SourceVectors:
        spans, members = sentence_spans(source.text, passages)
        texts = [source.text[p.start : p.end] for p in passages]
        texts += [source.text[a:b] for a, b in spans]
        runs: list[np.ndarray] = []
        # Runs a killed process already embedded (checked like any cached array).
        while len(runs) * CHECKPOINT_TEXTS < len(texts):
            expected = min(CHECKPOINT_TEXTS, len(texts) - len(runs) * CHECKPOINT_TEXTS)
            unpack = partial(self._unpack_run, rows=expected)
            run = self._files.read(source.id, key, unpack, part=len(runs))
            if run is None:
                break
            runs.append(run)
        for begin in range(len(runs) * CHECKPOINT_TEXTS, len(texts), CHECKPOINT_TEXTS):
            report = None
            if progress is not None:

                def report(done: int, total: int, begin: int = begin) -> None:
                    progress(source.id, begin + done, len(texts))

            run = self.embedder.embed(texts[begin : begin + CHECKPOINT_TEXTS], report)
            if begin + CHECKPOINT_TEXTS < len(texts):  # the last run goes into the whole file
                self._files.write(source.id, key, {"vectors": run}, part=len(runs))
            runs.append(run)
        dims = self.embedder.dimensions
        vectors = np.concatenate(runs) if runs else np.zeros((0, dims), np.float32)
        return SourceVectors(
            windows=vectors[: len(passages)],
            sentences=vectors[len(passages) :],
            sentence_ptr=np.cumsum([0, *map(len, members)], dtype=np.int64),
            sentence_rows=np.array([i for m in members for i in m], dtype=np.int64),
        )

    def _unpack_run(self, data, rows: int) -> np.ndarray:
        run = data["vectors"].astype(np.float32)
        if run.shape != (rows, self.embedder.dimensions) or not np.all(np.isfinite(run)):
            raise ValueError("inconsistent checkpoint")
        return run

    def _unpack(self, data, passages: int) -> SourceVectors:
        found = SourceVectors(
            data["windows"].astype(np.float32),
            data["sentences"].astype(np.float32),
            data["sentence_ptr"],
            data["sentence_rows"],
        )
        dims = self.embedder.dimensions
        if (
            found.windows.shape != (passages, dims)
            or found.sentences.ndim != 2
            or found.sentences.shape[1] != dims
            or len(found.sentence_ptr) != passages + 1
            or not valid_offsets(found.sentence_ptr, len(found.sentence_rows))
            or not within(found.sentence_rows, 0, len(found.sentences))
        ):
            raise ValueError("inconsistent arrays")
        for name in ("windows", "sentences"):
            vectors = getattr(found, name)
            # L2-normalised vectors: finite, each of length 1 (or 0 for an empty text).
            if not np.all(np.isfinite(vectors)) or (
                vectors.size
                and (np.abs(vectors).max() > 1.001 or np.linalg.norm(vectors, axis=1).max() > 1.001)
            ):
                raise ValueError(f"{name}: vectors not finite or not normalised")
        return found


@dataclass(frozen=True)
class Cosines:
    """A question's cosines: per passage (max of window and best sentence), the best sentence
    per passage, and the best sentence of the whole corpus."""

    passages: np.ndarray
    best_sentence: np.ndarray
    corpus_best_sentence: float


class SemanticIndex:
    """All sources' vectors stacked in passage order, and the question's embedder."""

    def __init__(self, per_source: Sequence[SourceVectors], embedder: Embedder) -> None:
        self.embedder = embedder
        dims = embedder.dimensions
        self._windows = (
            np.concatenate([v.windows for v in per_source])
            if per_source
            else np.zeros((0, dims), np.float32)
        )
        self._sentences = (
            np.concatenate([v.sentences for v in per_source])
            if per_source
            else np.zeros((0, dims), np.float32)
        )
        # For each passage, the global rows of its sentences, as one flat array sorted by
        # passage (so a max per passage is one ``np.maximum.reduceat``).
        rows, starts, offset, position = [], [], 0, 0
        for v in per_source:
            rows.append(v.sentence_rows + offset)
            starts.append(v.sentence_ptr[:-1] + position)
            offset += len(v.sentences)
            position += len(v.sentence_rows)
        self._sentence_rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        self._passage_starts = np.concatenate(starts) if starts else np.zeros(0, np.int64)
        # Each source's vectors again, as views into the stacked matrices (see per_source).
        self._views, w, n = [], 0, 0
        for v in per_source:
            windows = self._windows[w : w + len(v.windows)]
            sentences = self._sentences[n : n + len(v.sentences)]
            self._views.append(SourceVectors(windows, sentences, v.sentence_ptr, v.sentence_rows))
            w, n = w + len(v.windows), n + len(v.sentences)

    def per_source(self) -> list[SourceVectors]:
        """Each source's vectors, in the order given, as views into the stacked matrices (no
        copy: a cache that keeps these holds the vectors once)."""
        return list(self._views)

    def __len__(self) -> int:
        return len(self._windows)

    def embed_question(self, question: str) -> np.ndarray:
        return self.embedder.embed([question])[0]

    def cosines(self, question_vector: np.ndarray) -> Cosines:
        if not len(self._windows):
            return Cosines(np.zeros(0), np.zeros(0), 0.0)
        windows = self._windows @ question_vector
        sentences = self._sentences @ question_vector
        best = np.maximum.reduceat(sentences[self._sentence_rows], self._passage_starts)
        return Cosines(
            np.maximum(windows, best).astype(np.float64),
            best.astype(np.float64),
            float(sentences.max()),
        )
