"""A fetched page -> the source text, its metadata and the links inside the article.

HTML goes through trafilatura: the main text only (navigation, ads, "related stories", teaser
lists and reader comments dropped), plus title, author, date and site name. Plain text and
Markdown pass through unchanged. The text returned is exactly what gets stored and indexed, so
excerpts quote it verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit, urlunsplit

from bot.sources.corpus import Link
from bot.sources.urls import link_target
from bot.sources.web.fetch import Page

MAX_TITLE = 200
_MD_LINK = re.compile(r"(?<!!)\[([^\]\n]{1,300})\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


class ExtractError(ValueError):
    """No usable text in the page."""


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str = ""
    author: str = ""
    date: str = ""
    sitename: str = ""
    links: tuple[Link, ...] = field(default=())
    canonical: str = ""  # the address the page names as its own (rel=canonical, og:url)


def extract(page: Page) -> Extracted:
    if page.content_type == "text/html":
        return extract_html(page.text, page.final_url)
    return extract_plain(page.text, page.final_url, markdown=page.content_type == "text/markdown")


def extract_html(html: str, url: str) -> Extracted:
    import trafilatura

    common = {"url": url, "include_comments": False, "include_tables": True}
    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_links=True,
        output_format="python",
        # The date the page declares, not a year guessed from the article's text.
        date_extraction_params={"extensive_search": False, "original_date": True},
        **common,
    )
    # Text without link markup: what moderators read and excerpts quote.
    text = trafilatura.extract(
        html, include_links=False, output_format="txt", with_metadata=False, **common
    )
    if doc is None or not text or not text.strip():
        raise ExtractError(f"no article text found at {url}")
    links: list[Link] = []
    body = getattr(doc, "body", None)
    if body is not None:
        for ref in body.iter("ref"):
            target = ref.get("target", "")
            anchor = " ".join("".join(ref.itertext()).split())
            links.append(Link(anchor, target))
    # trafilatura puts each paragraph (and the headline) on one line; stored with blank lines
    # between them, they are paragraphs to the passage splitter too, so no passage runs from
    # the headline into the first sentence or across paragraphs.
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()]
    return Extracted(
        text="\n\n".join(paragraphs) + "\n",
        title=_clean(getattr(doc, "title", "") or "")[:MAX_TITLE],
        author=_clean(getattr(doc, "author", "") or ""),
        date=getattr(doc, "date", "") or "",
        sitename=_clean(getattr(doc, "sitename", "") or ""),
        links=clean_links(links, url),
        canonical=_without_fragment(urljoin(url, (getattr(doc, "url", "") or "").strip())),
    )


def extract_plain(text: str, url: str, *, markdown: bool) -> Extracted:
    if not text.strip():
        raise ExtractError(f"{url} is empty")
    title = ""
    for line in text.splitlines():
        if line.strip():
            title = line.strip().lstrip("#").strip() if markdown else line.strip()
            break
    links = [Link(m.group(1).strip(), m.group(2)) for m in _MD_LINK.finditer(text)]
    return Extracted(
        text=text, title=title[:MAX_TITLE], links=clean_links(links, url) if markdown else ()
    )


def clean_links(links: list[Link], base_url: str) -> tuple[Link, ...]:
    """Absolute http(s) links without fragments, first occurrence of each, not the page itself;
    made safe to show (``urls.safe_url``)."""
    page = _without_fragment(base_url)
    seen = {page, link_target(page)}
    kept: list[Link] = []
    for link in links:
        absolute = _without_fragment(urljoin(base_url, link.url.strip()))
        absolute = link_target(absolute)
        if absolute is None or absolute in seen:
            continue
        seen.add(absolute)
        kept.append(Link(link.text or absolute, absolute))
    return tuple(kept)


def _without_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(fragment=""))


def _clean(value: str) -> str:
    return " ".join(value.split())
