"""An uploaded file (name + bytes) -> source text: text and Markdown as they are, HTML extracted.

Discord-free, so any front end can use it. HTML handling is one function, ``html_to_text``, kept
small on purpose: the web-ingestion work (``bot/extract.py``) can replace it.
"""

from __future__ import annotations

from pathlib import PurePath

from bot.documents import MAX_DOCUMENT_BYTES, TEXT_SUFFIXES, DocumentError, decode_text

HTML_SUFFIXES = {".html", ".htm"}
UPLOAD_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES

__all__ = ["MAX_DOCUMENT_BYTES", "UPLOAD_SUFFIXES", "html_to_text", "upload_text"]


def upload_text(filename: str, data: bytes) -> str:
    """The text to store for an uploaded file; DocumentError with a user-fit message if unusable."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise DocumentError(
            f"{filename}: only {', '.join(sorted(UPLOAD_SUFFIXES))} files can be added"
        )
    text = decode_text(data, filename)
    if suffix in HTML_SUFFIXES:
        text = html_to_text(text)
        if not text.strip():
            raise DocumentError(f"{filename}: no article text found in the HTML")
    return text


def html_to_text(html: str) -> str:
    """The main text of an HTML page (no menus, no reader comments); '' if none is found."""
    import trafilatura  # imported here: it is slow to import and only needed for HTML

    return trafilatura.extract(html, include_comments=False, include_tables=False) or ""
