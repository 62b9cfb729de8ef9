"""Answer -> what a person or a program sees: JSON records, terminal output, links.

Nothing here changes a quote: the text shown is always ``source.text[start:end]``; rendering
only adds emphasis on the matched words and the attribution around it.
"""

from __future__ import annotations

from urllib.parse import quote, urldefrag

from rich.console import Console, Group
from rich.markup import escape as escape_markup
from rich.panel import Panel
from rich.text import Text

from bot.search.retrieval import Answer, Excerpt
from bot.sources.corpus import Source

NO_ANSWER = "The sources I have don't cover that."
NO_ANSWER_REASONS = {
    "no_terms": "Your question has no words I can look up; try naming who or what you mean.",
    "no_match": "No source mentions those words.",
    "weak_match": "Some sources share a word or two with the question, but none answers it.",
}
UNKNOWN_PUBLISHER = "publisher unknown"
# Control characters shown as their visible symbols (ESC -> "␛"), one character for one, so a
# source or question can never send escape sequences to the terminal; lone surrogates (which
# cannot be printed as UTF-8) become U+FFFD.
_PRINTABLE = {c: 0x2400 + c for c in range(32) if chr(c) not in "\n\t"} | {0x7F: 0x2421}
_PRINTABLE |= {c: 0xFFFD for c in range(0x80, 0xA0)}
_PRINTABLE |= {c: 0xFFFD for c in range(0xD800, 0xE000)}
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


def printable(text: str) -> str:
    """``text`` safe to write to a terminal: no control character, no lone surrogate."""
    return text.translate(_PRINTABLE)


def lit(value: object) -> str:
    """``value`` for a rich markup string or table cell: shown literally, never as markup
    (a title holding "[/x]" made rich raise MarkupError) and without control characters."""
    return escape_markup(printable(str(value)))


def attribution(source: Source) -> str:
    """Who published the source, and when if known (the title is shown beside it)."""
    publisher = source.publisher or UNKNOWN_PUBLISHER
    return f"{publisher}, {source.published}" if source.published else publisher


def answer_record(answer: Answer) -> dict:
    """The JSON form of ``storybot ask --json``: one object per question."""
    return {
        "question": answer.question,
        "answered": answer.answered,
        "excerpts": [
            {
                "text": e.text,
                "score": round(e.score, 6),
                "start": e.start,
                "end": e.end,
                "source": {
                    "id": e.source.id,
                    "title": e.source.title,
                    "publisher": e.source.publisher,
                    "url": e.source.url,
                },
            }
            for e in answer.excerpts
        ],
    }


def highlighted(excerpt: Excerpt, style: str = "bold yellow") -> Text:
    text = Text(printable(excerpt.text))
    for start, end in excerpt.highlights:
        text.stylize(style, start, end)
    return text


def answer_renderable(answer: Answer, hint: str = "") -> Group | Text:
    """A rich renderable of an answer, as the terminal shows it."""
    if not answer.answered:
        message = Text(NO_ANSWER, style="bold")
        reason = NO_ANSWER_REASONS.get(answer.reason, "")
        if reason:
            message.append(f"\n{reason}", style="dim")
        if hint:
            message.append(f"\n{hint}", style="dim")
        return message
    panels = []
    for n, excerpt in enumerate(answer.excerpts, 1):
        source = excerpt.source
        footer = Text(printable(attribution(source)), style="cyan")
        link = excerpt_link(excerpt)
        if link:
            footer.append("\n")
            footer.append(printable(link), style=f"link {link} blue underline")
        panels.append(
            Panel(
                Group(highlighted(excerpt), Text(""), footer),
                title=Text(printable(f"[{n}] {source.title}")),
                title_align="left",
                border_style="green" if n == 1 else "dim",
            )
        )
    note = Text("Quoted verbatim from the sources; nothing here is generated.", style="dim italic")
    return Group(*panels, note)


def print_answer(console: Console, answer: Answer, hint: str = "") -> None:
    console.print(answer_renderable(answer, hint))
