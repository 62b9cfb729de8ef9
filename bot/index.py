"""Passages -> a BM25 index (rank-bm25) that scores a list of query terms.

Why BM25L by default: a single story is a tiny corpus (a few dozen passages). There BM25Okapi's
idf, log((N - df + 0.5) / (df + 0.5)), is negative for any term in more than half the passages
and rank-bm25 floors it to ``epsilon * mean idf``, so a very common word can outweigh a rarer
one; BM25Plus gives every passage a positive score even with no query term at all. BM25L's idf,
log((N + 1) / (df + 0.5)), stays positive and monotonic, and a passage with no query term scores
exactly 0. The comparison on the dev questions is in README ("Retrieval choices").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import rank_bm25

from bot.config import RetrievalSettings
from bot.passages import Passage

VARIANTS = {
    "BM25L": rank_bm25.BM25L,
    "BM25Plus": rank_bm25.BM25Plus,
    "BM25Okapi": rank_bm25.BM25Okapi,
}


class Index:
    """BM25 over passages' terms; an empty corpus is an index that matches nothing."""

    def __init__(self, passages: Sequence[Passage], settings: RetrievalSettings) -> None:
        self.passages = list(passages)
        self.settings = settings
        # Passages without a single term cannot match; leaving them out also avoids a zero avgdl.
        self._rows = [i for i, p in enumerate(self.passages) if p.terms]
        self.doc_freq: dict[str, int] = {}
        for i in self._rows:
            for term in set(self.passages[i].terms):
                self.doc_freq[term] = self.doc_freq.get(term, 0) + 1
        self._bm25 = None
        if self._rows:
            cls = VARIANTS[settings.variant]
            params = {"k1": settings.k1, "b": settings.b}
            if settings.variant != "BM25Okapi":
                params["delta"] = settings.delta
            self._bm25 = cls([list(self.passages[i].terms) for i in self._rows], **params)

    def __len__(self) -> int:
        return len(self.passages)

    def weight(self, term: str) -> float:
        """How informative a term is: BM25L's idf, which stays positive, and is highest for a
        term the corpus has never seen (df = 0)."""
        n = len(self._rows)
        return math.log((n + 1) / (self.doc_freq.get(term, 0) + 0.5))

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """One score per passage (0 where no term matches)."""
        out = np.zeros(len(self.passages))
        if self._bm25 is None or not terms:
            return out
        out[self._rows] = self._bm25.get_scores(list(terms))
        return out
