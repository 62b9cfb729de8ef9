"""The sparse index gives rank-bm25's own scores and ranking, for every variant and corpus size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import RetrievalSettings
from bot.search.index import Index, rank_bm25_model
from bot.search.passages import Passage

WORDS = st.sampled_from("a b c d e f g h i j".split())
DOCS = st.lists(st.lists(WORDS, min_size=0, max_size=12), min_size=0, max_size=12)
QUERY = st.lists(st.sampled_from("a b c d e f g h i j unseen".split()), min_size=0, max_size=6)
SETTINGS = st.builds(
    RetrievalSettings,
    variant=st.sampled_from(["BM25L", "BM25Plus", "BM25Okapi"]),
    k1=st.floats(0.1, 3.0),  # k1 = 0 makes rank-bm25 divide 0 by 0
    b=st.floats(0.0, 1.0),
    delta=st.floats(0.0, 2.0),
)


def passages(docs: list[list[str]]) -> list[Passage]:
    return [Passage("s", i, i + 1, tuple(doc)) for i, doc in enumerate(docs)]


def reference_scores(docs, query, cfg: RetrievalSettings) -> np.ndarray:
    """rank-bm25's get_scores over the passages with terms; 0 for passages without any."""
    out = np.zeros(len(docs))
    rows = [i for i, d in enumerate(docs) if d]
    if rows:
        out[rows] = rank_bm25_model([docs[i] for i in rows], cfg).get_scores(list(query))
    return out


def reference_top(scores: np.ndarray, n: int) -> list[int]:
    """The ranking the retriever used before the sparse index: stable sort of positive scores."""
    nonzero = np.flatnonzero(scores > 0)
    return [int(i) for i in nonzero[np.argsort(-scores[nonzero], kind="stable")][:n]]


@settings(max_examples=300, deadline=None)
@given(docs=DOCS, query=QUERY, cfg=SETTINGS, n=st.integers(1, 8))
def test_scores_and_ranking_equal_rank_bm25(docs, query, cfg, n):
    index = Index(passages(docs), cfg)
    expected = reference_scores(docs, query, cfg)
    got = index.scores(query)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    top = index.top(query, n)
    assert [i for i, _ in top] == reference_top(expected, n)
    for i, score in top:
        assert score == pytest.approx(expected[i], abs=1e-9)


@pytest.mark.parametrize("variant", ["BM25L", "BM25Plus", "BM25Okapi"])
@pytest.mark.parametrize(
    "docs",
    [
        [["film"]],
        [["film", "dance"], ["film"]],
        [["film", "dance", "film"], ["netflix"], ["dance", "girl", "girl"]],
    ],
)
def test_tiny_corpora(docs, variant):
    cfg = RetrievalSettings(variant=variant)
    index = Index(passages(docs), cfg)
    for query in (["film"], ["dance", "film"], ["girl", "girl"], ["unseen"], []):
        expected = reference_scores(docs, query, cfg)
        np.testing.assert_allclose(index.scores(query), expected, rtol=0, atol=1e-9)
        assert [i for i, _ in index.top(query, 3)] == reference_top(expected, 3)


@pytest.mark.parametrize("variant", ["BM25L", "BM25Plus", "BM25Okapi"])
def test_empty_corpus_and_termless_passages(variant):
    cfg = RetrievalSettings(variant=variant)
    for docs in ([], [[]], [[], []]):
        index = Index(passages(docs), cfg)
        assert index.top(["film"], 3) == []
        assert index.scores(["film"]).tolist() == [0.0] * len(docs)
        assert index.weight("film") > 0


def test_exact_bits_on_the_default_variant():
    """Same floating-point operations as rank-bm25: not just close, equal."""
    rng = np.random.default_rng(5)
    vocab = [f"w{i}" for i in range(60)]
    docs = [list(rng.choice(vocab, size=rng.integers(1, 30))) for _ in range(200)]
    cfg = RetrievalSettings()
    index = Index(passages(docs), cfg)
    query = ["w1", "w7", "w7", "w33", "nope"]
    assert np.array_equal(index.scores(query), reference_scores(docs, query, cfg))
