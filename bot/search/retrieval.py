"""Question -> ranked, merged excerpts, and one of three kinds of reply.

A question is a set of *concepts* (its informative words, each with its configured aliases).
Each concept weighs its idf (``Index.weight``; a word the corpus has never seen weighs the
most). A passage's *coverage* is the weight of the concepts it contains over the weight of all
of them. A question word the corpus never uses brings the corpus words of its stem
("criticized" -> "criticism") or, failing that, its nearest corpus word by spelling
("directd" -> "direct": edit distance 1 for 5-7 letters, 2 for longer, same first letter).

With the semantic layer (the default), passages are ranked by a fused score,
``(1 - w) * BM25 / top BM25 + w * cosine`` (``[semantic] weight`` w = 0.8; the cosine is the
larger of the window's and its best sentence's). The *evidence*, ``coverage + best sentence
cosine + top fused score``, says whether the question is about the sources at all. The answer
judge (``bot.search.judge``, two small logistic models fitted on SQuAD) then re-orders the
candidates by how likely each window holds the answer and says whether the best one surely
does. The reply is one of three kinds:

- ``answer``: about the sources (evidence >= ``[retrieval] min_about``) and the judge's
  answer logit reaches ``min_answer`` (with ``judge = false``: evidence >= ``min_evidence``);
- ``closest``: about the sources, but no window surely answers: the best one or two passages,
  labelled as not sure;
- ``nothing``: nothing in the sources is about the question (no passage is shown).

Supporting excerpts (slots 2..k of an answer) are shown only when they are strong enough on
their own. Without the semantic layer, the bot answers when some top-ranked passage reaches
``[retrieval] min_coverage``. Figures: README, "How it answers"; docs/answers.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from bot.config import RetrievalSettings
from bot.search import judge
from bot.search.index import Index
from bot.search.semantic import SemanticIndex
from bot.search.text import Analyzer, stem
from bot.sources.corpus import Source
from bot.sources.decoding import is_variation_selector

# The three kinds of reply.
ANSWER = "answer"
CLOSEST = "closest"
NOTHING = "nothing"

MAX_QUESTION_CHARS = 1000
# Overlapping windows are merged into one excerpt up to this size (lexical ranking; with the
# semantic layer excerpts stay shorter: 600 kept SQuAD's mean excerpt under 450 characters for
# -0.3 pt hit@3).
MAX_EXCERPT_CHARS = 1500
MAX_SEMANTIC_EXCERPT_CHARS = 600
# Slots 2..k need this much evidence of their own (coverage + best sentence cosine + score).
SUPPORT_EVIDENCE = 1.25
# Candidates considered at least (the semantic rule's coverage is the best over these).
MIN_CANDIDATES = 12
# How many top-scoring windows are considered per excerpt asked for.
CANDIDATES_PER_EXCERPT = 4
# Closest passages shown when the bot is not sure (the best one, and the next if it is close).
CLOSEST_SHOWN = 2
# Without the semantic layer a question is about the sources when one top passage covers this
# share of its informative weight (answers need ``[retrieval] min_coverage``).
LEXICAL_ABOUT_COVERAGE = 0.2
# Typo matching: a question word of this many letters may be this far (edit distance) from
# the corpus word it is taken for; shorter words are never matched by spelling.
TYPO_DISTANCE = ((8, 2), (5, 1))
# An ANSI/VT escape sequence (CSI "ESC [ ... m", or ESC and one character), pasted into a question.
_TERMINAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-_])")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"(?<=[.!?\"\u201d])\s+")


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
    # When not answered but about the sources: the nearest passages, shown as not sure.
    closest: list[Excerpt] = field(default_factory=list)
    # ANSWER, CLOSEST or NOTHING ("" = derived from ``answered`` and ``closest``).
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            kind = ANSWER if self.answered else CLOSEST if self.closest else NOTHING
            object.__setattr__(self, "kind", kind)


@dataclass(frozen=True)
class Match:
    """How strongly the corpus matches a text, by the number the answer rule thresholds: the
    evidence (semantic layer) or the best coverage (BM25 alone); and the passage behind it."""

    evidence: float
    semantic: bool  # which of the two numbers ``evidence`` is
    excerpt: Excerpt | None = None  # the best passage, with the text's words highlighted
    terms: tuple[str, ...] = ()  # the text's words found in that passage


def clean_question(question: str) -> str:
    """``question`` as one line of printable text: control characters become spaces, invisible
    format characters (zero-width spaces, joiners, bidi overrides, BOM) are dropped, lone
    surrogates (which a ``str`` can hold but UTF-8 cannot) become U+FFFD, variation selectors
    (U+FE0F asks for an emoji style) are dropped, whitespace runs collapse to one space.
    Terminal escape sequences (``ESC [31m``) are dropped whole."""
    out = []
    for ch in _TERMINAL_ESCAPE.sub(" ", question):
        category = unicodedata.category(ch)
        if category == "Cc":
            out.append(" ")
        elif category == "Cs":
            out.append("\ufffd")
        elif category != "Cf" and not is_variation_selector(ch):
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
            f"That question is {len(cleaned):,} characters long; please keep it to "
            f"{MAX_QUESTION_CHARS:,} at most."
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
        semantic: SemanticIndex | None = None,
        weight: float = 0.8,
    ) -> None:
        self.index = index
        self.sources = sources
        self.analyzer = analyzer
        self.settings = settings
        # The semantic layer: passage vectors and the cosine's share of the fused score.
        self.semantic = semantic
        self.weight = weight
        # Words of the corpus by stem, so a question word the corpus never uses can still find
        # its family: "criticized" -> "criticism", "controversy" -> "controversial". Built on
        # the first question that needs it (stemming the vocabulary is ~0.15 s of a 100k
        # restart; most questions use only corpus words).
        self._families: dict[str, set[str]] | None = None
        # Corpus words by first letter, for typo matching (built on the first typo).
        self._spelling: dict[str, list[str]] | None = None
        self._alias_of: dict[str, frozenset[str]] = {}
        for group in aliases:
            terms = frozenset(t for word in group for t in analyzer.terms(word))
            for term in terms:
                self._alias_of[term] = self._alias_of.get(term, frozenset()) | terms

    def concepts(self, question: str) -> list[frozenset[str]]:
        """The question's informative words, each with its aliases, in order, without repeats.

        A word the corpus never uses also brings the corpus words that share its stem, or else
        its nearest corpus word by spelling (a typo)."""
        return self._read(question)[0]

    def _read(self, question: str, typos: bool = True) -> tuple[list[frozenset[str]], str]:
        """The concepts, and the question with its typos replaced by the corpus words they
        were taken for (what the models read). ``typos=False``: no matching by spelling."""
        seen: list[frozenset[str]] = []
        fixes: list[tuple[int, int, str]] = []
        for token in self.analyzer.token_terms(self.analyzer.doc(question)):
            for term in token.terms:
                concept = self._alias_of.get(term, frozenset((term,)))
                if not any(t in self.index.doc_freq for t in concept):
                    family = self._family()
                    concept = concept.union(*(family.get(stem(t), ()) for t in concept))
                if typos and not any(t in self.index.doc_freq for t in concept):
                    nearest = self._nearest_word(term)
                    if nearest is not None:
                        concept = frozenset((nearest,))
                        fixes.append((token.start, token.end, nearest))
                if concept not in seen:
                    seen.append(concept)
        for start, end, word in reversed(fixes):
            question = question[:start] + word + question[end:]
        return seen, question

    def _family(self) -> dict[str, set[str]]:
        """The corpus words by stem (built once; two threads may both build it: same map)."""
        families = self._families
        if families is None:
            families = {}
            for term in self.index.doc_freq:
                families.setdefault(stem(term), set()).add(term)
            self._families = families
        return families

    def _nearest_word(self, term: str) -> str | None:
        """The corpus word ``term`` is most likely a typo of: same first letter, within
        TYPO_DISTANCE edits (ties: the more frequent word); None for short or odd words."""
        from rapidfuzz.distance import Levenshtein
        from rapidfuzz.process import extractOne

        limit = next((d for letters, d in TYPO_DISTANCE if len(term) >= letters), 0)
        if not limit or not term.isalpha():
            return None
        if self._spelling is None:
            words: dict[str, list[str]] = {}
            ranked = sorted(self.index.doc_freq, key=lambda t: -self.index.doc_freq[t])
            for word in ranked:
                if word.isalpha() and len(word) >= 4:
                    words.setdefault(word[0], []).append(word)
            self._spelling = words
        found = extractOne(
            term,
            self._spelling.get(term[0], ()),
            scorer=Levenshtein.distance,
            score_cutoff=limit,
        )
        return found[0] if found else None

    def ask(self, question: str, k: int | None = None) -> Answer:
        question = clean_or_refuse(question)
        k = k or self.settings.top_k
        concepts, read = self._read(question)
        terms = tuple(dict.fromkeys(t for c in concepts for t in sorted(c)))
        if self.semantic is not None:
            n = max(MIN_CANDIDATES, k * CANDIDATES_PER_EXCERPT)
            ranking = self._rank_semantic(read, concepts, terms, n)
        else:
            ranking = self._rank_lexical(concepts, terms, k * CANDIDATES_PER_EXCERPT)
        if ranking.about and ranking.cosine and self.settings.judge:
            ranking = self._judged(read, ranking)
        query_terms = set(terms)
        if not ranking.answered:
            closest = []
            if ranking.about:
                closest = self._merge(ranking, ranking.ordered, min(k, CLOSEST_SHOWN))
            return Answer(
                question,
                False,
                reason=ranking.reason,
                terms=terms,
                closest=[self._with_highlights(e, query_terms) for e in closest],
                kind=CLOSEST if closest else NOTHING,
            )
        excerpts = self._merge(ranking, ranking.ordered, k, supported=ranking.support)
        excerpts = [self._with_highlights(e, query_terms) for e in excerpts]
        return Answer(question, True, excerpts, terms=terms, kind=ANSWER)

    def _judged(self, question: str, ranking: _Ranking) -> _Ranking:
        """The candidates re-ordered by the judge's window model (``bot.search.judge``); the
        answer rule then needs the judge's answer logit to reach ``min_answer``. Supporting
        excerpts need a window logit of their own (``SUPPORT_LOGIT``)."""
        top_fused = ranking.scores[ranking.candidates[0]]
        wanted = judge.asked_type(question)
        logits = {}
        for i in ranking.candidates:
            features = judge.window_features(
                ranking.scores[i],
                ranking.cosine[i],
                ranking.sentence[i],
                ranking.lexical[i],
                ranking.coverage[i],
                judge.type_cue(wanted, self._window_text(i)),
                top_fused,
            )
            logits[i] = judge.logit(judge.WINDOW_WEIGHTS, features)
        order = sorted(ranking.candidates, key=lambda i: -logits[i])
        best = order[0]
        verdict = judge.logit(
            judge.ANSWER_WEIGHTS,
            judge.answer_features(
                [logits[i] for i in order],
                ranking.evidence,
                ranking.coverage[best],
                ranking.concepts,
            ),
        )
        answered = verdict >= self.settings.min_answer
        return replace(
            ranking,
            candidates=order,
            ordered=order,
            scores={i: _sigmoid(x) for i, x in logits.items()},
            answered=answered,
            reason="" if answered else "not_sure",
            support=None,
            support_logit=judge.SUPPORT_LOGIT,
        )

    def _window_text(self, i: int) -> str:
        p = self.index.passages[i]
        return self.sources[p.source_id].text[p.start : p.end]

    def match(self, text: str) -> Match:
        """Score any text against the corpus as the answer rule scores a question (used to
        judge whether a feed item is about the story). Text past MAX_QUESTION_CHARS is cut at a
        word boundary; a text with no words scores 0."""
        cleaned = clean_question(text) if isinstance(text, str) else ""
        if len(cleaned) > MAX_QUESTION_CHARS:
            cleaned = cleaned[: cleaned.rfind(" ", 0, MAX_QUESTION_CHARS + 1)].rstrip()
        # No typo matching here: a feed item's words are not typos, and the relevance
        # threshold was calibrated without it (docs/feeds.md).
        concepts = self._read(cleaned, typos=False)[0] if cleaned else []
        semantic = self.semantic is not None
        if not concepts:
            return Match(0.0, semantic)
        terms = tuple(dict.fromkeys(t for c in concepts for t in sorted(c)))
        if semantic:
            ranking = self._rank_semantic(cleaned, concepts, terms, MIN_CANDIDATES)
        else:
            ranking = self._rank_lexical(concepts, terms, MIN_CANDIDATES)
        if not ranking.candidates:
            return Match(0.0, semantic)
        # The passage behind the number: the top fused score, or the best coverage.
        best = (
            ranking.candidates[0] if semantic else max(ranking.candidates, key=ranking.coverage.get)
        )
        p = self.index.passages[best]
        present = set(p.terms)
        found = tuple(t for t in terms if t in present)
        excerpt = Excerpt(
            self.sources[p.source_id], p.start, p.end, ranking.scores[best], ranking.coverage[best]
        )
        return Match(ranking.evidence, semantic, self._with_highlights(excerpt, set(terms)), found)

    def _coverage(self, concepts: list[frozenset[str]], candidates: Sequence[int]) -> dict:
        weights = [min(self.index.weight(t) for t in c) for c in concepts]
        total = sum(weights) or 1.0
        coverage = {}
        for i in candidates:
            present = set(self.index.passages[i].terms)
            coverage[i] = (
                sum(w for c, w in zip(concepts, weights, strict=True) if c & present) / total
            )
        return coverage

    def _rank_lexical(self, concepts, terms, n: int) -> _Ranking:
        """BM25 alone; answer when a candidate covers ``min_coverage`` of the question."""
        top = self.index.top(terms, n) if concepts else []
        candidates = [i for i, _ in top]
        scores = dict(top)
        coverage = self._coverage(concepts, candidates)
        passing = [i for i in candidates if coverage[i] >= self.settings.min_coverage]
        best = max(coverage.values(), default=0.0)
        about = best >= LEXICAL_ABOUT_COVERAGE
        reason = "no_terms" if not concepts else "not_sure" if about else "off_topic"
        # The best passage that answers is always quoted, whatever outranks it; the other slots
        # go to the next best windows by score.
        ordered = [*passing[:1], *(i for i in candidates if i not in passing[:1])]
        return _Ranking(
            candidates,
            ordered,
            scores,
            coverage,
            {},
            bool(passing),
            "" if passing else reason,
            evidence=best,
            about=bool(passing) or about,
        )

    def _rank_semantic(self, question: str, concepts, terms, n: int) -> _Ranking:
        """BM25 fused with cosine; answer when the evidence reaches ``min_evidence``."""
        assert self.semantic is not None
        cosines = self.semantic.cosines(self.semantic.embed_question(question))
        bm25 = self.index.scores(terms) if terms else np.zeros(len(self.index))
        top_bm25 = float(bm25.max()) if len(bm25) else 0.0
        lexical = bm25 / top_bm25 if top_bm25 > 0 else np.zeros(len(bm25))
        fused = (1 - self.weight) * lexical + self.weight * cosines.passages
        candidates = _best(fused, n)
        scores = {i: float(fused[i]) for i in candidates}
        coverage = self._coverage(concepts, candidates)
        sentence = {i: float(cosines.best_sentence[i]) for i in candidates}
        cosine = {i: float(cosines.passages[i]) for i in candidates}
        lexical_of = {i: float(lexical[i]) for i in candidates}
        evidence = 0.0
        if candidates and concepts:
            evidence = max(coverage.values()) + cosines.corpus_best_sentence + scores[candidates[0]]
        about = bool(candidates and concepts) and evidence >= self.settings.min_about
        answered = about and evidence >= self.settings.min_evidence
        reason = "no_terms" if not concepts else "not_sure" if about else "off_topic"
        return _Ranking(
            candidates,
            candidates,
            scores,
            coverage,
            sentence,
            answered,
            "" if answered else reason,
            evidence=evidence,
            about=about,
            cosine=cosine,
            lexical=lexical_of,
            corpus_sentence=cosines.corpus_best_sentence,
            concepts=len(concepts),
            support=SUPPORT_EVIDENCE,
            max_chars=MAX_SEMANTIC_EXCERPT_CHARS,
        )

    def _merge(
        self, ranking: _Ranking, ranked: Sequence[int], k: int, supported: float | None = None
    ) -> list[Excerpt]:
        """Up to ``k`` excerpts, best score first; overlapping windows of one source become one
        excerpt (best score, coverage and sentence cosine kept), so no sentence is quoted twice;
        a passage whose words another source's excerpt already quotes (a near-duplicate source,
        a syndicated copy) is passed over. With ``supported``, excerpts after the first need
        that much evidence of their own; when judged, they need the support logit's
        probability."""
        spans: list[_Span] = []
        for i in ranked:
            p = self.index.passages[i]
            score, coverage = float(ranking.scores[i]), ranking.coverage[i]
            sentence = ranking.sentence.get(i, 0.0)
            touching = [s for s in spans if s.overlaps(p.source_id, p.start, p.end)]
            if not touching:
                if len(spans) < k and not self._quoted(p.source_id, p.start, p.end, spans):
                    spans.append(_Span(p.source_id, p.start, p.end, score, coverage, sentence))
                continue
            start = min(p.start, *(s.start for s in touching))
            end = max(p.end, *(s.end for s in touching))
            if end - start > ranking.max_chars:
                continue  # would grow too long: its text is already (partly) quoted
            keep = touching[0]
            keep.start, keep.end = start, end
            keep.score = max(score, *(s.score for s in touching))
            keep.coverage = max(coverage, *(s.coverage for s in touching))
            keep.sentence = max(sentence, *(s.sentence for s in touching))
            spans = [s for s in spans if s is keep or s not in touching]
        spans.sort(key=lambda s: -s.score)
        distinct: list[_Span] = []  # again: a span may have grown into another's words
        for span in spans:
            if not self._quoted(span.source_id, span.start, span.end, distinct):
                distinct.append(span)
        spans = distinct
        if supported is not None:
            spans = spans[:1] + [s for s in spans[1:] if s.evidence >= supported]
        if ranking.support_logit is not None:  # judged: scores are the window probability
            floor = _sigmoid(ranking.support_logit)
            spans = spans[:1] + [s for s in spans[1:] if s.score >= floor]
        return [
            Excerpt(self.sources[s.source_id], s.start, s.end, s.score, s.coverage) for s in spans
        ]

    def _quoted(self, source_id: str, start: int, end: int, spans: Sequence[_Span]) -> bool:
        """Whether other sources' spans already quote at least half of ``start:end`` of a
        source: its sentences whose words (case, quotes, punctuation, spacing aside) they hold.
        A syndicated copy or a near-duplicate then does not take an excerpt's place."""
        others = [s for s in spans if s.source_id != source_id]
        if not others:
            return False
        quoted = " | ".join(_words(self.sources[s.source_id].text[s.start : s.end]) for s in others)
        quoted = f" {quoted} "
        repeated = 0
        for sentence in _SENTENCE_END.split(self.sources[source_id].text[start:end]):
            words = _words(sentence)
            if words and f" {words} " in quoted:
                repeated += len(sentence)
        return 2 * repeated >= end - start

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


