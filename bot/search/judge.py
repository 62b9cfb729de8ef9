"""The answer judge: which candidate window answers the question, and does the best one surely
answer it.

Two small logistic models over what retrieval already knows about each (question, window)
pair, fitted on SQuAD 2.0 articles marked "train" and thresholded on the "tune" ones
(``training/fit_judge.py``; figures on the held-out "test" articles in the README):

- the *window model* scores each candidate window from its fused score, cosine, best sentence
  cosine, BM25 share, coverage, its gap to the best fused score and whether it holds what the
  question's type asks for (an answer-type cue: a name for "who", a number for "how many", a
  date for "when"); candidates are re-ordered by it;
- the *answer model* scores the question from the best window's score, its lead over the
  second, the evidence, the coverage and the number of informative words: a confident answer
  needs ``[retrieval] min_answer``, below it the reply shows the closest passage as not sure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

_NAME = re.compile(r"(?<![.!?\"“]\s)(?<!^)\b[A-Z][a-z]+")
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million)\b",
    re.I,
)
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|noon|midnight|tonight"
_DATE = re.compile(
    rf"\b(?:1[0-9]{{3}}|20[0-9]{{2}})\b|\b(?:{_MONTHS}|{_DAYS})\b|\bcentury\b"
    r"|\b(?:[Tt]oday|[Tt]omorrow|[Yy]esterday)\b|\b\d{1,2}(?::\d\d)?\s*(?:am|pm|a\.m\.|p\.m\.)"
)


def asked_type(question: str) -> re.Pattern | None:
    """What the question's type asks for: a name (who), a number (how many / how much / what
    percentage), a date (when / what year); None for other questions."""
    q = question.lower()
    if q.startswith(("who ", "whom ", "whose ")) or " who " in q:
        return _NAME
    if "how many" in q or "how much" in q or "what percentage" in q:
        return _NUMBER
    if q.startswith("when ") or "what year" in q or "which year" in q:
        return _DATE
    return None


def type_cue(wanted: re.Pattern | None, text: str) -> float:
    """1 when ``text`` holds what ``asked_type`` found, 0 when it does not; 0.5 without one."""
    return 0.5 if wanted is None else float(bool(wanted.search(text)))


def answer_type_cue(question: str, text: str) -> float:
    """``type_cue`` for one question and text (read the question once with ``asked_type`` when
    scoring many texts)."""
    return type_cue(asked_type(question), text)


def window_features(
    fused: float,
    cosine: float,
    sentence: float,
    lexical: float,
    coverage: float,
    cue: float,
    top_fused: float,
) -> list[float]:
    return [
        fused,
        cosine,
        sentence,
        lexical,
        coverage,
        float(cue == 1.0),
        float(cue == 0.0),
        top_fused - fused,
    ]


def answer_features(
    scores: Sequence[float], evidence: float, coverage: float, concepts: int
) -> list[float]:
    """``scores``: the window model's logits, best first."""
    lead = scores[0] - scores[1] if len(scores) > 1 else 5.0
    return [scores[0], min(lead, 5.0), evidence, coverage, math.log1p(concepts)]


def logit(weights: Sequence[float], features: Sequence[float]) -> float:
    """``weights[0]`` is the intercept."""
    return weights[0] + sum(w * x for w, x in zip(weights[1:], features, strict=True))


# Fitted by training/fit_judge.py on the "train" SQuAD articles (its output: docs/answers.md).
# Intercept first, then one weight per feature of window_features / answer_features.
WINDOW_WEIGHTS = (-3.8829, 0.6109, -0.3009, 2.5145, 0.9491, 3.4396, 0.0926, -1.1544, -8.9854)
ANSWER_WEIGHTS = (-2.2538, 0.6696, 0.0525, 1.2736, -2.6207, 0.2002)
# An excerpt after the first (and a second closest passage) needs this window logit (chosen on
# the tune articles: hit@3 stops growing below it; training/fit_judge.py support_table).
SUPPORT_LOGIT = -2.5
