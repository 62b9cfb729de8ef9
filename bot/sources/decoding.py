"""Bytes a moderator hands in -> source text, or a clear refusal; and what counts as text.

Only text-like documents are accepted: plain text and Markdown pass through unchanged.
:func:`text_problem` is the one rule for a source's text: uploads, fetched pages, every
corpus write and the corpus loader apply it, so whatever is added also loads.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from bot.files import FileTooLarge, NotRegularFile, read_regular_file

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
NUL_PROBLEM = "is a binary file (it holds NUL bytes)"


class DocumentError(ValueError):
    """The document is not usable as a source (binary, too big, not UTF-8, empty)."""


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a source's text (a phrase to follow a name), or None.

    A NUL anywhere (not only near the start), more than 1% control characters at the start,
    or nothing but whitespace."""
    if "\x00" in text:
        return NUL_PROBLEM
    if looks_binary(text):
        return "looks binary (control characters)"
    if not text.strip():
        return "is empty"
    return None


def decode_text(data: bytes, name: str = "the file") -> str:
    """UTF-8 text from ``data``; refuse binaries, wrong encodings and empty files clearly."""
    _check_size(len(data), name)
    if b"\x00" in data:  # before decoding: a binary file is "binary", not "not UTF-8"
        raise DocumentError(f"{name} {NUL_PROBLEM}; only text can be added")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{name} is not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"
        ) from exc
    problem = text_problem(text)
    if problem:
        raise DocumentError(f"{name} {problem}; only text, Markdown or HTML can be added")
    return text


def read_document(path: Path) -> bytes:
    """The bytes of a file a moderator names: a regular file (not a FIFO or a device), never
    read past the size limit."""
    try:
        return read_regular_file(path, MAX_DOCUMENT_BYTES)
    except NotRegularFile as exc:
        raise DocumentError(f"{path}: is not a regular file") from exc
    except FileTooLarge as exc:
        raise DocumentError(_too_big(exc.size, path.name)) from exc
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror})") from exc


def looks_binary(text: str, sample: int = 8192) -> bool:
    """More than 1% control characters or undecodable bytes (U+FFFD) in the first ``sample``
    characters: a binary file, whatever its name or content type says."""
    head = text[:sample]
    return len(_BINARY_CHARACTERS.findall(head)) > 0.01 * len(head)


# Control characters other than \t \n \f \r, and U+FFFD (counted by the regex engine: a loop
# in Python over every file's first 8k characters was a third of a warm restart at 100k).
_BINARY_CHARACTERS = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffd]")


def _check_size(size: int, name: str) -> None:
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(_too_big(size, name))


def _too_big(size: int, name: str) -> str:
    return f"{name} is {size / 1e6:.1f} MB; the limit is {MAX_DOCUMENT_BYTES / 1e6:.0f} MB"


# Bidirectional controls: they reorder what follows on screen (U+202E shows "txt.exe" as
# "exe.txt"), so they are never shown to a terminal as they are.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def visible(text: str) -> bool:
    """Whether ``text`` shows anything: not only spaces, control and format characters
    (zero-width spaces and joiners, bidi controls, BOM) or variation selectors."""
    return any(
        not ch.isspace()
        and unicodedata.category(ch) not in ("Cc", "Cf", "Zs", "Zl", "Zp")
        and not is_variation_selector(ch)
        for ch in text
    )


# Control characters and the bidi embedding, override and isolate controls (U+202A-202E,
# U+2066-2069): a title holding them could reorder or hide what a reader sees next to it.
_NOT_IN_A_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+")


def one_line(text: str) -> str:
    """``text`` as one clean line of metadata (a title, a publisher, a name): control and
    bidi control characters become spaces, runs of spaces one, no space at either end."""
    return " ".join(_NOT_IN_A_LINE.sub(" ", text).split())


def is_variation_selector(ch: str) -> bool:
    """U+FE00..FE0F and U+E0100..E01EF: they pick a glyph's style (emoji or text) and mean
    nothing to a search."""
    code = ord(ch)
    return 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF
