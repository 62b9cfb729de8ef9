"""Answers and figures -> neutral presentation pieces every front end shares: the words of a
refusal, attributions, links that point at the quoted sentence, and the JSON records.

Nothing here changes a quote: the text shown is always ``source.text[start:end]``. Terminal
rendering lives in ``bot.cli.terminal``, Discord rendering in ``bot.discord.embeds``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, urldefrag

if TYPE_CHECKING:  # types only: importing retrieval loads spaCy and scipy (``--help`` stays fast)
    from bot.insights.questionlog import Gap, Stats
    from bot.search.retrieval import Answer, Excerpt
    from bot.sources.corpus import Source

# The words of a reply that is not an answer (see bot.search.retrieval: three kinds of reply).
NOTHING = "Nothing in the sources is about that."
NO_TERMS = "Your question has no words I can look up; try naming who or what you mean."
NOT_SURE = "I'm not sure the sources answer this. The closest passage:"
NOT_SURE_PLURAL = "I'm not sure the sources answer this. The closest passages:"
UNKNOWN_PUBLISHER = "publisher unknown"
REMOVED = "(removed)"
QUOTES_NOTE = "Quoted verbatim from the sources; nothing here is generated."
# A text fragment quotes whole sentences up to this many words; longer ones use start,end.
FRAGMENT_WORDS = 8


def text_fragment_url(url: str, quoted: str) -> str:
    """``url`` with a ``#:~:text=`` fragment that makes browsers scroll to ``quoted``."""
    if not url:
        return ""
    base, _ = urldefrag(url)
    words = quoted.split()
    if not words:
        return base
    if len(words) <= FRAGMENT_WORDS:
        directive = _fragment_part(" ".join(words))
    else:
        half = FRAGMENT_WORDS // 2
        directive = (
            f"{_fragment_part(' '.join(words[:half]))},{_fragment_part(' '.join(words[-half:]))}"
        )
    return f"{base}#:~:text={directive}"


def _fragment_part(text: str) -> str:
    # '-', ',' and '&' are syntax inside a text directive and must be percent-encoded.
    return quote(text, safe="").replace("-", "%2D")


def excerpt_link(excerpt: Excerpt) -> str:
    """The source URL, pointing at the excerpt's first sentence where the source has a URL."""
    lead = excerpt.text[: excerpt.lead_end or len(excerpt.text)]
    return text_fragment_url(excerpt.source.url, lead)


def attribution(source: Source) -> str:
    """Who published the source, and when if known (the title is shown beside it)."""
    publisher = source.publisher or UNKNOWN_PUBLISHER
    return f"{publisher}, {source.published}" if source.published else publisher


def source_title(titles: Mapping[str, str], source_id: str) -> str:
    """A quoted source's title, or its id marked as removed when it is gone."""
    return titles.get(source_id, f"{source_id} {REMOVED}")


def reply_line(answer: Answer) -> str:
    """The one plain line before (or instead of) the passages of a reply that is not an
    answer: not sure (closest passages follow), nothing about it, or no words to look up."""
    if answer.closest:
        return NOT_SURE if len(answer.closest) == 1 else NOT_SURE_PLURAL
    return NO_TERMS if answer.reason == "no_terms" else NOTHING


def percent(rate: float | None) -> str:
    """A rate for people: "42%", or "—" when there is nothing to divide (no votes yet)."""
    return "—" if rate is None else f"{rate:.0%}"


def excerpt_record(excerpt: Excerpt) -> dict:
    source = excerpt.source
    return {
        "text": excerpt.text,
        "score": round(excerpt.score, 6),
        "start": excerpt.start,
        "end": excerpt.end,
        "source": {
            "id": source.id,
            "title": source.title,
            "publisher": source.publisher,
            "url": source.url,
            "published": source.published,
        },
    }


def answer_record(answer: Answer) -> dict:
    """The JSON form of ``storybot ask --json``: one object per question, with its ``kind``
    (answer, closest, nothing) and the same keys whatever the kind: ``closest`` holds the
    passages shown as not sure (same shape as excerpts; empty for an answer and when nothing is
    about the question), ``message`` the plain line shown instead of an answer ("" for one)."""
    return {
        "question": answer.question,
        "kind": answer.kind,
        "answered": answer.answered,
        "excerpts": [excerpt_record(e) for e in answer.excerpts],
        "closest": [excerpt_record(e) for e in answer.closest],
        "message": "" if answer.answered else reply_line(answer),
    }


def stats_record(stats: Stats, fixed: Sequence[tuple[Gap, Source]]) -> dict:
    """The JSON form of ``storybot stats --json``."""
    return {
        "asked": stats.asked,
        "answered": stats.answered,
        "answer_rate": _rounded(stats.answer_rate),
        "helpful": stats.helpful,
        "not_helpful": stats.not_helpful,
        "helpful_rate": _rounded(stats.helpful_rate),
        "origins": stats.origins,
        "days": [{"day": d, "asked": a, "answered": n} for d, a, n in stats.days],
        "top_sources": [{"id": sid, "quoted": n} for sid, n in stats.top_sources],
        "gaps": [
            {
                "question": g.question,
                "count": g.count,
                "variants": list(g.variants),
                "unanswered": g.unanswered,
                "nothing": g.nothing,
                "not_helpful": g.not_helpful,
                "last_asked": g.last_asked,
            }
            for g in stats.gaps
        ],
        "now_answered": [{"question": g.question, "source": source.id} for g, source in fixed],
    }


def _rounded(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 4)
