"""Terminal output with rich: answers as panels, tables, and text that is always shown literally.

Untrusted text (sources, questions, file names) never reaches the terminal as markup or as
control characters: :func:`literal` for markup strings and table cells, :func:`printable` for
``Text`` objects.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.markup import escape as escape_markup
from rich.panel import Panel
from rich.text import Text

from bot.presentation import QUOTES_NOTE, attribution, excerpt_link, reply_line
from bot.sources.decoding import BIDI_CONTROLS

if TYPE_CHECKING:  # types only: retrieval loads spaCy and scipy
    from bot.search.retrieval import Answer, Excerpt

# Control characters shown as their visible symbols (ESC -> "␛"), one character for one, so a
# source or question can never send escape sequences to the terminal; lone surrogates (which
# cannot be printed as UTF-8) become U+FFFD.
_PRINTABLE = {c: 0x2400 + c for c in range(32) if chr(c) not in "\n\t"} | {0x7F: 0x2421}
_PRINTABLE |= {c: 0xFFFD for c in range(0x80, 0xA0)}
_PRINTABLE |= {c: 0xFFFD for c in range(0xD800, 0xE000)}
# Bidi controls would reorder the rest of the line (a title ending in U+202E reverses what
# follows it): shown as U+FFFD.
_PRINTABLE |= {ord(c): 0xFFFD for c in BIDI_CONTROLS}


def printable(text: str) -> str:
    """``text`` safe to write to a terminal: no control character, no bidi control, no lone
    surrogate."""
    return text.translate(_PRINTABLE)


def literal(value: object) -> str:
    """``value`` for a rich markup string or table cell: shown literally, never as markup
    (a title holding "[/x]" made rich raise MarkupError) and without control characters."""
    return escape_markup(printable(str(value)))


def highlighted(excerpt: Excerpt, style: str = "bold yellow") -> Text:
    text = Text(printable(excerpt.text))
    for start, end in excerpt.highlights:
        text.stylize(style, start, end)
    return text


def answer_renderable(answer: Answer, hint: str = "") -> Group | Text:
    """A rich renderable of an answer, as the terminal shows it: the quotes; or, when the bot
    is not sure, one plain line and the closest passages; or the line that nothing is about it
    (with ``hint``, how to go on)."""
    if not answer.answered:
        message = Text(reply_line(answer), style="bold")
        if not answer.closest:
            if hint:
                message.append(f"\n{hint}", style="dim")
            return message
        note = Text(QUOTES_NOTE, style="dim italic")
        return Group(message, *_panels(answer.closest, first_style="yellow"), note)
    note = Text(QUOTES_NOTE, style="dim italic")
    return Group(*_panels(answer.excerpts), note)


def _panels(excerpts: list[Excerpt], first_style: str = "green") -> list[Panel]:
    panels = []
    for n, excerpt in enumerate(excerpts, 1):
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
                border_style=first_style if n == 1 else "dim",
            )
        )
    return panels


def print_answer(console: Console, answer: Answer, hint: str = "") -> None:
    console.print(answer_renderable(answer, hint))
