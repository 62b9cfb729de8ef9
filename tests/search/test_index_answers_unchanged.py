"""The shipped dev questions get the same answers from the sparse index as from rank-bm25 itself.

The reference ranks exactly as the retriever did before the sparse index: rank-bm25's
``get_scores`` over every passage, then a stable sort of the positive scores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import bot.stories.index
from bot.search.index import Index, rank_bm25_model
from conftest import DATA

QUESTIONS = [
    json.loads(line)["q"]
    for name in ("dev-questions.jsonl", "more-questions.jsonl")
    for line in (DATA / name).read_text(encoding="utf-8").splitlines()
    if line.strip()
]


class RankBm25Index(Index):
    """rank-bm25 used directly: dense scores over all passages on every question."""

    def __init__(self, passages, settings) -> None:
        super().__init__(passages, settings)
        self._rows_list = [i for i, p in enumerate(self.passages) if p.terms]
        self._model = rank_bm25_model([self.passages[i].terms for i in self._rows_list], settings)

    def top(self, terms, n):
        scores = np.zeros(len(self.passages))
        scores[self._rows_list] = self._model.get_scores(list(terms))
        nonzero = np.flatnonzero(scores > 0)
        order = nonzero[np.argsort(-scores[nonzero], kind="stable")][:n]
        return [(int(i), float(scores[i])) for i in order]


def summary(answer) -> tuple:
    return (
        answer.answered,
        answer.reason,
        [
            (e.source.id, e.start, e.end, round(e.score, 9), round(e.coverage, 9))
            for e in answer.excerpts
        ],
    )


@pytest.mark.parametrize("variant", ["BM25L", "BM25Plus", "BM25Okapi"])
def test_dev_questions_same_excerpts_as_rank_bm25(make_bot, monkeypatch, variant):
    fast = make_bot(config={"retrieval": {"variant": variant}})
    monkeypatch.setattr(bot.stories.index, "Index", RankBm25Index)
    fast.reload()
    reference_retriever = fast.retriever
    assert isinstance(reference_retriever.index, RankBm25Index)
    monkeypatch.undo()
    fast.reload()
    assert type(fast.retriever.index) is Index
    answered = 0
    for question in QUESTIONS:
        expected = summary(reference_retriever.ask(question))
        assert summary(fast.ask(question)) == expected, question
        answered += expected[0]
    assert answered >= 10  # the comparison covers real answers, not only abstentions
