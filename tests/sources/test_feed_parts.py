"""The parts of feed watching that need no server: items, schedule, host spacing, the store."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from feed_server import rss

from bot.config import ConfigError, config_from_dict
from bot.sources.feeds.items import FeedError, read_items
from bot.sources.feeds.schedule import HostThrottle, next_poll
from bot.sources.feeds.store import FeedStore, FeedStoreError, Judged
from bot.sources.web.fetch import Page


def page(data: bytes, content_type: str = "application/rss+xml", url: str = "http://x.test/f"):
    return Page(url, url, content_type, data.decode("utf-8", "replace"), "utf-8", data=data)


def test_feed_items_are_plain_text_absolute_links():
    data = rss(
        [
            ("Cuties <b>indicted</b> &amp; more", "/news/1#comments", "<p>Netflix <i>said</i></p>"),
            ("No link", "", "skipped"),
        ]
    )
    listing = read_items(page(data), "feed")
    (item,) = listing.items
    assert item.url == "http://x.test/news/1"
    assert item.title == "Cuties indicted & more"
    assert item.summary == "Netflix said"
    assert item.published == "2020-10-01T12:00:00+00:00"
    assert listing.title == "Film desk" and listing.warning == ""


def test_a_feed_body_naming_a_local_file_is_not_read_from_disk(tmp_path):
    """feedparser given bytes or a string tries them as a file name (or URL) first."""
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss([("Secret title", "http://x.test/secret", "from disk")]))
    with pytest.raises(FeedError):
        read_items(page(str(secret).encode()), "feed")


def test_a_web_page_is_not_a_feed():
    html = b"<html><head><title>Hi</title></head><body><p>Hello there.</p></body></html>"
    with pytest.raises(FeedError, match="not"):
        read_items(page(html, "text/html"), "feed")


def test_backoff_doubles_up_to_the_cap_and_resets():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    waits = [(next_poll(now, 30, n, 600) - now) / timedelta(minutes=1) for n in range(7)]
    assert waits == [30, 60, 120, 240, 480, 600, 600]
    assert next_poll(now, 30, 10_000, 600) - now == timedelta(minutes=600)


def test_requests_to_one_host_are_spaced_whatever_the_thread():
    clock = [100.0]
    throttle = HostThrottle(5.0, clock=lambda: clock[0])
    assert [throttle.reserve("a.test") for _ in range(3)] == [0.0, 5.0, 10.0]
    assert throttle.reserve("b.test") == 0.0
    clock[0] = 120.0  # long after the last slot: no wait
    assert throttle.reserve("a.test") == 0.0
    stop = threading.Event()
    stop.set()
    assert throttle.wait("a.test", stop) is False  # stopping wins over waiting


def test_a_retried_item_is_updated_and_a_decided_one_never(tmp_path):
    store = FeedStore(tmp_path / "db.sqlite3")
    base = Judged(url="http://x.test/1", url_key="http://x.test/1", feed_id=1, status="retry")
    first, written = store.record(base, "2026-01-01T00:00:00+00:00")
    assert (first.status, first.attempts, written) == ("retry", 1, True)
    again, written = store.record(base, "2026-01-01T00:30:00+00:00")
    assert (again.attempts, written) == (2, True)
    pending = Judged(**{**vars(base), "status": "pending"})
    queued, written = store.record(pending, "2026-01-01T01:00:00")
    assert (queued.status, queued.id, written) == ("pending", first.id, True)
    # Judged again (say, by a second process) while pending: the row stays as it was.
    twice, written = store.record(replace(pending, reason="again"), "2026-01-01T01:01:00")
    assert (twice, written) == (queued, False)
    store.decide(queued.id, "ignored", "mod", "2026-01-01T02:00:00")
    replay, written = store.record(pending, "2026-01-02T00:00:00")
    assert (replay.status, written) == ("ignored", False)
    with pytest.raises(FeedStoreError, match="already ignored by mod"):
        store.take(queued.id, "other", "2026-01-02", "2026-01-01")


@pytest.mark.parametrize(
    "table",
    [
        {"poll_minutes": 0},
        {"poll_minutes": 60, "max_backoff_minutes": 30},
        {"workers": 0},
        {"max_items": 5000},
        {"min_relevance": 4},
        {"fetch_items": "yes"},
        {"poll_interval": 30},
    ],
)
def test_bad_feed_settings_are_named(tmp_path, table):
    with pytest.raises(ConfigError, match=r"\[feeds\]"):
        config_from_dict({"feeds": table}, base=tmp_path)


def test_feed_settings_from_the_file(tmp_path):
    config = config_from_dict({"feeds": {"poll_minutes": 15, "fetch_items": False}}, tmp_path)
    assert (config.feeds.poll_minutes, config.feeds.fetch_items) == (15.0, False)
    assert config.feeds.min_relevance == 1.04  # the calibrated default (docs/feeds.md)
