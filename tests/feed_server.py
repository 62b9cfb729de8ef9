"""Feeds for the feed tests, served by the local web server (``web_server``) on 127.0.0.1.

``rss(...)`` and ``atom(...)`` build feed documents; ``add_feed_pages(web)`` serves a story
about "Cuties" (the shipped corpus' story: on topic) and one about a harbour bridge (off topic)
as articles a feed can list. Tests change routes between polls to make a feed change.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from web_server import ARTICLE_SENTENCES, Route, WebServer, linked_html

# New coverage of the shipped story: on topic, but not a copy of it.
CUTIES_TITLE = "Texas grand jury indicts Netflix over the film Cuties"
CUTIES_SUMMARY = (
    "Netflix faces a criminal charge in Texas over Cuties, the French film by Maïmouna Doucouré "
    "that critics accused of sexualizing young girls."
)
CUTIES_SENTENCES = [
    "A grand jury in Tyler County, Texas, has indicted Netflix over the film Cuties, the "
    "coming-of-age drama that drew a petition with hundreds of thousands of signatures.",
    "The indictment says the streaming service promoted material that depicts the lewd "
    "exhibition of the bodies of 11-year-old girls, a charge Netflix calls without merit.",
    "Netflix said in a statement that Cuties is a social commentary against the "
    "sexualization of young children and that it stands by the film.",
    "Director Maïmouna Doucouré has said she made the film after meeting hundreds of young "
    "girls who felt pressure from social media to look and dance like adults.",
    "The film won a directing award at the Sundance Film Festival before its release on "
    "Netflix, where a promotional poster set off the backlash.",
]
BRIDGE_TITLE = "Council approves harbour bridge after nine-hour debate"
BRIDGE_SUMMARY = "Councillors voted seven to two in favour of the new harbour bridge."


def rss(items: list[tuple[str, str, str]], title: str = "Film desk") -> bytes:
    """An RSS 2.0 document; items are (title, link, summary)."""
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link>"
        f"<description>{escape(s)}</description>"
        "<pubDate>Thu, 01 Oct 2020 12:00:00 GMT</pubDate></item>"
        for t, link, s in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>http://example.org/</link>"
        f"<description>News</description>{entries}</channel></rss>"
    ).encode()


def atom(items: list[tuple[str, str, str]], title: str = "Film desk (Atom)") -> bytes:
    entries = "".join(
        f'<entry><title>{escape(t)}</title><link href="{escape(link)}"/>'
        f"<id>{escape(link)}</id><updated>2020-10-01T12:00:00Z</updated>"
        f"<summary>{escape(s)}</summary></entry>"
        for t, link, s in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:test</id><updated>2020-10-01T12:00:00Z</updated>"
        f"{entries}</feed>"
    ).encode()


def serve_feed(
    web: WebServer, path: str, body: bytes, kind: str = "rss", etag: str = "", modified: str = ""
) -> None:
    content_type = "application/atom+xml" if kind == "atom" else "application/rss+xml"
    web.routes[path] = Route(
        headers={"Content-Type": content_type}, body=body, etag=etag, last_modified=modified
    )


def add_feed_pages(web: WebServer) -> None:
    web.html("/news/cuties-indictment", linked_html(CUTIES_TITLE, CUTIES_SENTENCES))
    web.html("/news/harbour-bridge", linked_html(BRIDGE_TITLE, ARTICLE_SENTENCES))


def cuties_item(web: WebServer) -> tuple[str, str, str]:
    return (CUTIES_TITLE, web.url("/news/cuties-indictment"), CUTIES_SUMMARY)


def bridge_item(web: WebServer) -> tuple[str, str, str]:
    return (BRIDGE_TITLE, web.url("/news/harbour-bridge"), BRIDGE_SUMMARY)
