"""Text processing with spaCy: sentences and index terms.

The default pipeline is ``spacy.blank("en")`` with the rule-based sentencizer and the English
lookup lemma table from ``spacy-lookups-data``: no model download, works offline. A trained
pipeline named in ``config.toml`` is used instead when it is installed.

Terms rule (the same for passages and questions):
- lowercased lemma (looked up lowercased: the lookup table is case-sensitive), accents folded,
  so "Films" -> "film" and "Doucouré" == "Doucoure";
- stop words, punctuation and whitespace dropped;
- numbers kept, thousands separators removed ("300,000" -> "300000");
- words joined by hyphens also give the whole compound ("TV-MA" -> "tv-ma", "tv", "ma");
- a number glued to "+" or "%" also gives the pair ("18+" -> "18+", "18").
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache

import snowballstemmer
import spacy
from spacy.language import Language
from spacy.tokens import Doc

# spaCy refuses longer texts by default; paragraphs above this are cut at whitespace first.
MAX_CHUNK_CHARS = 100_000
# Distinct token texts whose terms are remembered (cleared when full).
TERM_CACHE_SIZE = 200_000
HYPHENS = {"-", "‐", "‑"}
NUMBER_SUFFIXES = {"+", "%"}
# Symbols that wrap a word without being part of it, which spaCy's tokenizer leaves attached:
# Discord markdown (||spoiler||, ~~strike~~), handles (@name), /paths/, \escapes. Stripped from
# a word's edges, so "||Cuties||" is the term "cuties".
WRAPPERS = "|~^/\\=@`*_<>"
# Bump when the terms rule changes: cached passages made under the old rule are then redone.
TERMS_RULE_VERSION = "2"
# spaCy's English stop list also holds content words that questions about a story need
# ("the main character's name", "the top story", "hundreds of girls"): those stay terms.
CONTENT_WORDS = frozenset(
    "amount back bottom call empty front full name part serious side top show move first last "
    "former fifteen fifty five forty four hundred eight eleven nine six sixty ten three twelve "
    "twenty two third".split()
)
# A line that opens a trailing block of navigation (teasers, "related stories").
NAVIGATION_MARKER = re.compile(
    r"^[ \t]*(check these out|related( stories| articles| posts)?|read more|more stories|"
    r"you (may|might) also like|recommended( for you)?|see also|trending( now)?)[ \t]*:?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


class NlpError(RuntimeError):
    """The configured spaCy pipeline cannot be loaded."""


@dataclass(frozen=True)
class TokenTerms:
    """Index terms of one token, with its character span in the analysed text."""

    start: int
    end: int
    terms: tuple[str, ...]


def fold(text: str) -> str:
    """Lowercase and strip accents: 'Doucouré' -> 'doucoure'."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# A snowball stemmer keeps the word it is working on in itself: one per thread, or questions
# answered in worker threads while an index is built corrupt each other's stems.
_stemmers = threading.local()


@lru_cache(maxsize=1 << 18)  # every index build stems its whole vocabulary
def stem(term: str) -> str:
    """Snowball stem of a term: a coarser key than the lemma, for word families."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(term)


def indexable_end(text: str) -> int:
    """Where the story text ends: before a trailing navigation block such as 'Check these out:'.

    Only a marker in the last third of the text counts, so an article that mentions
    "related stories" early keeps its body.
    """
    end = len(text)
    for match in NAVIGATION_MARKER.finditer(text):
        if match.start() >= len(text) * 2 / 3:
            return match.start()
    return end


def paragraphs(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Character spans of paragraphs (separated by blank lines), whitespace trimmed."""
    end = len(text) if end is None else end
    for match in re.finditer(r"\S(?:.*?\S)?(?=\s*\n\s*\n|\s*\Z)", text[start:end], re.DOTALL):
        a, b = start + match.start(), start + match.end()
        # Cut monster paragraphs (one huge line) so spaCy never sees more than a chunk.
        while b - a > MAX_CHUNK_CHARS:
            cut = text.rfind(" ", a, a + MAX_CHUNK_CHARS)
            cut = cut if cut > a else a + MAX_CHUNK_CHARS
            yield a, cut
            a = cut
            while a < b and text[a].isspace():
                a += 1
        if a < b:
            yield a, b


