"""Passages -> sentence vectors, cached per source, and the cosines a question gets from them.

Every passage window *and* every sentence of it gets a vector. A window's cosine with a
question is the larger of the window's own and its best sentence's: a long window dilutes the
one sentence that answers, a lone sentence misses context the window has (measured on SQuAD:
each alone ranks worse than the max). With ``[semantic] windows = "derived"`` only sentences
are embedded and a window's vector is the normalised mean of its sentences' (half the
embedding work; it changes the cosines the answer rule was fitted on: docs/performance.md).

Vectors are cached like passages: one file per source, ``<state_dir>/cache/vectors/<id>.npz``,
keyed by the source's passage key (text, pipeline, windows) and the embedder's fingerprint
(model and tokenizer hashes); plain arrays, no pickle, read through a checked memory map
(``bot.search.cache.map_arrays``); a file that does not match, cannot be read or holds
values that cannot be (non-finite vectors, rows out of range) is ignored and rewritten. Only
sources that changed are embedded again. When another process is embedding (it holds the
cache directory's lock), this one waits for it and reuses its files instead of embedding the
same sources twice.

In memory, the vectors of consecutive sources are stacked *transposed* into blocks of at most
``BLOCK_VECTORS`` columns (float32, dims x vectors): a question's cosines are one matrix-vector
product per block (the faster kernel for this layout), and a rebuild after an add or a remove
reuses every block whose sources did not change, so the corpus's vectors are held once and a
change copies at most a block or two, never the whole index.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from bot.files import StillLocked, locked_directory
from bot.search.cache import ArrayFiles
from bot.search.embeddings import Embedder
from bot.search.passages import Passage
from bot.sources.corpus import Source

log = logging.getLogger(__name__)

# 2: sentence ranges as (first, count); window mode and storage dtype in the key.
FORMAT_VERSION = 2
# A source's texts are embedded in runs of this many, each run kept on disk as a checkpoint
# (``<id>.part<n>.npz``) until the source is done: a process killed while embedding a large
# source loses at most one run (about 10 s), not the whole source.
CHECKPOINT_TEXTS = 2048
# (source id, texts embedded so far, texts to embed): for a progress bar on large sources.
BuildProgress = Callable[[str, int, int], None]
# Columns per stacked block (32k x 384 float32 = 48 MB): what a change copies at most per block.
BLOCK_VECTORS = 32_768
# How long a build waits for another process that is embedding into the same cache.
EMBED_WAIT_SECONDS = 600.0
# Each block's window and sentence columns are padded with zeros to a multiple of this: BLAS
# computes the last few columns of a product with other instructions (other rounding), so
# without it a vector's cosine would depend on where in a block it sits and an index updated
# by an add would differ from one built from scratch in the last bit.
COLUMN_PAD = 64
WINDOW_MODES = ("embedded", "derived")
VECTOR_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class SourceVectors:
    """One source's vectors: a row per passage window and per distinct sentence, and for each
    passage the range of its sentences' rows (``sentence_first[i]``, ``sentence_count[i]``
    rows from there: a window's sentences are consecutive)."""

    windows: np.ndarray
    sentences: np.ndarray
    sentence_first: np.ndarray
    sentence_count: np.ndarray


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


_BLAS_LIMITED: set[int] = set()
_BLAS_LOCK = threading.Lock()


def limit_blas_threads(threads: int) -> None:
    """Let BLAS (numpy's matrix products) use ``threads`` threads in this process; 0 leaves it
    alone. One thread is the right number for a matrix-vector product per question: a second
    one saves little and spins after each product, which on a busy machine costs the other
    processes (and onnxruntime) far more than it gains."""
    if threads < 1:
        return
    with _BLAS_LOCK:
        if threads in _BLAS_LIMITED:
            return
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api="blas")
        _BLAS_LIMITED.clear()
        _BLAS_LIMITED.add(threads)


