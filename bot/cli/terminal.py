"""Terminal output with rich: answers as panels, tables, and text that is always shown literally.

Untrusted text (sources, questions, file names) never reaches the terminal as markup or as
control characters: :func:`literal` for markup strings and table cells, :func:`printable` for
``Text`` objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.markup import escape as escape_markup
from rich.panel import Panel
from rich.table import Table
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


# -- tables -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of :func:`print_table`.

    ``key``: values a reader types back or compares (ids, dates, actions, names): never cut
    or wrapped. ``url``: shown whole, wrapped anywhere when it must be (never cut with "…").
    Other columns wrap at word boundaries. ``drop``: at a narrow width, columns with a
    ``drop`` are left out, 1 first, until the rest fits with every key value whole."""

    header: str
    key: bool = False
    url: bool = False
    drop: int = 0
    justify: str = "left"


# The narrowest a wrapping column is made (a URL column: MIN_URL) before columns are dropped.
MIN_TEXT = 20
MIN_URL = 24


def print_table(
    console: Console, title: str, columns: Sequence[Column], rows: Iterable[Sequence[object]]
) -> None:
    """Rows as a table on a terminal, as plain tab-separated lines when piped (a header line,
    then a line per row, every value whole: ``cut -f``, ``grep`` and ``awk`` work on them).

    On a terminal, key values are never cut: when they do not all fit, the columns marked
    ``drop`` are left out; should even that not be enough, each row is printed as a record
    (its key values on one line, then each other value on its own line), nothing left out."""
    rows = [[printable(_one_line(value)) for value in row] for row in rows]
    if not console.is_terminal:  # written as they are: rich would expand the tabs
        lines = ([c.header for c in columns], *rows)
        console.file.write("".join("\t".join(line) + "\n" for line in lines))
        console.file.flush()
        return
    # URLs whole on one line (copyable) if that fits, dropping columns; else wrapped.
    whole_urls = [replace(c, key=c.key or c.url) for c in columns]
    shown = _fitting(whole_urls, rows, console.width)
    if shown is None:
        shown = _fitting(columns, rows, console.width)
    else:
        columns = whole_urls
    if shown is None:
        _print_records(console, title, columns, rows)
        return
    table = Table(title=literal(title), title_justify="left")
    for i in shown:
        c = columns[i]
        if c.key:
            table.add_column(
                c.header, no_wrap=True, min_width=_widest(c, rows, i), justify=c.justify
            )
        else:  # URLs wrap anywhere; text wraps at words and folds only a word too long
            table.add_column(c.header, overflow="fold", justify=c.justify)
    for row in rows:
        table.add_row(*(escape_markup(row[i]) for i in shown))
    console.print(table)


def _fitting(columns: Sequence[Column], rows: list[list[str]], width: int) -> list[int] | None:
    """The columns to show so that the table fits ``width`` (dropping those with a ``drop``,
    1 first), or None if it cannot."""
    shown = list(range(len(columns)))
    while _needed(columns, shown, rows) > width:
        droppable = [i for i in shown if columns[i].drop]
        if not droppable:
            return None
        shown.remove(min(droppable, key=lambda i: (columns[i].drop, i)))
    return shown


def _print_records(
    console: Console, title: str, columns: Sequence[Column], rows: list[list[str]]
) -> None:
    keys = [i for i, c in enumerate(columns) if c.key]
    others = [i for i, c in enumerate(columns) if not c.key]
    console.print(Text(title, style="italic"))
    console.print(Text("  ".join(columns[i].header for i in keys), style="bold"), soft_wrap=True)
    for row in rows:
        console.print(Text("  ".join(row[i] for i in keys)), soft_wrap=True)
        for i in others:
            if row[i] != "—":
                console.print(
                    Text(f"    {columns[i].header}: {row[i]}", style="dim"), soft_wrap=True
                )


def _one_line(value: object) -> str:
    """A cell's value on one line (tabs and line breaks as spaces); empty as "—"."""
    text = "" if value is None else str(value).strip()
    if "\t" in text or "\n" in text or "\r" in text:
        text = " ".join(text.split())
    return text or "—"


def _widest(column: Column, rows: list[list[str]], i: int) -> int:
    return max([len(column.header), *(len(row[i]) for row in rows)])


def _needed(columns: Sequence[Column], shown: list[int], rows: list[list[str]]) -> int:
    """The table's width with every key column whole and the others at their minimum."""
    width = 1
    for i in shown:
        c = columns[i]
        widest = _widest(c, rows, i)
        cell = widest if c.key else min(widest, MIN_URL if c.url else MIN_TEXT)
        width += cell + 3
    return width