@dataclass(frozen=True)
class _Ranking:
    """Candidate passages for one question and what the answer rule decided."""

    candidates: list[int]  # best first
    ordered: list[int]  # the order excerpts are filled in
    scores: Mapping[int, float]
    coverage: Mapping[int, float]
    sentence: Mapping[int, float]  # best sentence cosine per candidate (semantic only)
    answered: bool
    reason: str
    # What the answer rule compared with its threshold (semantic: evidence; else best coverage).
    evidence: float = 0.0
    support: float | None = None
    max_chars: int = MAX_EXCERPT_CHARS
    # Whether the question is about the sources at all (else: nothing to show).
    about: bool = False
    # When judged: the window logit a supporting excerpt needs.
    support_logit: float | None = None
    # Per candidate (semantic only): its cosine (window or best sentence) and normalised BM25;
    # the best sentence cosine of the corpus.
    cosine: Mapping[int, float] = field(default_factory=dict)
    lexical: Mapping[int, float] = field(default_factory=dict)
    corpus_sentence: float = 0.0
    concepts: int = 0  # informative words of the question


@dataclass(eq=False)
class _Span:
    """An excerpt being assembled from overlapping windows of one source."""

    source_id: str
    start: int
    end: int
    score: float
    coverage: float
    sentence: float = 0.0

    def overlaps(self, source_id: str, start: int, end: int) -> bool:
        return source_id == self.source_id and start < self.end and end > self.start

    @property
    def evidence(self) -> float:
        return self.coverage + self.sentence + self.score


def _best(scores: np.ndarray, n: int) -> list[int]:
    """Indices of the ``n`` highest scores, best first, ties in index order."""
    if not len(scores) or n < 1:
        return []
    if len(scores) > n:
        nth = scores[np.argpartition(-scores, n - 1)[n - 1]]
        rows = np.flatnonzero(scores >= nth)
    else:
        rows = np.arange(len(scores))
    order = np.lexsort((rows, -scores[rows]))[:n]
    return rows[order].tolist()


def _words(text: str) -> str:
    """The words of ``text``, lowercased, one space apart (for telling repeated text)."""
    return " ".join(_WORD.findall(text.lower()))


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _disjoint(spans: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    """Drop spans nested in an earlier kept one (a compound and its parts)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        if out and start < out[-1][1]:
            continue
        out.append((start, end))
    return tuple(out)