class VectorCache:
    """Vectors per source, in memory and on disk; only new or changed sources are embedded."""

    def __init__(
        self,
        directory: Path | None,
        embedder: Embedder,
        *,
        windows: str = "embedded",
        dtype: str = "float32",
        blas_threads: int = 1,
    ) -> None:
        if windows not in WINDOW_MODES or dtype not in VECTOR_DTYPES:
            raise ValueError(f"windows {windows!r} / dtype {dtype!r}")
        self.directory = directory
        self._files = ArrayFiles(directory, "vector cache")
        self.embedder = embedder
        self.windows = windows
        self.dtype = np.dtype(dtype)
        self.blas_threads = blas_threads
        # The last index built: its blocks hold every source's vectors (the memory of this
        # cache; the next build reuses them).
        self._index: SemanticIndex | None = None
        # How many sources were embedded (the rest came from the cache or another process).
        self.embedded = 0

    def key(self, passage_key: str) -> str:
        settings = f"{FORMAT_VERSION}|{self.embedder.fingerprint}|{self.windows}|{self.dtype}"
        return hashlib.sha256(f"{settings}|{passage_key}".encode()).hexdigest()

    def vectors(
        self,
        sources: Iterable[tuple[Source, str, Sequence[Passage]]],
        progress: BuildProgress | None = None,
    ) -> list[SourceVectors]:
        """Per (source, passage cache key, its passages), its vectors, in order (views into
        the index ``index`` builds)."""
        return self.index(sources, progress).per_source()

    def index(
        self,
        sources: Iterable[tuple[Source, str, Sequence[Passage]]],
        progress: BuildProgress | None = None,
    ) -> SemanticIndex:
        """The stacked index of ``sources``' vectors. Blocks of the previous index whose
        sources are unchanged are reused as they are; other sources' vectors come from the
        previous index (a view), their cache file (read through its memory map straight into
        the new block: no second copy of the corpus's vectors, ever) or the model."""
        items = list(sources)
        keys = [self.key(passage_key) for _, passage_key, _ in items]
        known = self._index.by_key() if self._index is not None else {}

        def vectors(i: int) -> SourceVectors:
            source, _, passages = items[i]
            found = known.get(keys[i])
            if found is None:
                found = self._read(source, keys[i], passages)
            if found is None:
                found = self._embed_once(source, keys[i], passages, progress)
            return found

        limit_blas_threads(self.blas_threads)
        index = SemanticIndex.assemble(keys, vectors, self.embedder, previous=self._index)
        self._files.prune(source.id for source, _, _ in items)
        self._index = index
        return index

    def _read(self, source: Source, key: str, passages: Sequence[Passage]) -> SourceVectors | None:
        return self._files.read(source.id, key, partial(self._unpack, passages=len(passages)))

    def _embed_once(
        self,
        source: Source,
        key: str,
        passages: Sequence[Passage],
        progress: BuildProgress | None,
    ) -> SourceVectors:
        """Embed and store a source's vectors, holding the cache directory's lock, so another
        process that needs the same source waits and reads this one's file (and the other way
        round). A lock held too long (a stuck process) is not waited for forever."""
        if self.directory is None:
            return self._embed_and_store(source, key, passages, progress)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with locked_directory(self.directory, EMBED_WAIT_SECONDS):
                found = self._read(source, key, passages)
                if found is not None:  # another process embedded it meanwhile
                    return found
                return self._embed_and_store(source, key, passages, progress)
        except (StillLocked, OSError) as exc:
            log.warning("embedding %s without the cache lock: %s", source.id, exc)
            return self._embed_and_store(source, key, passages, progress)

    def _embed_and_store(self, source, key, passages, progress) -> SourceVectors:
        found = self._embed(source, passages, progress, key)
        self.embedded += 1
        stored = {
            "windows": found.windows.astype(self.dtype),
            "sentences": found.sentences.astype(self.dtype),
            "sentence_first": found.sentence_first,
            "sentence_count": found.sentence_count,
        }
        self._files.write(source.id, key, stored)
        self._files.drop_parts(source.id)
        if self.dtype != np.float32:  # what is used is what a restart reads back
            found = SourceVectors(
                stored["windows"].astype(np.float32),
                stored["sentences"].astype(np.float32),
                found.sentence_first,
                found.sentence_count,
            )
        return found

    def _embed(
        self,
        source: Source,
        passages: Sequence[Passage],
        progress: BuildProgress | None,
        key: str = "",
    ) -> SourceVectors:
        spans, members = sentence_spans(source.text, passages)
        first = np.array([m[0] for m in members], dtype=np.int64)
        count = np.array([len(m) for m in members], dtype=np.int64)
        texts = [source.text[a:b] for a, b in spans]
        derived = self.windows == "derived"
        if not derived:
            texts = [source.text[p.start : p.end] for p in passages] + texts
        vectors = self._embed_in_runs(source.id, texts, progress, key)
        if derived:
            sentences = vectors
            windows = derive_windows(sentences, first, count)
        else:
            windows, sentences = vectors[: len(passages)], vectors[len(passages) :]
        return SourceVectors(windows, sentences, first, count)

    def _embed_in_runs(
        self, source_id: str, texts: list[str], progress: BuildProgress | None, key: str
    ) -> np.ndarray:
        """The texts' vectors, embedded in runs of CHECKPOINT_TEXTS; every run but the last
        is kept as a checkpoint, and runs a killed process left are read back (checked)."""
        runs: list[np.ndarray] = []
        while key and len(runs) * CHECKPOINT_TEXTS < len(texts):
            expected = min(CHECKPOINT_TEXTS, len(texts) - len(runs) * CHECKPOINT_TEXTS)
            unpack = partial(self._unpack_run, rows=expected)
            run = self._files.read(source_id, key, unpack, part=len(runs))
            if run is None:
                break
            runs.append(run)
        for begin in range(len(runs) * CHECKPOINT_TEXTS, len(texts), CHECKPOINT_TEXTS):
            report = None
            if progress is not None:

                def report(done: int, total: int, begin: int = begin) -> None:
                    progress(source_id, begin + done, len(texts))

            run = self.embedder.embed(texts[begin : begin + CHECKPOINT_TEXTS], report)
            if key and begin + CHECKPOINT_TEXTS < len(texts):  # the last goes in the whole file
                self._files.write(source_id, key, {"vectors": run}, part=len(runs))
            runs.append(run)
        dims = self.embedder.dimensions
        return np.concatenate(runs) if runs else np.zeros((0, dims), np.float32)

    def _unpack_run(self, data, rows: int) -> np.ndarray:
        run = data["vectors"]
        if run.shape != (rows, self.embedder.dimensions) or not _unit_or_zero(run):
            raise ValueError("inconsistent checkpoint")
        return np.array(run, dtype=np.float32)

    def _unpack(self, data, passages: int) -> SourceVectors:
        """Checked views of the file's memory map (copied once, into a block)."""
        windows, sentences = data["windows"], data["sentences"]
        first, count = data["sentence_first"], data["sentence_count"]
        dims = self.embedder.dimensions
        if (
            windows.shape != (passages, dims)
            or sentences.ndim != 2
            or sentences.shape[1] != dims
            or windows.dtype != self.dtype
            or sentences.dtype != self.dtype
            or first.shape != (passages,)
            or count.shape != (passages,)
            or first.dtype.kind != "i"
            or count.dtype.kind != "i"
            or (passages and (first.min() < 0 or count.min() < 1))
            or (passages and (first + count).max() > len(sentences))
        ):
            raise ValueError("inconsistent arrays")
        if not (_unit_or_zero(windows) and _unit_or_zero(sentences)):
            raise ValueError("vectors not finite or not normalised")
        return SourceVectors(windows, sentences, first.astype(np.int64), count.astype(np.int64))


