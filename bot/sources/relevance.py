"""Is a text about the story? The rule feed items and followed links both go through.

The retrieval core scores the text as the answer rule scores a question (``Match.evidence``,
or the best coverage without the semantic layer); the text is relevant when that reaches
``[feeds] min_relevance`` **and**, with the story's most frequent name masked (``mask``: the
capitalised word the sources use most, e.g. "Netflix"), it still reaches ``MASKED_SHARE`` of
it. A
business story that shares only "netflix", "company" and "fall" with the corpus is close in
meaning to every passage about Netflix, so its evidence can pass the threshold; without the
name, little is left. Calibrated with ``bench/feeds_relevance.py`` on SQuAD articles, with
other articles' paragraphs made to mention each story's name (docs/feeds.md): same-name news
queued 20.3% -> 3.7%, recall .919 -> .913, precision .909 -> .908.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.config import FeedSettings

if TYPE_CHECKING:  # the engine hands in the retrieval core's judge; no import at run time
    from bot.search.retrieval import Match

# How many of the story's most frequent names are masked, and the share of the threshold the
# masked text must still reach.
STORY_NAMES = 1
MASKED_SHARE = 0.85

Judge = Callable[[str], "Match"]
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Verdict:
    relevant: bool
    match: Match
    threshold: float
    reason: str  # why, in words: "relevance 1.24 (needs 1.04), ..."
    masked: float | None = None  # the evidence without the story's names (if it was needed)


# A capitalised word inside a sentence (not after ". ", "! ", "? ", a line start or a quote).
_NAME = re.compile(r"(?<![.!?:\"“'‘\n]\s)(?<![\n\"“'‘])(?<!^)\b[A-Z][\w’'-]*\w")


def story_names(texts: Iterable[str], n: int = STORY_NAMES) -> frozenset[str]:
    """The ``n`` names the story mentions most (lowercase): words written with a capital
    inside sentences, e.g. "netflix", "cuties". Possessive "'s" is dropped."""
    counts: Counter[str] = Counter()
    for text in texts:
        for word in _NAME.findall(text):
            word = re.sub(r"[’']s$", "", word).lower()
            if len(word) > 1:
                counts[word] += 1
    return frozenset(name for name, _ in counts.most_common(n))


def mask(text: str, names: frozenset[str]) -> str:
    """``text`` without the words that are one of the story's ``names`` (lowercase; also with
    a plural or possessive "s"): what is left says whether it is about the story or only
    about the same company or person."""

    def keep(word: re.Match) -> str:
        w = word[0].lower()
        return "" if w in names or (w.endswith("s") and w[:-1] in names) else word[0]

    return _WORD.sub(keep, text)


class Relevance:
    """``relevance(text)`` -> Verdict. ``names()`` gives the current story's names (the corpus
    changes, so it is asked each time; the engine caches it per snapshot)."""

    def __init__(
        self,
        judge: Judge,
        settings: FeedSettings,
        names: Callable[[], frozenset[str]] = frozenset,
        masked_share: float = MASKED_SHARE,
    ) -> None:
        self.judge = judge
        self.settings = settings
        self.names = names
        self.masked_share = masked_share

    def __call__(self, text: str) -> Verdict:
        return self.verdict(self.judge(text), [text])

    def threshold(self, match: Match) -> float:
        s = self.settings
        return s.min_relevance if match.semantic else s.min_relevance_lexical

    def verdict(self, match: Match, texts: Sequence[str], note: str = "") -> Verdict:
        """``match``: the best of the ``texts`` (e.g. title + summary, title + page text)."""
        threshold = self.threshold(match)
        reason = f"{note}relevance {match.evidence:.2f} (needs {threshold:.2f})"
        if match.evidence < threshold:
            return Verdict(False, match, threshold, reason)
        names = self.names()
        present = sorted(n for n in names if any(mask(t, frozenset([n])) != t for t in texts))
        if not present or not self.masked_share or not match.semantic:
            return Verdict(True, match, threshold, reason)
        masked = max(self.judge(mask(t, names)).evidence for t in texts)
        needed = self.masked_share * threshold
        shown = ", ".join(f'"{n}"' for n in present)
        reason += f"; {masked:.2f} without the story's name {shown} (needs {needed:.2f})"
        return Verdict(masked >= needed, match, threshold, reason, masked)
