"""A fetched feed or topic page -> its items (link, title, summary, date).

Feeds (RSS 0.9x/1.0/2.0, Atom) are read by feedparser from the bytes the guarded fetcher
downloaded, made safe and small first (``safexml``: no DOCTYPE, no entity, only the newest
``limit`` entries), handed over as a stream: given a string or bytes, feedparser would try
them as a file name or URL first and read a local file or fetch past the SSRF guard. A *page* (a
publisher's topic page) has no feed: its items are the links whose anchor text reads like a
headline (several words), on the page's own site or elsewhere, in page order.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urldefrag, urljoin

from bot.sources.feeds.safexml import UnsafeFeed, make_safe
from bot.sources.urls import is_http_url
from bot.sources.web.fetch import Page

FEED_KINDS = ("feed", "page")
# A link on a topic page is an item when its anchor text has at least this many words.
HEADLINE_WORDS = 4
MAX_TITLE = 300
MAX_SUMMARY = 1000
# Entries of a feed read when the caller names no limit (the poller passes [feeds] max_items).
MAX_ENTRIES = 200
_SPACE = re.compile(r"\s+")


class FeedError(ValueError):
    """The body is not a feed (or the page lists nothing); the message is for the moderator."""


class NotAFeed(FeedError):
    """An HTML page given as a feed: it can be watched as a topic page (kind "page") instead.
    ``feed_url`` is the feed the page itself advertises (``<link rel="alternate">``), if any;
    adapters add how to say "page" in their own words."""

    def __init__(self, message: str, feed_url: str = "") -> None:
        super().__init__(message)
        self.feed_url = feed_url


def trial(page: Page, kind: str) -> Listing:
    """Read a feed or topic page being added, as the poller will: FeedError (``NotAFeed``
    for an HTML page given as a feed) for what can never work, so it is refused at once."""
    try:
        listing = read_items(page, kind)
    except FeedError as exc:
        if kind == "feed" and page.content_type == "text/html":
            advertised = advertised_feed(page)
            also = f"; the page names its feed: {advertised}" if advertised else ""
            raise NotAFeed(
                f"{page.final_url} is a web page, not an RSS or Atom feed{also}", advertised
            ) from exc
        raise
    if kind == "page" and not listing.items:
        raise FeedError(
            f"{page.final_url} has no headline links ({HEADLINE_WORDS} words or more) to watch"
        )
    return listing


def advertised_feed(page: Page) -> str:
    """The RSS or Atom feed an HTML page names in ``<link rel="alternate">``, or ""."""
    import lxml.html

    try:
        root = lxml.html.document_fromstring(page.text)
    except (ValueError, lxml.etree.ParserError):
        return ""
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in ("application/rss+xml", "application/atom+xml") and href:
            url = urldefrag(urljoin(page.final_url, href))[0]
            if is_http_url(url):
                return url
    return ""


@dataclass(frozen=True)
class FeedItem:
    url: str  # absolute, fragment removed
    title: str
    summary: str = ""  # plain text
    published: str = ""  # ISO 8601 (UTC) when the feed says, else ""


@dataclass(frozen=True)
class Listing:
    title: str  # the feed's or page's title
    items: list[FeedItem]
    warning: str = ""  # e.g. a feed that parsed despite malformed XML


def read_items(page: Page, kind: str, limit: int = MAX_ENTRIES) -> Listing:
    """The items of a fetched feed (``kind`` "feed": its ``limit`` newest entries) or topic
    page ("page")."""
    if kind == "page":
        return page_items(page)
    return feed_items(page, limit)


def feed_items(page: Page, limit: int = MAX_ENTRIES) -> Listing:
    """Parse RSS or Atom with feedparser (the ``limit`` newest entries, made safe first);
    FeedError when nothing in it is an entry."""
    import feedparser
    from feedparser.encodings import convert_to_utf8

    headers = {
        "content-location": page.final_url,
        "content-type": page.headers.get("content-type") or page.content_type or "text/xml",
    }
    raw = page.data or page.text.encode("utf-8")
    # feedparser's own charset rules (HTTP header, BOM, XML declaration), before lxml reads it.
    data = convert_to_utf8(headers, raw, {}) if raw else raw
    try:
        safe = make_safe(data, limit)
    except UnsafeFeed as exc:
        raise FeedError(f"{page.final_url} is not a readable RSS or Atom feed ({exc})") from exc
    headers["content-type"] = "application/xml; charset=utf-8"
    parsed = feedparser.parse(io.BytesIO(safe.data), response_headers=headers)
    items = []
    for entry in parsed.entries:
        link = entry.get("link") or _alternate(entry) or ""
        url = urldefrag(urljoin(page.final_url, link.strip()))[0] if link else ""
        if not url:
            continue
        items.append(
            FeedItem(
                url=url,
                title=_clip(_text(entry.get("title", "")), MAX_TITLE),
                summary=_clip(_text(entry.get("summary", "")), MAX_SUMMARY),
                published=_date(entry.get("published_parsed") or entry.get("updated_parsed")),
            )
        )
    warning = safe.warning
    if parsed.get("bozo") and not warning:
        warning = f"malformed feed, read anyway: {parsed.get('bozo_exception')}"
    if not items and warning.startswith("malformed"):
        problem = warning.removeprefix("malformed feed, read anyway: ")
        raise FeedError(f"{page.final_url} is not a readable RSS or Atom feed ({problem})")
    if not items and not parsed.get("version"):
        raise FeedError(f"{page.final_url} is not an RSS or Atom feed")
    return Listing(_clip(_text(parsed.feed.get("title", "")), MAX_TITLE), items, warning)


def page_items(page: Page) -> Listing:
    """The headline links of an HTML page (anchor text of HEADLINE_WORDS words or more)."""
    import lxml.html

    if page.content_type != "text/html":
        raise FeedError(f"{page.final_url} is not a web page ({page.content_type})")
    try:
        root = lxml.html.document_fromstring(page.text)
    except (ValueError, lxml.etree.ParserError) as exc:
        raise FeedError(f"{page.final_url} could not be read as HTML: {exc}") from exc
    own = urldefrag(page.final_url)[0]
    seen: set[str] = set()
    items = []
    for anchor in root.iter("a"):
        href = (anchor.get("href") or "").strip()
        title = _clip(_SPACE.sub(" ", anchor.text_content()).strip(), MAX_TITLE)
        if not href or len(title.split()) < HEADLINE_WORDS:
            continue
        url = urldefrag(urljoin(page.final_url, href))[0]
        if not is_http_url(url) or url == own or url in seen:
            continue
        seen.add(url)
        items.append(FeedItem(url=url, title=title))
    head = root.find(".//title")
    title = _SPACE.sub(" ", head.text_content()).strip() if head is not None else ""
    return Listing(_clip(title, MAX_TITLE), items)


def _alternate(entry) -> str:
    for link in entry.get("links", ()):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    return ""


def _text(value: str) -> str:
    """Plain text from feed HTML (feedparser has sanitized it already)."""
    if "<" in value or "&" in value:
        import lxml.html

        try:
            value = lxml.html.fragment_fromstring(value, create_parent="div").text_content()
        except (ValueError, lxml.etree.ParserError):
            value = re.sub(r"<[^>]*>", " ", value)
    return _SPACE.sub(" ", value).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _date(parsed) -> str:
    """A feedparser time tuple (UTC) as ISO 8601, or ""."""
    if not parsed:
        return ""
    try:
        return datetime(*parsed[:6], tzinfo=UTC).isoformat()
    except (TypeError, ValueError):
        return ""