def _unit_or_zero(vectors: np.ndarray) -> bool:
    """L2-normalised vectors: all finite, each of length 1 (or 0 for an empty text); checked a
    slice at a time (no temporary the size of the array). One pass: each vector's squared
    length must be at most 1.001², which a NaN or an infinity (or a value that overflows when
    squared) fails, as does any value above 1.001 in size."""
    step = 4096
    for i in range(0, len(vectors), step):
        chunk = np.asarray(vectors[i : i + step], dtype=np.float32)
        if chunk.size and not np.einsum("ij,ij->i", chunk, chunk).max() <= 1.001**2:
            return False
    return True


def derive_windows(sentences: np.ndarray, first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Each window's vector as the normalised mean of its sentences' (rows ``first[i]`` ..
    ``first[i] + count[i] - 1``), float32."""
    if not len(first):
        return np.zeros((0, sentences.shape[1]), np.float32)
    sums = np.concatenate([np.zeros((1, sentences.shape[1])), np.cumsum(sentences, axis=0)])
    means = (sums[first + count] - sums[first]) / count[:, None]
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.maximum(norms, 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class Cosines:
    """A question's cosines: per passage (max of window and best sentence), the best sentence
    per passage, and the best sentence of the whole corpus."""

    passages: np.ndarray
    best_sentence: np.ndarray
    corpus_best_sentence: float


@dataclass(eq=False)
class _Block:
    """Consecutive sources' vectors, transposed: ``matrix[:, :windows]`` are their windows,
    ``matrix[:, sentences_at : sentences_at + sentences]`` their sentences, source after
    source (zero columns pad each part to COLUMN_PAD). Never changed once built, so
    snapshots share it."""

    matrix: np.ndarray  # (dims, padded windows + padded sentences) float32
    windows: int
    sentences: int
    sentences_at: int
    # Per source: its cache key (None: never reused), its window and sentence counts, and
    # per window its sentences' rows in the source (first, count).
    keys: tuple[str | None, ...]
    counts: tuple[tuple[int, int], ...]
    ranges: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def size(self) -> int:
        return self.windows + self.sentences


class SemanticIndex:
    """All sources' vectors in passage order, in shared blocks, and the question's embedder."""

    def __init__(
        self,
        per_source: Sequence[SourceVectors],
        embedder: Embedder,
        keys: Sequence[str | None] | None = None,
        previous: SemanticIndex | None = None,
    ) -> None:
        keys = list(keys) if keys is not None else [None] * len(per_source)
        reusable = previous._blocks if previous is not None else []
        self._setup(
            _assemble(keys, per_source.__getitem__, reusable, embedder.dimensions), embedder
        )

    @classmethod
    def assemble(
        cls,
        keys: Sequence[str | None],
        vectors: Callable[[int], SourceVectors],
        embedder: Embedder,
        previous: SemanticIndex | None = None,
    ) -> SemanticIndex:
        """The index of ``len(keys)`` sources; ``vectors(i)`` is asked only for sources not in
        a reused block of ``previous``, in order, and dropped once copied."""
        index = cls.__new__(cls)
        reusable = previous._blocks if previous is not None else []
        index._setup(_assemble(keys, vectors, reusable, embedder.dimensions), embedder)
        return index

    def _setup(self, blocks: list[_Block], embedder: Embedder) -> None:
        self.embedder = embedder
        self._blocks = blocks
        # Where each block's windows and sentences go in the question's cosine arrays.
        self._offsets, w, s = [], 0, 0
        firsts, counts = [], []
        for block in self._blocks:
            self._offsets.append((w, s))
            for (_, n_sentences), (first, count) in zip(block.counts, block.ranges, strict=True):
                firsts.append(first + s)
                counts.append(count)
                s += n_sentences
            w += block.windows
        self._n_windows, self._n_sentences = w, s
        # Per passage, its sentences' global rows: first .. first + count - 1.
        first = np.concatenate(firsts) if firsts else np.zeros(0, np.int64)
        count = np.concatenate(counts) if counts else np.zeros(0, np.int64)
        # Passages grouped by sentence count c: their best sentence is the max over c
        # consecutive rows from ``first`` (a running max over contiguous slices).
        self._groups = [
            (c, np.flatnonzero(count == c), first[count == c]) for c in np.unique(count).tolist()
        ]

    def per_source(self) -> list[SourceVectors]:
        """Each source's vectors, in order, as views into the stacked blocks (no copy)."""
        out = []
        for block in self._blocks:
            w, s = 0, block.sentences_at
            for (n_windows, n_sentences), (first, count) in zip(
                block.counts, block.ranges, strict=True
            ):
                out.append(
                    SourceVectors(
                        block.matrix[:, w : w + n_windows].T,
                        block.matrix[:, s : s + n_sentences].T,
                        first,
                        count,
                    )
                )
                w, s = w + n_windows, s + n_sentences
        return out

    def by_key(self) -> dict[str, SourceVectors]:
        """Each source's vectors (views) by cache key, for the next build."""
        keys = [key for block in self._blocks for key in block.keys]
        return {k: v for k, v in zip(keys, self.per_source(), strict=True) if k is not None}

    def __len__(self) -> int:
        return self._n_windows

    def embed_question(self, question: str) -> np.ndarray:
        return self.embedder.embed([question])[0]

    def cosines(self, question_vector: np.ndarray) -> Cosines:
        if not self._n_windows:
            return Cosines(np.zeros(0), np.zeros(0), 0.0)
        q = np.ascontiguousarray(question_vector, dtype=np.float32)
        windows = np.empty(self._n_windows, np.float32)
        sentences = np.empty(self._n_sentences, np.float32)
        for block, (w, s) in zip(self._blocks, self._offsets, strict=True):
            product = q @ block.matrix  # whole padded width: see COLUMN_PAD
            windows[w : w + block.windows] = product[: block.windows]
            at = block.sentences_at
            sentences[s : s + block.sentences] = product[at : at + block.sentences]
        best = np.empty(self._n_windows, np.float32)
        running, width = sentences, 1
        for c, rows, first in self._groups:
            while width < c:  # running[k] = max(sentences[k : k + width])
                running = np.maximum(running[:-1], sentences[width:])
                width += 1
            best[rows] = running[first]
        return Cosines(
            np.maximum(windows, best).astype(np.float64),
            best.astype(np.float64),
            float(sentences.max()),
        )


def _assemble(
    keys: Sequence[str | None],
    vectors: Callable[[int], SourceVectors],
    previous: Sequence[_Block],
    dims: int,
) -> list[_Block]:
    """Blocks for ``per_source``: a previous block is reused when the same sources (same
    keys) follow each other here too and it is not a small one (small blocks, left by adds,
    are merged into their neighbours' new block instead, so they do not pile up); the other
    sources are copied into new blocks of at most BLOCK_VECTORS columns."""
    by_first = {
        b.keys[0]: b
        for b in previous
        if b.keys and None not in b.keys and b.size >= BLOCK_VECTORS // 2
    }
    blocks: list[_Block] = []
    pending: list[tuple[str | None, SourceVectors]] = []
    pending_size = 0

    def flush() -> None:
        nonlocal pending, pending_size
        if pending:
            blocks.append(_new_block([v for _, v in pending], [k for k, _ in pending], dims))
        pending, pending_size = [], 0

    i = 0
    while i < len(keys):
        reuse = by_first.get(keys[i]) if keys[i] is not None else None
        if reuse is not None and tuple(keys[i : i + len(reuse.keys)]) == reuse.keys:
            flush()
            blocks.append(reuse)
            i += len(reuse.keys)
            continue
        v = vectors(i)
        size = len(v.windows) + len(v.sentences)
        if pending and pending_size + size > BLOCK_VECTORS:
            flush()
        pending.append((keys[i], v))
        pending_size += size
        i += 1
    flush()
    return blocks


def _new_block(vectors: Sequence[SourceVectors], keys: Sequence[str | None], dims: int) -> _Block:
    n_windows = sum(len(v.windows) for v in vectors)
    n_sentences = sum(len(v.sentences) for v in vectors)
    sentences_at = -(-n_windows // COLUMN_PAD) * COLUMN_PAD
    width = sentences_at + -(-n_sentences // COLUMN_PAD) * COLUMN_PAD
    matrix = np.zeros((dims, width), np.float32)
    w, s = 0, sentences_at
    for v in vectors:
        matrix[:, w : w + len(v.windows)] = v.windows.T
        matrix[:, s : s + len(v.sentences)] = v.sentences.T
        w, s = w + len(v.windows), s + len(v.sentences)
    return _Block(
        matrix,
        n_windows,
        n_sentences,
        sentences_at,
        tuple(keys),
        tuple((len(v.windows), len(v.sentences)) for v in vectors),
        tuple((np.array(v.sentence_first), np.array(v.sentence_count)) for v in vectors),
    )
