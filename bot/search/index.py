"""Passages -> a BM25 index that scores a list of query terms, with rank-bm25's exact numbers.

Why BM25L by default: a single story is a tiny corpus (a few dozen passages). There BM25Okapi's
idf, log((N - df + 0.5) / (df + 0.5)), is negative for any term in more than half the passages
and rank-bm25 floors it to ``epsilon * mean idf``, so a very common word can outweigh a rarer
one; BM25Plus gives every passage a positive score even with no query term at all. BM25L's idf,
log((N + 1) / (df + 0.5)), stays positive and monotonic, and a passage with no query term scores
exactly 0. The comparison on the dev questions is in README ("Retrieval choices").

Why not call rank-bm25 per question: its ``get_scores`` walks every passage's term dict in
Python for every query term (about 165 ms at 100k passages). Here each term's contribution to
each passage that contains it is computed once, at build time, with rank-bm25's own idf and
formula (the same floating-point operations in the same order), into a sparse terms x passages
matrix. A question then touches only the passages that contain one of its terms. BM25Plus
also gives passages *without* the term ``idf * delta``; that per-term constant is kept apart
and added to every passage. ``tests/search/test_index_parity.py`` checks the scores against
rank-bm25's ``get_scores`` on random corpora.

Each variant is a pair of small pure functions (as in bm25s): its idf over document
frequencies, and its per-(term, passage) contribution. Note that rank-bm25's BM25L, which we
match bit for bit, scores a passage *without* a query term as 0; Lv and Zhai's paper gives such
a passage ``idf * delta * (k1 + 1) / (k1 + delta)`` (the ctd = 0 case of the formula). Only
the relative order of passages containing the terms matters to retrieval here, and "score > 0"
then means "shares a term", which the abstention rule relies on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import rank_bm25
from scipy import sparse

from bot.config import RetrievalSettings
from bot.search.cache import PassageList
from bot.search.passages import Passage

# rank-bm25's default for BM25Okapi's idf floor (we do not configure it).
OKAPI_EPSILON = 0.25


# -- the variants: idf and contribution, written as rank-bm25 writes them (same bits) ----------


def bm25l_idf(freqs: list[int], n: int) -> list[float]:
    return [math.log(n + 1) - math.log(f + 0.5) for f in freqs]


def bm25plus_idf(freqs: list[int], n: int) -> list[float]:
    return [math.log((n + 1) / f) for f in freqs]


def okapi_idf(freqs: list[int], n: int) -> list[float]:
    """Negative idfs (terms in over half the passages) are floored to epsilon * mean idf."""
    idf = [math.log(n - f + 0.5) - math.log(f + 0.5) for f in freqs]
    if not idf:
        return idf
    idf_sum = 0.0
    for value in idf:  # summed in vocabulary order, as rank-bm25 does
        idf_sum += value
    eps = OKAPI_EPSILON * (idf_sum / len(idf))
    return [eps if value < 0 else value for value in idf]


def bm25l_score(idf, tf, doc_len, avgdl, k1: float, b: float, delta: float):
    ctd = tf / (1 - b + b * doc_len / avgdl)
    return idf * tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)


def bm25plus_score(idf, tf, doc_len, avgdl, k1: float, b: float, delta: float):
    return idf * (delta + (tf * (k1 + 1)) / (k1 * (1 - b + b * doc_len / avgdl) + tf))


def okapi_score(idf, tf, doc_len, avgdl, k1: float, b: float, delta: float):
    return idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avgdl)))


@dataclass(frozen=True)
class Variant:
    idf: Callable[[list[int], int], list[float]]
    score: Callable[..., np.ndarray]
    reference: type  # rank-bm25's class, the reference the fast path is tested against
    # BM25Plus also scores passages that lack the term: idf * delta.
    scores_absent_terms: bool = False


VARIANTS = {
    "BM25L": Variant(bm25l_idf, bm25l_score, rank_bm25.BM25L),
    "BM25Plus": Variant(bm25plus_idf, bm25plus_score, rank_bm25.BM25Plus, True),
    "BM25Okapi": Variant(okapi_idf, okapi_score, rank_bm25.BM25Okapi),
}


# The weights an index keeps for the terms asked lately: at least this many (term, passage)
# pairs (8 MB), else a quarter of the corpus's.
WEIGHT_CACHE_MIN = 1_000_000


class Index:
    """BM25 over passages' terms; an empty corpus is an index that matches nothing."""

    def __init__(self, passages: Sequence[Passage], settings: RetrievalSettings) -> None:
        self.settings = settings
        variant = VARIANTS[settings.variant]
        # Passages without a single term cannot match; leaving them out also avoids a zero avgdl.
        # Vocabulary in first-occurrence order: rank-bm25's order, which BM25Okapi's mean idf
        # is summed in.
        self.passages: Sequence[Passage]
        if isinstance(passages, PassageList):  # terms already as arrays: no pass in Python
            self._rows, vocab, ids, doc_len = _terms_from_arrays(passages)
            self.passages = passages  # made one by one as they are read (no list of them all)
        else:
            self.passages = list(passages)
            self._rows, vocab, ids, doc_len = _terms_of(self.passages)
        self._vocab = vocab
        n = len(self._rows)
        docs = np.repeat(np.arange(n, dtype=np.int64), doc_len)
        # Term frequencies: duplicates (term, passage) are summed by the CSR conversion.
        tf = sparse.csr_matrix(
            (np.ones(len(ids)), (ids, docs)), shape=(len(vocab), n), dtype=np.float64
        )
        tf.sum_duplicates()
        df = np.diff(tf.indptr)
        self.doc_freq: dict[str, int] = dict(zip(vocab, df.tolist(), strict=True))
        self._idf = np.asarray(variant.idf(df.tolist(), n), dtype=np.float64)
        # Score of a passage that lacks the term (BM25Plus only; 0 for the others).
        self._absent = np.zeros(len(vocab))
        # Term frequencies (one row per term); a term's BM25 weights are computed from them
        # when a question asks for it (``_weights``): the same values a precomputed matrix
        # would hold, without weighting every (term, passage) pair of the corpus at each
        # build (at 1M passages, 15M pairs and ~2 s of an add or a restart).
        self._matrix = tf
        self._doc_len = doc_len.astype(np.float64)
        self._avgdl = int(doc_len.sum()) / n if n else 1.0  # rank-bm25: num_doc / corpus_size
        self._score = variant.score
        # Weights of the terms asked lately (vocabulary row -> array), at most about a quarter
        # of the corpus's pairs: the common terms most questions share are weighted once.
        self._weighted: dict[int, np.ndarray] = {}
        self._weighted_limit = max(WEIGHT_CACHE_MIN, tf.nnz // 4)
        self._weighted_room = self._weighted_limit
        if n and variant.scores_absent_terms:
            self._absent = self._idf * settings.delta

    def __len__(self) -> int:
        return len(self.passages)

    def weight(self, term: str) -> float:
        """How informative a term is: BM25L's idf, which stays positive, and is highest for a
        term the corpus has never seen (df = 0)."""
        n = len(self._rows)
        return math.log((n + 1) / (self.doc_freq.get(term, 0) + 0.5))

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """One score per passage (what rank-bm25's ``get_scores`` gives; 0 for passages
        without terms)."""
        out = np.zeros(len(self.passages))
        if len(self._rows):
            out[self._rows] = self._row_scores(terms)
        return out

    def top(self, terms: Sequence[str], n: int) -> list[tuple[int, float]]:
        """The ``n`` best passages with a positive score, as (passage index, score), best first;
        equal scores in corpus order (exactly a stable sort of ``scores``)."""
        if not len(self._rows) or n < 1:
            return []
        scores = self._row_scores(terms)
        rows = np.flatnonzero(scores > 0)
        values = scores[rows]
        if rows.size > n:
            # The n-th best score; everything tied with it stays so ties break by position.
            nth = values[np.argpartition(-values, n - 1)[n - 1]]
            keep = values >= nth
            rows, values = rows[keep], values[keep]
        order = np.lexsort((rows, -values))[:n]
        return [
            (int(p), float(v)) for p, v in zip(self._rows[rows[order]], values[order], strict=True)
        ]

    # -- building blocks ---------------------------------------------------------------------

    def _row_scores(self, terms: Sequence[str]) -> np.ndarray:
        """rank-bm25's ``get_scores`` over the passages that have terms: per query term (repeats
        count, unknown terms add 0), add its contribution, in query order."""
        matrix, n = self._matrix, len(self._rows)
        out = np.zeros(n)
        for term in terms:
            row = self._vocab.get(term)
            if row is None:
                continue
            a, b = matrix.indptr[row], matrix.indptr[row + 1]
            passages, weights = matrix.indices[a:b], self._weights(row, a, b)
            absent = self._absent[row]
            if absent:
                contribution = np.full(n, absent)
                contribution[passages] = weights
                out += contribution
            else:
                out[passages] += weights
        return out

    def _weights(self, row: int, a: int, b: int) -> np.ndarray:
        """The BM25 weights of one term (vocabulary ``row``, entries ``a:b`` of the matrix)
        in the passages that have it. Kept for the next question; when the kept weights reach
        their room, they are dropped at once and kept again as questions come (questions
        from several threads at once may weigh a term twice: same values)."""
        weights = self._weighted.get(row)
        if weights is not None:
            return weights
        s, matrix = self.settings, self._matrix
        weights = self._score(
            self._idf[row],
            matrix.data[a:b],
            self._doc_len[matrix.indices[a:b]],
            self._avgdl,
            s.k1,
            s.b,
            s.delta,
        )
        if self._weighted_room < b - a:
            self._weighted = {}
            self._weighted_room = self._weighted_limit
        self._weighted[row] = weights
        self._weighted_room -= b - a
        return weights


def _terms_of(
    passages: Sequence[Passage],
) -> tuple[np.ndarray, dict[str, int], np.ndarray, np.ndarray]:
    """The passages with terms (their indices), the vocabulary in first-occurrence order,
    every term of those passages as a vocabulary id, and their lengths."""
    rows = [i for i, p in enumerate(passages) if p.terms]
    vocab: dict[str, int] = {}
    ids = np.fromiter(
        (vocab.setdefault(t, len(vocab)) for i in rows for t in passages[i].terms),
        dtype=np.int64,
    )
    doc_len = np.fromiter((len(passages[i].terms) for i in rows), dtype=np.int64)
    return np.asarray(rows, dtype=np.int64), vocab, ids, doc_len


def _terms_from_arrays(
    passages: PassageList,
) -> tuple[np.ndarray, dict[str, int], np.ndarray, np.ndarray]:
    """``_terms_of`` from the arrays a PassageList carries (the same results)."""
    rows = np.flatnonzero(passages.lengths > 0)
    tokens = passages.tokens
    if tokens.size:
        # Where each term first occurs (a minimum per term, no sort of every token).
        first = np.full(int(tokens.max()) + 1, len(tokens), np.int64)
        np.minimum.at(first, tokens, np.arange(len(tokens)))
        seen = np.flatnonzero(first < len(tokens))
        order = seen[np.argsort(first[seen], kind="stable")]
        renumber = np.zeros(len(first), np.int64)
        renumber[order] = np.arange(len(order))
        ids = renumber[tokens]
    else:
        order, ids = np.zeros(0, np.int64), np.zeros(0, np.int64)
    terms = passages.vocabulary
    vocab = {terms[g]: n for n, g in enumerate(order.tolist())}
    return rows.astype(np.int64), vocab, ids, passages.lengths[rows].astype(np.int64)


def rank_bm25_model(corpus: Sequence[Sequence[str]], settings: RetrievalSettings):
    """rank-bm25's own model for ``settings`` (the reference the fast path is tested against)."""
    params = {"k1": settings.k1, "b": settings.b}
    if settings.variant != "BM25Okapi":
        params["delta"] = settings.delta
    return VARIANTS[settings.variant].reference([list(doc) for doc in corpus], **params)
