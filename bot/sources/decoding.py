"""Bytes a moderator hands in -> source text, or a clear refusal.

Only text-like documents are accepted: plain text and Markdown pass through unchanged.
"""

from __future__ import annotations

from pathlib import Path

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}


class DocumentError(ValueError):
    """The document is not usable as a source (binary, too big, not UTF-8, empty)."""


def decode_text(data: bytes, name: str = "the file") -> str:
    """UTF-8 text from ``data``; refuse binaries, wrong encodings and empty files clearly."""
    _check_size(len(data), name)
    if b"\x00" in data[:8192]:
        raise DocumentError(f"{name} is a binary file; only text, Markdown or HTML can be added")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"{name} is not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"
        ) from exc
    if looks_binary(text):
        raise DocumentError(f"{name} looks binary (control characters); only text can be added")
    if not text.strip():
        raise DocumentError(f"{name} is empty")
    return text


def read_document(path: Path) -> bytes:
    """The bytes of a file a moderator names, refusing one over the size limit before reading."""
    try:
        _check_size(path.stat().st_size, path.name)
        return path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror})") from exc


def looks_binary(text: str, sample: int = 8192) -> bool:
    """More than 1% control characters or undecodable bytes (U+FFFD) in the first ``sample``
    characters: a binary file, whatever its name or content type says."""
    head = text[:sample]
    bad = sum(1 for ch in head if (ord(ch) < 32 and ch not in "\n\r\t\f") or ch == "\ufffd")
    return bad > 0.01 * len(head)


def _check_size(size: int, name: str) -> None:
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            f"{name} is {size / 1e6:.1f} MB; the limit is {MAX_DOCUMENT_BYTES / 1e6:.0f} MB"
        )
