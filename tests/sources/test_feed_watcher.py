"""Polling beside a running bot: the watcher finds candidates in the background, the event
loop keeps answering meanwhile, and stop() ends it cleanly."""

from __future__ import annotations

import asyncio

import pytest
from feed_server import CUTIES_TITLE, add_feed_pages, cuties_item, rss, serve_feed
from web_server import Route, serve

from bot.sources.feeds.poller import PollReport
from bot.sources.feeds.watcher import FeedWatcher

web = pytest.fixture(serve)
LOCAL = {"fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0}}
# A bound so a broken watcher fails the test instead of hanging it; never a speed assertion.
PATIENCE = 60


async def test_the_watcher_hands_new_candidates_over_and_stops(make_bot, web):
    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0}})
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))
    arrived = asyncio.Event()
    seen = []

    async def on_candidates(candidates):
        seen.extend(candidates)
        arrived.set()

    watcher = bot.watch_feeds(on_candidates)
    task = watcher.start()
    await asyncio.wait_for(arrived.wait(), PATIENCE)
    # The loop is free while the watcher waits: a question is answered in the meantime.
    answer = await asyncio.to_thread(bot.ask, "Who directed Cuties?")
    await asyncio.wait_for(watcher.stop(), PATIENCE)

    assert answer.answered
    assert [c.title for c in seen] == [CUTIES_TITLE]
    assert task.done() and task.exception() is None
    assert watcher.rounds == 1


async def test_stop_during_a_slow_poll_returns_once_the_request_ends(make_bot, web):
    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0}})
    web.routes["/slow"] = Route(
        headers={"Content-Type": "application/rss+xml"}, body=rss([cuties_item(web)]), delay=0.5
    )
    bot.feeds_add(web.url("/slow"))
    watcher = bot.watch_feeds()
    task = watcher.start()
    while not web.requests:  # the poll is under way
        await asyncio.sleep(0.01)

    await asyncio.wait_for(watcher.stop(), PATIENCE)

    assert task.done() and task.exception() is None
    # The request under way was let finish; no other poll started after stop().
    assert [path for path, _ in web.requests].count("/slow") == 1
    assert watcher.rounds == 1


async def test_wake_polls_now_instead_of_after_the_sleep():
    polled = asyncio.Event()
    rounds = []

    def poll(stop):
        rounds.append(1)
        polled.set()
        return PollReport()

    watcher = FeedWatcher(poll, lambda: None, check_seconds=3600)  # an hour's sleep
    watcher.start()
    await asyncio.wait_for(polled.wait(), PATIENCE)
    polled.clear()

    watcher.wake()  # e.g. /feed add

    await asyncio.wait_for(polled.wait(), 10)  # not an hour
    await asyncio.wait_for(watcher.stop(), PATIENCE)
    assert len(rounds) == 2
