"""The fetcher's additions for watched feeds: conditional requests and feed bodies."""

from __future__ import annotations

import pytest
from feed_server import rss, serve_feed
from web_server import Route, serve

from bot.config import FetchSettings
from bot.sources.web.fetch import Fetcher, FetchError

web = pytest.fixture(serve)


@pytest.fixture
def fetcher() -> Fetcher:
    return Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), timeout_seconds=2.0))


def test_validators_are_sent_and_a_304_is_a_page_without_text(web, fetcher):
    serve_feed(web, "/feed", rss([]), etag='"v7"', modified="Thu, 01 Oct 2020 12:00:00 GMT")
    first = fetcher.fetch(web.url("/feed"), feed=True)
    assert first.status == 200 and first.data.startswith(b"<?xml")
    assert first.headers["etag"] == '"v7"'
    assert first.headers["last-modified"] == "Thu, 01 Oct 2020 12:00:00 GMT"

    validators = {"If-None-Match": first.headers["etag"], "If-Modified-Since": ""}
    again = fetcher.fetch(web.url("/feed"), validators=validators, feed=True)

    _path, sent = web.requests[-1]
    assert sent["If-None-Match"] == '"v7"' and "If-Modified-Since" not in sent  # empty: not sent
    assert (again.status, again.text, again.headers.get("etag")) == (304, "", None)


def test_a_304_nobody_asked_for_is_an_error(web, fetcher):
    web.routes["/odd"] = Route(304)
    with pytest.raises(FetchError, match="304"):
        fetcher.fetch(web.url("/odd"))


def test_feed_types_only_when_asked_for(web, fetcher):
    serve_feed(web, "/feed", rss([]))
    with pytest.raises(FetchError, match="application/rss"):
        fetcher.fetch(web.url("/feed"))  # a moderator's article add: not a web page
    _path, sent = web.requests[-1]
    assert "rss" not in sent["Accept"]
    fetcher.fetch(web.url("/feed"), feed=True)
    _path, sent = web.requests[-1]
    assert "application/rss+xml" in sent["Accept"]
