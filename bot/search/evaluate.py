"""Retrieval quality on labelled questions and on story sets (one corpus per story,
SQuAD-style), counted the way a member sees the replies.

A labelled question is ``{"q": "...", "answers": ["phrase", ...]}``; an empty ``answers`` list means
the corpus does not answer it and the bot should not answer confidently. An answerable question is
a *hit* at rank r when one of its phrases appears (case-insensitively) in the r-th excerpt.

Replies are of three kinds (answer, closest passage, nothing). *Shown* hit@k counts the first k
passages the member sees, whether an answer's excerpts or the closest passages of a reply that
is not sure; plain hit@k counts answers only (a reply that is not sure is a miss). *Confident
precision* is the share of answers (to any question of the set) whose first excerpts hold an
answer phrase; an answer to an unanswerable question is never right.
"""

from __future__ import annotations

import json
import random
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.search.retrieval import Answer, Excerpt, QuestionError, clean_or_refuse
from bot.sources.corpus import Source


@dataclass(frozen=True)
class Labelled:
    question: str
    answers: tuple[str, ...]


KINDS = ("answer", "closest", "nothing")


@dataclass
class ShownCounts:
    """What members saw, for either report: replies by kind, shown hits (answer or closest
    passages) of answerable questions, and how many confident answers were right."""

    kinds: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    shown_hits_at_1: int = 0
    shown_hits_at_3: int = 0
    confident_right: int = 0

    @property
    def confident_precision(self) -> float | None:
        answered = self.kinds["answer"]
        return self.confident_right / answered if answered else None

    def count(self, answer: Answer, phrases: Sequence[str]) -> None:
        """The reply's kind, its shown hits (answerable only) and whether a confident answer
        is right."""
        self.kinds[answer.kind] += 1
        if not phrases:
            return
        rank = first_hit_rank(answer, phrases, shown=True)
        if rank is not None:
            self.shown_hits_at_1 += rank == 1
            self.shown_hits_at_3 += rank <= 3
            self.confident_right += answer.answered


@dataclass
class Report(ShownCounts):
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
            "replies": dict(self.kinds),
            "shown_hit@1": _rate(self.shown_hits_at_1, self.answerable),
            "shown_hit@3": _rate(self.shown_hits_at_3, self.answerable),
            "confident_precision": _round(self.confident_precision),
            "unanswerable_answered": self.unanswerable - self.abstained_right,
            "misses": self.misses,
        }


