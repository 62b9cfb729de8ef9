"""A source's opening passage: the one excerpt ``/whatsnew`` quotes for a new source.

The lead is the source's first indexed passage that says more than its title (extracted
articles begin with their headline on a line of its own), quoted verbatim like any excerpt;
a source whose every passage is its title gets its first.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from bot.search.cache import PassageList
from bot.search.passages import Passage
from bot.search.retrieval import Excerpt
from bot.sources.corpus import Source

# A passage this much longer than the title is more than a headline that differs a little.
HEADLINE_SLACK = 20


def leads(sources: Iterable[Source], passages: Iterable[Passage]) -> dict[str, Excerpt]:
    """The lead excerpt of each of ``sources`` that has passages, by source id."""
    wanted = {s.id: s for s in sources}
    found: dict[str, Excerpt] = {}
    fallback: dict[str, Excerpt] = {}
    if isinstance(passages, PassageList):  # only the wanted sources' passages are made
        by_source = passages.by_source()
        passages = itertools.chain.from_iterable(by_source.get(sid, ()) for sid in wanted)
    for p in passages:
        source = wanted.get(p.source_id)
        if source is None or p.source_id in found:
            continue
        text = source.text[p.start : p.end]
        starts = p.sentence_starts
        first_end = len(source.text[p.start : starts[1]].rstrip()) if len(starts) > 1 else len(text)
        excerpt = Excerpt(source, p.start, p.end, 0.0, 0.0, lead_end=first_end)
        if _is_headline(text, source.title):
            fallback.setdefault(p.source_id, excerpt)
        else:
            found[p.source_id] = excerpt
    return fallback | found


def _is_headline(text: str, title: str) -> bool:
    text, title = (" ".join(s.split()).casefold() for s in (text, title))
    return text in title or (title in text and len(text) <= len(title) + HEADLINE_SLACK)