class Analyzer:
    """Turns text into sentences and index terms with one shared spaCy pipeline."""

    def __init__(self, model: str = "") -> None:
        self.model = model
        self.nlp, self._lemma_table = _load_pipeline(model)
        self.stop_words = frozenset(self.nlp.Defaults.stop_words) - CONTENT_WORDS
        self._terms_of_text: dict[str, tuple[str, ...]] = {}

    @cached_property
    def fingerprint(self) -> str:
        """Identifies everything that changes the terms (for caches)."""
        parts = [self.model or "blank-en", spacy.__version__, str(len(self._lemma_table or {}))]
        parts.append(TERMS_RULE_VERSION)
        parts.append(self.nlp.meta.get("version", ""))
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def docs(self, texts: Iterable[str]) -> Iterator[Doc]:
        return self.nlp.pipe(texts, batch_size=64)

    def doc(self, text: str) -> Doc:
        return self.nlp(text[:MAX_CHUNK_CHARS])

    def terms(self, text: str) -> list[str]:
        return [t for token in self.token_terms(self.doc(text)) for t in token.terms]

    def token_terms(self, doc: Doc) -> list[TokenTerms]:
        """Index terms of every token of ``doc`` (offsets relative to the doc's text)."""
        out: list[TokenTerms] = []
        tokens = list(doc)
        text = doc.text  # once: Doc.text rebuilds the string on every access
        i = 0
        while i < len(tokens):
            j = self._compound_end(tokens, i)
            if j > i:  # tokens[i..j] joined by hyphens: "TV-MA", "11-year-old"
                start, end = tokens[i].idx, tokens[j].idx + len(tokens[j])
                out.append(TokenTerms(start, end, (fold(text[start:end]),)))
                out.extend(self._single(tokens[k]) for k in range(i, j + 1, 2))
                i = j + 1
                continue
            token = tokens[i]
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if (
                nxt is not None
                and token.like_num
                and not token.whitespace_
                and nxt.text in NUMBER_SUFFIXES
            ):
                number = self._single(token)
                glued = number.terms[0] + nxt.text if number.terms else nxt.text
                out.append(TokenTerms(token.idx, nxt.idx + 1, (glued, *number.terms)))
                i += 2
                continue
            out.append(self._single(token))
            i += 1
        return [t for t in out if t.terms]

    def _compound_end(self, tokens: list, i: int) -> int:
        """Index of the last word of a hyphen compound starting at ``i`` (``i`` if none)."""
        j = i
        while (
            j + 2 < len(tokens)
            and tokens[j + 1].text in HYPHENS  # cheapest test first: most tokens stop here
            and not tokens[j].whitespace_
            and not tokens[j + 1].whitespace_
            and _is_word(tokens[j])
            and _is_word(tokens[j + 2])
        ):
            j += 2
        return j

    def _single(self, token) -> TokenTerms:
        span = (token.idx, token.idx + len(token))
        if self._lemma_table is None:  # a trained pipeline: lemmas depend on context
            return TokenTerms(*span, self._word_terms(token))
        # With the lookup table a token's terms depend on its text alone: computed once.
        terms = self._terms_of_text.get(token.text)
        if terms is None:
            if len(self._terms_of_text) >= TERM_CACHE_SIZE:
                self._terms_of_text.clear()
            terms = self._terms_of_text[token.text] = self._word_terms(token)
        return TokenTerms(*span, terms)

    def _word_terms(self, token) -> tuple[str, ...]:
        lower = token.lower_
        if token.is_punct or token.is_space or not any(ch.isalnum() for ch in lower):
            return ()
        lower = lower.strip(WRAPPERS)
        if lower in self.stop_words:
            return ()
        if token.like_num and any(ch.isdigit() for ch in lower):
            return (lower.replace(",", ""),)
        if self._lemma_table is not None:
            lemma = self._lemma_table.get(lower, lower)
        else:
            lemma = token.lemma_.lower() or lower
        term = fold(lemma)
        if term in self.stop_words:
            return ()
        return (term,)


def _is_word(token) -> bool:
    return any(ch.isalnum() for ch in token.text)


_PIPELINES: dict[str, tuple[Language, object]] = {}


def _load_pipeline(model: str) -> tuple[Language, object]:
    """Load (once per process) the pipeline and, for the blank one, the lemma lookup table."""
    if model in _PIPELINES:
        return _PIPELINES[model]
    if model:
        try:
            nlp = spacy.load(model, exclude=["ner", "textcat", "entity_linker"])
        except OSError as exc:
            raise NlpError(
                f'spaCy pipeline {model!r} is not installed; set [nlp] model = "" in '
                "config.toml to use the built-in blank English pipeline"
            ) from exc
        if not nlp.has_pipe("parser") and not nlp.has_pipe("senter"):
            nlp.add_pipe("sentencizer", first=True)
        result: tuple[Language, object] = (nlp, None)
    else:
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        lemmatizer = nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        try:
            nlp.initialize()
        except (ValueError, OSError) as exc:  # spacy-lookups-data missing
            raise NlpError(
                "the English lemma tables are missing: pip install spacy-lookups-data"
            ) from exc
        table = lemmatizer.lookups.get_table("lemma_lookup")
        # We look lemmas up ourselves (lowercased), so the component itself never runs.
        nlp.remove_pipe("lemmatizer")
        result = (nlp, table)
    _PIPELINES[model] = result
    return result
