"""Source text -> passages: overlapping sentence windows with exact character offsets.

A passage never crosses a paragraph, and ``source.text[passage.start:passage.end]`` is always
exactly its text, so every excerpt the bot quotes is a verbatim slice of a stored source.
A headline stored as the text's first line is metadata, not a passage: quoted alone it answers
nothing (the source's title already shows it beside every excerpt). So is a paragraph made
mostly of the source's own link texts ("Also today: The ten best pizza places in town."): a
list of other pages, which would make those pages look like the story when a moderator follows
a link or a feed lists one, and which answers nothing either.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

from bot.search.text import Analyzer, indexable_end, paragraphs
from bot.sources.corpus import Source

# A window stops growing past this many characters (a single longer sentence stays whole).
MAX_PASSAGE_CHARS = 1200
# A first paragraph of at most this many words without a sentence's closing punctuation is a
# headline (as is one that is the source's title).
HEADLINE_WORDS = 30
_SENTENCE_ENDS = tuple(".!?…:;\"'”’»)")
# A paragraph whose characters are at least this share link text is a list of links.
LINK_DENSITY = 0.5


@dataclass(frozen=True)
class Passage:
    source_id: str
    start: int
    end: int
    terms: tuple[str, ...]
    # Sentence starts inside the passage (absolute offsets), for text-fragment links.
    sentence_starts: tuple[int, ...] = ()


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    terms: tuple[str, ...]


def sentences(source: Source, analyzer: Analyzer) -> Iterator[list[Sentence]]:
    """Per paragraph of the indexable text, its sentences with their terms."""
    text = source.text
    spans = list(paragraphs(text, 0, indexable_end(text)))
    if spans and is_headline(text[spans[0][0] : spans[0][1]], source.title):
        spans = spans[1:]
    anchors = link_texts(source)
    if anchors:
        spans = [(a, b) for a, b in spans if not is_link_list(text[a:b], anchors)]
    for (p_start, _), doc in zip(spans, analyzer.docs(text[a:b] for a, b in spans), strict=True):
        token_terms = analyzer.token_terms(doc)
        out: list[Sentence] = []
        k = 0
        # Once per paragraph: Doc.text joins every token again on each access, so calling it
        # per sentence made a one-line 1 MB source take minutes (quadratic).
        para_text = doc.text
        spans = [
            piece
            for sent in doc.sents
            for piece in _pieces(para_text, *_trim(para_text, sent.start_char, sent.end_char))
        ]
        for start, end in _opening_quotes_forward(para_text, spans):
            terms: list[str] = []
            while k < len(token_terms) and token_terms[k].start < end:
                terms.extend(token_terms[k].terms)
                k += 1
            # Interned: a corpus repeats each term many times (memory at 100k passages).
            out.append(Sentence(p_start + start, p_start + end, tuple(map(sys.intern, terms))))
        if out:
            yield out


def is_headline(paragraph: str, title: str) -> bool:
    """Whether a source's first paragraph is its headline: the title itself (ignoring case,
    spacing and a Markdown ``#``), or one short line that does not end like a sentence."""
    line = " ".join(paragraph.lstrip("#").split())
    if line.casefold().rstrip(".") == " ".join(title.split()).casefold().rstrip("."):
        return True
    return (
        "\n" not in paragraph.strip()
        and len(line.split()) <= HEADLINE_WORDS
        and not (line.endswith(_SENTENCE_ENDS))
    )


def link_texts(source: Source) -> tuple[str, ...]:
    """The anchor texts of the source's links, spacing collapsed, longest first."""
    texts = {" ".join(link.text.split()) for link in source.links}
    return tuple(sorted((t for t in texts if t), key=len, reverse=True))


def is_link_list(paragraph: str, anchors: tuple[str, ...]) -> bool:
    """Whether at least LINK_DENSITY of the paragraph's characters (spacing collapsed) are
    the text of its source's links."""
    line = " ".join(paragraph.split())
    if not line:
        return False
    covered = bytearray(len(line))
    for anchor in anchors:
        start = line.find(anchor)
        while start >= 0:
            covered[start : start + len(anchor)] = b"\x01" * len(anchor)
            start = line.find(anchor, start + len(anchor))
    return sum(covered) >= LINK_DENSITY * len(line)


def split(source: Source, analyzer: Analyzer, window: int = 2) -> list[Passage]:
    """Windows of ``window`` consecutive sentences, stride one, within each paragraph."""
    passages: list[Passage] = []
    for para in sentences(source, analyzer):
        for first in range(max(1, len(para) - window + 1)):
            last = first
            while (
                last + 1 < min(first + window, len(para))
                and para[last + 1].end - para[first].start <= MAX_PASSAGE_CHARS
            ):
                last += 1
            chosen = para[first : last + 1]
            passages.append(
                Passage(
                    source_id=source.id,
                    start=chosen[0].start,
                    end=chosen[-1].end,
                    terms=tuple(t for s in chosen for t in s.terms),
                    sentence_starts=tuple(s.start for s in chosen),
                )
            )
        # Sentences left out by a size-capped window at the end still get a passage.
        covered = passages[-1].end if passages else 0
        passages.extend(
            Passage(source.id, s.start, s.end, s.terms, (s.start,))
            for s in para
            if s.start >= covered
        )
    return passages


def _pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The sentence ``text[start:end]``, or for a run-on "sentence" longer than
    ``MAX_PASSAGE_CHARS`` (a long line without full stops), pieces of it cut at whitespace, so
    no passage is a 100,000-character wall of text. Empty spans yield nothing."""
    while end - start > MAX_PASSAGE_CHARS:
        cut = max(
            text.rfind(" ", start, start + MAX_PASSAGE_CHARS),
            text.rfind("\n", start, start + MAX_PASSAGE_CHARS),
        )
        cut = cut if cut > start else start + MAX_PASSAGE_CHARS
        piece = _trim(text, start, cut)
        if piece[0] < piece[1]:
            yield piece
        start = _trim(text, cut, end)[0]
    if start < end:
        yield start, end


OPENING_QUOTES = "\"'“‘«"


def _opening_quotes_forward(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The sentencizer leaves a quotation's opening mark at the end of the sentence before it
    ('... children. "' + 'It's an award-winning film ..."'): give it to the sentence it opens,
    so an excerpt never starts inside a quotation without its mark or ends on a stray one."""
    out = list(spans)
    for n in range(len(out) - 1):
        start, end = out[n]
        _, nxt_end = out[n + 1]
        if end - start > 1 and text[end - 1] in OPENING_QUOTES and text[end - 2].isspace():
            new_end = end - 1
            while new_end > start and text[new_end - 1].isspace():
                new_end -= 1
            out[n] = (start, new_end)
            out[n + 1] = (end - 1, nxt_end)
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