def read_labelled(path: Path) -> list[Labelled]:
    """The questions of a JSONL file, each ``{"q": "question", "answers": ["phrase", ...]}``
    (``[]``: the story does not answer it); ValueError naming the first bad line."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            items.append(_labelled(json.loads(line)))
        except (json.JSONDecodeError, KeyError, TypeError, QuestionError) as exc:
            raise ValueError(
                f'{path.name} line {number}: expected {{"q": "...", "answers": ["...", ...]}} '
                f"({exc})"
            ) from exc
    return items


def _labelled(record: object) -> Labelled:
    if not isinstance(record, dict):
        raise TypeError("not a JSON object")
    question, answers = record["q"], record["answers"]
    if not isinstance(question, str):
        raise TypeError('"q" must be a string')
    if not isinstance(answers, list) or not all(isinstance(a, str) and a for a in answers):
        raise TypeError('"answers" must be a list of phrases (strings)')
    clean_or_refuse(question)  # as a member's question is: not empty, not too long
    return Labelled(question, tuple(answers))


def _norm(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def _rate(a: float, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def _round(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)


def first_hit_rank(answer: Answer, phrases: Iterable[str], shown: bool = False) -> int | None:
    """The rank of the first excerpt holding one of ``phrases``; with ``shown``, among the
    passages the member sees (the excerpts, or the closest passages of a reply not sure)."""
    wanted = [_norm(p) for p in phrases]
    passages = answer.excerpts if answer.answered or not shown else answer.closest
    for rank, excerpt in enumerate(passages, 1):
        text = _norm(excerpt.text)
        if any(p in text for p in wanted):
            return rank
    return None


def evaluate(ask: Callable[[str], Answer], items: Iterable[Labelled]) -> Report:
    """Score ``ask`` (question -> Answer with at least 3 excerpts asked for) on ``items``.

    ``misses`` say what a member saw when it was not the answer first: the answer phrase only
    at a later shown passage, in none of them (with the reply's kind), or a confident answer
    to a question the sources do not answer."""
    report = Report()
    for item in items:
        answer = ask(item.question)
        report.count(answer, item.answers)
        if not item.answers:
            report.unanswerable += 1
            if not answer.answered:
                report.abstained_right += 1
            else:
                report.misses.append(f"answered an unanswerable question: {item.question}")
            continue
        report.answerable += 1
        shown = first_hit_rank(answer, item.answers, shown=True)
        if shown is None:
            what = {"answer": "answered", "closest": "closest passages", "nothing": "nothing"}
            report.misses.append(f"not shown ({what[answer.kind]}): {item.question}")
        elif shown > 1:
            report.misses.append(f"shown at passage {shown} ({answer.kind}): {item.question}")
        if not answer.answered:
            report.abstained_wrong += 1
            continue
        rank = first_hit_rank(answer, item.answers)
        if rank is None:
            continue
        report.reciprocal_ranks += 1 / rank
        report.hits_at_1 += rank == 1
        report.hits_at_3 += rank <= 3
    return report


# -- story sets: one corpus per story, SQuAD-style ---------------------------------------------


@dataclass(frozen=True)
class StoryQuestion:
    story: str  # the story file's name (its corpus)
    question: str
    answers: tuple[str, ...]  # empty: SQuAD's own unanswerable question


@dataclass
class StorySetReport(ShownCounts):
    """Answerable questions against their own story, off-topic ones (answerable questions of
    other stories) and the set's own unanswerable questions, each scored as a user sees them."""

    answerable: int = 0
    answered: int = 0
    hits_at_1: int = 0
    hits_at_3: int = 0
    reciprocal_ranks: float = 0.0
    excerpt_chars: int = 0
    excerpts: int = 0
    off_topic: int = 0
    off_topic_refused: int = 0
    unanswerable: int = 0
    unanswerable_refused: int = 0
    off_topic_nothing: int = 0

    def as_dict(self) -> dict:
        rate = _rate
        return {
            "answerable": self.answerable,
            "hit@1": rate(self.hits_at_1, self.answerable),
            "hit@3": rate(self.hits_at_3, self.answerable),
            "mrr": rate(self.reciprocal_ranks, self.answerable),
            "answer_rate": rate(self.answered, self.answerable),
            "mean_excerpt_chars": round(self.excerpt_chars / self.excerpts) if self.excerpts else 0,
            "off_topic": self.off_topic,
            "off_topic_refused": rate(self.off_topic_refused, self.off_topic),
            "unanswerable": self.unanswerable,
            "unanswerable_refused": rate(self.unanswerable_refused, self.unanswerable),
            "replies": dict(self.kinds),
            "shown_hit@1": rate(self.shown_hits_at_1, self.answerable),
            "shown_hit@3": rate(self.shown_hits_at_3, self.answerable),
            "confident_precision": _round(self.confident_precision),
            "unanswerable_answered": rate(
                self.unanswerable - self.unanswerable_refused, self.unanswerable
            ),
            "off_topic_nothing": rate(self.off_topic_nothing, self.off_topic),
        }


def read_story_set(directory: Path) -> tuple[dict[str, str], list[StoryQuestion]]:
    """``stories/*.txt`` (one story each) and ``questions.jsonl`` (``story_file``, ``question``,
    ``answers``) of a SQuAD-style directory such as ``../shared/eval/squad2-dev20``."""
    stories = {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted((directory / "stories").glob("*.txt"))
    }
    questions = []
    lines = (directory / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            story = Path(record["story_file"]).name
            if story not in stories:
                raise KeyError(f"no story {story}")
            questions.append(
                StoryQuestion(
                    story, str(record["question"]), tuple(str(a) for a in record["answers"])
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"questions.jsonl line {number}: {exc}") from exc
    return stories, questions


def evaluate_story_set(
    stories: dict[str, str],
    questions: list[StoryQuestion],
    make_askers: Callable[[str, str], dict[str, Callable[[str], Answer]]],
    *,
    off_topic_per_story: int = 100,
    seed: int = 0,
    only: Callable[[str], bool] | None = None,
) -> dict[str, StorySetReport]:
    """Per asker name, its report. ``make_askers(story name, text)`` builds the askers for one
    story's corpus (e.g. storybot and a baseline on the same passages); each gets the story's
    own questions and ``off_topic_per_story`` answerable questions of other stories (a fixed
    random sample). ``only(story name)`` limits the stories asked (e.g. held-out articles)."""
    rng = random.Random(seed)
    answerable = [q for q in questions if q.answers]
    reports: dict[str, StorySetReport] = {}
    for name, text in stories.items():
        others = [q for q in answerable if q.story != name]
        off_topic = rng.sample(others, min(off_topic_per_story, len(others)))
        if only is not None and not only(name):
            continue  # (drawn anyway: each story's off-topic sample stays the same)
        askers = make_askers(name, text)
        own = [q for q in questions if q.story == name]
        for label, ask in askers.items():
            report = reports.setdefault(label, StorySetReport())
            for item in own:
                answer = ask(item.question)
                report.count(answer, item.answers)
                if not item.answers:
                    report.unanswerable += 1
                    report.unanswerable_refused += not answer.answered
                    continue
                report.answerable += 1
                if not answer.answered:
                    continue
                report.answered += 1
                report.excerpts += len(answer.excerpts)
                report.excerpt_chars += sum(len(e.text) for e in answer.excerpts)
                rank = first_hit_rank(answer, item.answers)
                if rank is not None:
                    report.reciprocal_ranks += 1 / rank
                    report.hits_at_1 += rank == 1
                    report.hits_at_3 += rank <= 3
            for item in off_topic:
                answer = ask(item.question)
                report.off_topic += 1
                report.off_topic_refused += not answer.answered
                report.off_topic_nothing += answer.kind == "nothing"
    return reports


def plain_bm25_asker(passages: Sequence, sources: Mapping[str, Source], k: int = 3):
    """The baseline: rank-bm25's BM25Okapi over lowercased whitespace tokens of the same
    passages, top ``k``, never abstaining, no merging."""
    from rank_bm25 import BM25Okapi

    passages = list(passages)
    model = BM25Okapi(
        [sources[p.source_id].text[p.start : p.end].lower().split() or [""] for p in passages]
    )

    def ask(question: str) -> Answer:
        scores = model.get_scores(question.lower().split())
        top = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        excerpts = [
            Excerpt(sources[passages[i].source_id], passages[i].start, passages[i].end, 0.0, 0.0)
            for i in top
        ]
        return Answer(question, True, excerpts)

    return ask


# -- the SQuAD split: which articles train and tune the re-ranker, which only report ----------

_TRAIN = (
    "Normans University_of_Chicago Warsaw 1973_oil_crisis Force Black_Death Private_school "
    "Oxygen Ctenophora Prime_number Civil_disobedience Rhine"
)
_TUNE = "Steam_engine Sky__United_Kingdom Victoria__Australia Huguenot"
_TEST = "Packet_switching Scottish_Parliament Construction Economic_inequality"
# Story file name -> "train" (the re-ranker learns from it), "tune" (settings and answer rules
# are chosen on it) or "test" (figures only: never seen in training or tuning). Drawn once with
# random.Random(18).shuffle over the sorted file names.
SQUAD_SPLIT: dict[str, str] = {
    f"{title}.txt": split
    for split, titles in (("train", _TRAIN), ("tune", _TUNE), ("test", _TEST))
    for title in titles.split()
}
