"""Retrieval quality on labelled questions: hit@1, hit@3, MRR and abstention precision/recall.

A labelled question is ``{"q": "...", "answers": ["phrase", ...]}``; an empty ``answers`` list means
the corpus does not answer it and the bot should abstain. An answerable question is a *hit* at
rank r when one of its phrases appears (case-insensitively) in the r-th excerpt.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.search.retrieval import Answer


@dataclass(frozen=True)
class Labelled:
    question: str
    answers: tuple[str, ...]


@dataclass
class Report:
    answerable: int = 0
    unanswerable: int = 0
    hits_at_1: int = 0
    hits_at_3: int = 0
    reciprocal_ranks: float = 0.0
    abstained_right: int = 0  # abstained on an unanswerable question
    abstained_wrong: int = 0  # abstained on an answerable question
    misses: list[str] = field(default_factory=list)

    @property
    def hit_at_1(self) -> float:
        return self.hits_at_1 / self.answerable if self.answerable else 0.0

    @property
    def hit_at_3(self) -> float:
        return self.hits_at_3 / self.answerable if self.answerable else 0.0

    @property
    def mrr(self) -> float:
        return self.reciprocal_ranks / self.answerable if self.answerable else 0.0

    @property
    def abstention_precision(self) -> float:
        abstained = self.abstained_right + self.abstained_wrong
        return self.abstained_right / abstained if abstained else 1.0

    @property
    def abstention_recall(self) -> float:
        return self.abstained_right / self.unanswerable if self.unanswerable else 1.0

    def as_dict(self) -> dict:
        return {
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "hit@1": round(self.hit_at_1, 4),
            "hit@3": round(self.hit_at_3, 4),
            "mrr": round(self.mrr, 4),
            "abstention_precision": round(self.abstention_precision, 4),
            "abstention_recall": round(self.abstention_recall, 4),
            "misses": self.misses,
        }


def read_labelled(path: Path) -> list[Labelled]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            items.append(Labelled(str(record["q"]), tuple(str(a) for a in record["answers"])))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(
                f'{path.name} line {number}: expected {{"q": ..., "answers": [...]}} ({exc})'
            ) from exc
    return items


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def first_hit_rank(answer: Answer, phrases: Iterable[str]) -> int | None:
    wanted = [_norm(p) for p in phrases]
    for rank, excerpt in enumerate(answer.excerpts, 1):
        text = _norm(excerpt.text)
        if any(p in text for p in wanted):
            return rank
    return None


def evaluate(ask: Callable[[str], Answer], items: Iterable[Labelled]) -> Report:
    """Score ``ask`` (question -> Answer with at least 3 excerpts asked for) on ``items``."""
    report = Report()
    for item in items:
        answer = ask(item.question)
        if not item.answers:
            report.unanswerable += 1
            if not answer.answered:
                report.abstained_right += 1
            else:
                report.misses.append(f"answered an unanswerable question: {item.question}")
            continue
        report.answerable += 1
        if not answer.answered:
            report.abstained_wrong += 1
            report.misses.append(f"abstained: {item.question}")
            continue
        rank = first_hit_rank(answer, item.answers)
        if rank is None:
            report.misses.append(f"no hit in the excerpts: {item.question}")
            continue
        report.reciprocal_ranks += 1 / rank
        report.hits_at_1 += rank == 1
        report.hits_at_3 += rank <= 3
        if rank > 3:
            report.misses.append(f"first hit at rank {rank}: {item.question}")
    return report
