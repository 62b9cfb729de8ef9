"""Question -> ranked, merged excerpts, or an abstention.

Abstention rule: a question is a set of *concepts* (its informative words, each with its configured
aliases). Each concept weighs its idf (``Index.weight``; a word the corpus has never seen weighs
the most). A passage's *coverage* is the weight of the concepts it contains over the weight of all
of them. The bot answers only when some top-ranked passage reaches ``[retrieval] min_coverage``;
otherwise it says the sources do not answer, instead of quoting passages that merely share a
common word such as "Netflix" with the question.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.config import RetrievalSettings
from bot.search.index import Index
from bot.search.text import Analyzer, stem
from bot.sources.corpus import Source

MAX_QUESTION_CHARS = 1000
# Overlapping windows are merged into one excerpt up to this size.
MAX_EXCERPT_CHARS = 1500
# How many top-scoring windows are considered per excerpt asked for.
CANDIDATES_PER_EXCERPT = 4
# An ANSI/VT escape sequence (CSI "ESC [ ... m", or ESC and one character), pasted into a question.
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-_])")


class QuestionError(ValueError):
    """The question cannot be asked as it is: ``empty`` (adapters then show how to ask), or
    too long."""

    def __init__(self, message: str, *, empty: bool = False) -> None:
        super().__init__(message)
        self.empty = empty


@dataclass(frozen=True)
class Excerpt:
    source: Source
    start: int
    end: int
    score: float
    coverage: float
    # Spans of matched words, relative to the excerpt text (for highlighting).
    highlights: tuple[tuple[int, int], ...] = ()
    # End of the excerpt's first sentence, relative to the excerpt (for text-fragment links).
    lead_end: int = 0

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    excerpts: list[Excerpt] = field(default_factory=list)
    # Why there is no answer (empty when answered).
    reason: str = ""
    terms: tuple[str, ...] = ()
    # The question log's row for this question (set by ``StoryBot.ask(record=True)``).
    question_id: int | None = None


def clean_question(question: str) -> str:
    """``question`` as one line of printable text: control characters become spaces, invisible
    format characters (zero-width spaces, joiners, bidi overrides, BOM) are dropped, lone
    surrogates (which a ``str`` can hold but UTF-8 cannot) become U+FFFD, whitespace runs
    collapse to one space. Terminal escape sequences (``ESC [31m``) are dropped whole."""
    out = []
    for ch in _TERMINAL_ESCAPE.sub(" ", question):
        category = unicodedata.category(ch)
        if category == "Cc":
            out.append(" ")
        elif category == "Cs":
            out.append("\ufffd")
        elif category != "Cf":
            out.append(ch)
    return " ".join("".join(out).split())


def clean_or_refuse(question: str) -> str:
    """The question cleaned (``clean_question``), or QuestionError with a message fit to show
    a user (adapters add how to ask in their own words)."""
    cleaned = clean_question(question) if isinstance(question, str) else ""
    if not cleaned:
        raise QuestionError("Please type a question.", empty=True)
    if len(cleaned) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"That question is {len(cleaned):,} characters long; please keep it under "
            f"{MAX_QUESTION_CHARS:,}."
        )
    return cleaned


class Retriever:
    def __init__(
        self,
        index: Index,
        sources: Mapping[str, Source],
        analyzer: Analyzer,
        settings: RetrievalSettings,
        aliases: Sequence[Sequence[str]] = (),
    ) -> None:
        self.index = index
        self.sources = sources
        self.analyzer = analyzer
        self.settings = settings
        # Words of the corpus by stem, so a question word the corpus never uses can still find
        # its family: "criticized" -> "criticism", "controversy" -> "controversial".
        self._family: dict[str, set[str]] = {}
        for term in index.doc_freq:
            self._family.setdefault(stem(term), set()).add(term)
        self._alias_of: dict[str, frozenset[str]] = {}
        for group in aliases:
            terms = frozenset(t for word in group for t in analyzer.terms(word))
            for term in terms:
                self._alias_of[term] = self._alias_of.get(term, frozenset()) | terms

    def concepts(self, question: str) -> list[frozenset[str]]:
        """The question's informative words, each with its aliases, in order, without repeats.

        A word the corpus never uses also brings the corpus words that share its stem.
        """
        seen: list[frozenset[str]] = []
        for token in self.analyzer.token_terms(self.analyzer.doc(question)):
            for term in token.terms:
                concept = self._alias_of.get(term, frozenset((term,)))
                if not any(t in self.index.doc_freq for t in concept):
                    concept = concept.union(*(self._family.get(stem(t), ()) for t in concept))
                if concept not in seen:
                    seen.append(concept)
        return seen

    def ask(self, question: str, k: int | None = None) -> Answer:
        question = clean_or_refuse(question)
        k = k or self.settings.top_k
        concepts = self.concepts(question)
        terms = tuple(dict.fromkeys(t for c in concepts for t in sorted(c)))
        if not concepts:
            return Answer(question, False, reason="no_terms", terms=terms)
        top = self.index.top(terms, k * CANDIDATES_PER_EXCERPT)
        candidates = [i for i, _ in top]
        scores = dict(top)
        if not candidates:
            return Answer(question, False, reason="no_match", terms=terms)
        weights = [min(self.index.weight(t) for t in c) for c in concepts]
        total = sum(weights) or 1.0
        coverage = {}
        for i in candidates:
            present = set(self.index.passages[i].terms)
            coverage[i] = (
                sum(w for c, w in zip(concepts, weights, strict=True) if c & present) / total
            )
        passing = [i for i in candidates if coverage[i] >= self.settings.min_coverage]
        if not passing:
            return Answer(question, False, reason="weak_match", terms=terms)
        # The best passage that answers is always quoted, whatever outranks it; the other slots
        # go to the next best windows by score.
        ordered = [passing[0], *(i for i in candidates if i != passing[0])]
        excerpts = self._merge(ordered, scores, coverage, k)
        query_terms = set(terms)
        excerpts = [self._with_highlights(e, query_terms) for e in excerpts]
        return Answer(question, True, excerpts, terms=terms)

    def _merge(
        self, ranked: list[int], scores: Mapping[int, float], coverage, k: int
    ) -> list[Excerpt]:
        """Up to ``k`` excerpts, best score first; overlapping windows of one source become one
        excerpt (best score and coverage kept), so no sentence is quoted twice."""
        spans: list[_Span] = []
        for i in ranked:
            p = self.index.passages[i]
            touching = [s for s in spans if s.overlaps(p.source_id, p.start, p.end)]
            if not touching:
                if len(spans) < k:
                    spans.append(_Span(p.source_id, p.start, p.end, float(scores[i]), coverage[i]))
                continue
            start = min(p.start, *(s.start for s in touching))
            end = max(p.end, *(s.end for s in touching))
            if end - start > MAX_EXCERPT_CHARS:
                continue  # would grow too long: its text is already (partly) quoted
            keep = touching[0]
            keep.start, keep.end = start, end
            keep.score = max(float(scores[i]), *(s.score for s in touching))
            keep.coverage = max(coverage[i], *(s.coverage for s in touching))
            spans = [s for s in spans if s is keep or s not in touching]
        spans.sort(key=lambda s: -s.score)
        return [
            Excerpt(self.sources[s.source_id], s.start, s.end, s.score, s.coverage) for s in spans
        ]

    def _with_highlights(self, excerpt: Excerpt, query_terms: set[str]) -> Excerpt:
        doc = self.analyzer.doc(excerpt.text)
        marks = tuple(
            (t.start, t.end)
            for t in self.analyzer.token_terms(doc)
            if query_terms.intersection(t.terms)
        )
        lead = next(iter(doc.sents), None)
        return replace(
            excerpt,
            highlights=_disjoint(marks),
            lead_end=lead.end_char if lead is not None else len(excerpt.text),
        )


@dataclass(eq=False)
class _Span:
    """An excerpt being assembled from overlapping windows of one source."""

    source_id: str
    start: int
    end: int
    score: float
    coverage: float

    def overlaps(self, source_id: str, start: int, end: int) -> bool:
        return source_id == self.source_id and start < self.end and end > self.start


def _disjoint(spans: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """Drop spans nested in an earlier kept one (a compound and its parts)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        if out and start < out[-1][1]:
            continue
        out.append((start, end))
    return tuple(out)
