"""Is a text about the story? The rule feed items and followed links both go through.

The retrieval core scores the text as the answer rule scores a question (``Match.evidence``,
or the best coverage without the semantic layer); the text is relevant when that reaches
``[feeds] min_relevance`` **and** it shares at least ``MIN_SHARED_WORDS`` words with the
closest passage besides the story's most frequent ones (``STORY_NAMES``: the terms in the most
passages, e.g. "netflix", "cuties", "film"). A business story that shares only "netflix",
"company" and "fall" with the corpus is close in meaning to every passage about Netflix, so its
evidence can pass the threshold; the shared words then tell it apart. Both constants are
calibrated with ``bench/feeds_relevance.py`` (docs/feeds.md).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import FeedSettings

if TYPE_CHECKING:  # the engine hands in the retrieval core's judge; no import at run time
    from bot.search.retrieval import Match

# The story's most frequent terms (by the number of passages holding them) that do not count
# as shared words: what every text about the same company or person shares with the story.
STORY_NAMES = 3
# Shared words with the closest passage, besides those, that a relevant text needs.
MIN_SHARED_WORDS = 2

Judge = Callable[[str], "Match"]


@dataclass(frozen=True)
class Verdict:
    relevant: bool
    match: Match
    threshold: float
    shared: tuple[str, ...]  # words shared with the closest passage, the story's names aside
    reason: str  # why, in words: "relevance 1.24 (needs 1.04); ..."


_WORD = re.compile(r"\w+")


def mask(text: str, names: frozenset[str]) -> str:
    """``text`` without the words that are one of the story's ``names`` (lowercase, also with a
    plural "s" or possessive): what is left says whether it is about the story or only about
    the same company or person."""

    def keep(word: re.Match) -> str:
        w = word[0].lower()
        return "" if w in names or (w.endswith("s") and w[:-1] in names) else word[0]

    return _WORD.sub(keep, text)


def story_names(passage_terms: Iterable[Iterable[str]], n: int = STORY_NAMES) -> frozenset[str]:
    """The ``n`` terms found in the most passages (ties: the first seen)."""
    counts: Counter[str] = Counter()
    for terms in passage_terms:
        counts.update(set(terms))
    return frozenset(term for term, _ in counts.most_common(n))


class Relevance:
    """``relevance(text)`` -> Verdict; ``names()`` gives the current story's names (the corpus
    changes, so it is asked each time; the engine caches it per snapshot)."""

    def __init__(
        self,
        judge: Judge,
        settings: FeedSettings,
        names: Callable[[], frozenset[str]] = frozenset,
        min_shared: int = MIN_SHARED_WORDS,
    ) -> None:
        self.judge = judge
        self.settings = settings
        self.names = names
        self.min_shared = min_shared

    def __call__(self, text: str) -> Verdict:
        return self.verdict(self.judge(text))

    def threshold(self, match: Match) -> float:
        s = self.settings
        return s.min_relevance if match.semantic else s.min_relevance_lexical

    def verdict(self, match: Match, note: str = "") -> Verdict:
        threshold = self.threshold(match)
        names = self.names()
        shared = tuple(t for t in match.terms if t not in names)
        reason = f"{note}relevance {match.evidence:.2f} (needs {threshold:.2f})"
        if match.evidence < threshold:
            return Verdict(False, match, threshold, shared, reason)
        if len(shared) < self.min_shared:
            common = ", ".join(t for t in match.terms if t in names) or "none"
            words = ", ".join(shared) or "none"
            reason += (
                f", but only {len(shared)} word(s) in common besides the story's names "
                f"({common}): {words}; needs {self.min_shared}"
            )
            return Verdict(False, match, threshold, shared, reason)
        return Verdict(True, match, threshold, shared, reason)
