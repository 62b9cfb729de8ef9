"""An uploaded file (name + bytes) -> extracted content ready for ``Ingestor.store``.

Discord-free, so any front end can use it. Text and Markdown pass through unchanged; HTML goes
through the same extractor as pages fetched from the web (``web.extract``): article text only.
The document's own title is an HTML page's title, or a Markdown file's leading ``#`` heading.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePath

from bot.sources.corpus import FENCE, CorpusError, parse
from bot.sources.decoding import MAX_DOCUMENT_BYTES, TEXT_SUFFIXES, DocumentError, decode_text
from bot.sources.web.extract import Extracted, ExtractError, extract_html, extract_plain

HTML_SUFFIXES = {".html", ".htm"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
UPLOAD_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES

__all__ = ["MAX_DOCUMENT_BYTES", "UPLOAD_SUFFIXES", "upload_content"]


def upload_content(filename: str, data: bytes, url: str = "") -> Extracted:
    """The content to store for an uploaded file; DocumentError with a user-fit message if it
    is unusable. ``url`` (where the document was published) resolves relative links."""
    suffix = PurePath(filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise DocumentError(
            f"{filename}: only {', '.join(sorted(UPLOAD_SUFFIXES))} files can be added"
        )
    text = decode_text(data, filename)
    if text.startswith((FENCE + "\n", FENCE + "\r\n")):
        return _corpus_file(text, filename)
    try:
        if suffix in HTML_SUFFIXES:
            return extract_html(text, url)
        content = extract_plain(text, url, markdown=suffix in MARKDOWN_SUFFIXES)
    except ExtractError as exc:
        raise DocumentError(f"{filename}: no article text found") from exc
    # Only a Markdown heading is the document's own title; the first line of plain text is not.
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if suffix not in MARKDOWN_SUFFIXES or not first_line.lstrip().startswith("#"):
        content = replace(content, title="")
    return content


def _corpus_file(text: str, filename: str) -> Extracted:
    """A storybot corpus file (a ``+++`` metadata header, then the text), e.g. a source copied
    from another story: its text without the header, its title, publisher, date and links (its
    header was once stored as the article's first lines and quoted)."""
    try:
        source = parse(text, filename)
    except CorpusError as exc:
        raise DocumentError(f"a storybot corpus file that does not load: {exc}") from exc
    author = source.extra.get("author", "")
    return Extracted(
        source.text,
        source.title,
        author if isinstance(author, str) else "",
        source.published,
        source.publisher,
        source.links,
    )
