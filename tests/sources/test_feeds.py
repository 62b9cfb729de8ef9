"""Watched feeds end to end: a real feed server on 127.0.0.1, the guarded fetcher, feedparser,
the retrieval core as judge, the state database, and the moderators' decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from feed_server import (
    CUTIES_SENTENCES,
    CUTIES_TITLE,
    add_feed_pages,
    atom,
    bridge_item,
    cuties_item,
    rss,
    serve_feed,
)
from web_server import BIG_BYTES, Route, serve

from bot.sources.corpus import Source
from bot.sources.feeds.store import STATUSES, FeedStoreError
from bot.sources.ingest import DuplicateUrl
from bot.sources.web.fetch import FetchError

web = pytest.fixture(serve)
LOCAL = {"fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0}}
FEEDS = {"host_interval_seconds": 0.0}


@pytest.fixture
def feeds_bot(make_bot, web):
    """A bot over the shipped story that may fetch from the local server."""
    add_feed_pages(web)

    def make(**feeds):
        return make_bot(config=LOCAL | {"feeds": FEEDS | feeds})

    return make


def statuses(bot) -> dict[str, str]:
    """Item URL -> status, for every item judged."""
    everything = bot.feed_store.items(STATUSES, 1000)
    return {item.url: item.status for item in everything}


def feed_requests(web, path: str) -> list[dict]:
    return [headers for asked, headers in web.requests if asked == path]


# -- polling and judging ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_on_topic_items_are_queued_and_nothing_is_added(feeds_bot, web, kind):
    bot = feeds_bot()
    body = (rss if kind == "rss" else atom)([cuties_item(web), bridge_item(web)])
    serve_feed(web, "/feed", body, kind)
    feed = bot.feeds_add(web.url("/feed"), added_by="mod")
    before = {s.id for s in bot.sources}

    report = bot.poll_feeds_sync()

    (result,) = report.feeds
    assert (result.status, result.listed, result.judged, result.candidates) == ("ok", 2, 2, 1)
    (candidate,) = report.candidates
    assert candidate.url == web.url("/news/cuties-indictment")
    assert candidate.title == CUTIES_TITLE
    assert candidate.published.startswith("2020-10-01")
    assert candidate.score >= bot.config.feeds.min_relevance
    # Why it matched: the item's words found in the closest passage of the corpus, verbatim.
    assert "cuties" in candidate.terms and "netflix" in candidate.terms
    source = bot.source(candidate.match_source)
    assert source.text[candidate.match_start : candidate.match_end] == candidate.match_text
    assert statuses(bot)[web.url("/news/harbour-bridge")] == "off-topic"
    assert [c.id for c in bot.review_queue()] == [candidate.id]
    assert {s.id for s in bot.sources} == before  # only a moderator adds
    assert bot.feeds_list()[0].title.startswith("Film desk")
    assert bot.feeds_list()[0].id == feed.id


def test_a_second_poll_judges_nothing_twice(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([cuties_item(web), bridge_item(web)]))
    bot.feeds_add(web.url("/feed"))
    bot.poll_feeds_sync()
    article_fetches = len(feed_requests(web, "/news/cuties-indictment"))

    again = bot.poll_feeds_sync(force=True)

    assert (again.feeds[0].listed, again.feeds[0].judged, again.candidates) == (2, 0, [])
    assert len(feed_requests(web, "/news/cuties-indictment")) == article_fetches
    assert len(bot.review_queue()) == 1


def test_a_feed_that_changes_between_polls(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([bridge_item(web)]), etag='"v1"')
    bot.feeds_add(web.url("/feed"))
    first = bot.poll_feeds_sync()
    assert first.candidates == []

    serve_feed(web, "/feed", rss([cuties_item(web), bridge_item(web)]), etag='"v2"')
    second = bot.poll_feeds_sync(force=True)

    assert feed_requests(web, "/feed")[-1]["If-None-Match"] == '"v1"'
    assert second.feeds[0].judged == 1  # only the new item
    assert [c.title for c in second.candidates] == [CUTIES_TITLE]
    assert bot.feeds_list()[0].etag == '"v2"'


def test_conditional_requests_get_304_and_nothing_new(feeds_bot, web):
    bot = feeds_bot()
    modified = "Thu, 01 Oct 2020 12:00:00 GMT"
    serve_feed(web, "/feed", rss([cuties_item(web)]), etag='"abc"', modified=modified)
    bot.feeds_add(web.url("/feed"))
    bot.poll_feeds_sync()
    assert "If-None-Match" not in feed_requests(web, "/feed")[0]

    report = bot.poll_feeds_sync(force=True)

    sent = feed_requests(web, "/feed")[-1]
    assert sent["If-None-Match"] == '"abc"' and sent["If-Modified-Since"] == modified
    assert report.feeds[0].status == "not modified"
    assert (report.feeds[0].judged, report.candidates) == (0, [])
    assert bot.feeds_list()[0].last_status == "not modified"


def test_items_the_corpus_has_or_nearly_repeats_are_dropped(feeds_bot, web):
    copy = Source(
        id="indictment",
        title=CUTIES_TITLE,
        text="\n\n".join(CUTIES_SENTENCES) + "\n",
        kind="source",
        url="http://elsewhere.example/indictment",
    )
    known = Source(
        id="known",
        title="Known",
        text="Netflix and Cuties, already in the corpus.\n",
        kind="source",
        url=web.url("/news/already") + "?utm_source=rss",
    )
    bot = feeds_bot()
    for source in (copy, known):
        bot.add_source(source.text, source.title, url=source.url, source_id=source.id)
    already = ("Cuties on Netflix", web.url("/news/already#top"), "Netflix and Cuties")
    serve_feed(web, "/feed", rss([cuties_item(web), already]))
    bot.feeds_add(web.url("/feed"))

    report = bot.poll_feeds_sync()

    assert report.candidates == []
    found = bot.feed_store.items(("duplicate", "known"), 10)
    assert {(i.url, i.status) for i in found} == {
        (web.url("/news/cuties-indictment"), "duplicate"),
        (web.url("/news/already"), "known"),
    }
    assert "indictment" in next(i.reason for i in found if i.status == "duplicate")
    assert feed_requests(web, "/news/already") == []  # known by its URL: never fetched


def test_an_item_without_title_or_summary_is_judged_by_its_page(feeds_bot, web):
    """Nothing to prefilter on: the page is fetched and judged (it was refused unread as
    'relevance 0.00'; found by dogfooding)."""
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([("", web.url("/news/cuties-indictment"), "")]))
    bot.feeds_add(web.url("/feed"))

    (candidate,) = bot.poll_feeds_sync().candidates

    assert candidate.url == web.url("/news/cuties-indictment")
    assert len(feed_requests(web, "/news/cuties-indictment")) == 1


def test_a_page_a_moderator_removed_is_not_offered_again(feeds_bot, web):
    bot = feeds_bot()
    url = web.url("/news/cuties-indictment")
    text = "\n\n".join(CUTIES_SENTENCES) + "\n"
    bot.add_source(text, CUTIES_TITLE, url=url + "?utm_medium=social", source_id="indictment")
    bot.remove_source("indictment", removed_by="ana")
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))

    report = bot.poll_feeds_sync()

    assert report.candidates == []
    (item,) = bot.feed_store.items(("known",), 10)
    assert item.url == url and item.reason.startswith("removed from the story as indictment by ana")
    assert feed_requests(web, "/news/cuties-indictment") == []  # known by its URL: never fetched


def test_a_removed_page_is_known_through_a_redirect_and_among_many_removals(feeds_bot, web):
    bot = feeds_bot()
    url = web.url("/news/cuties-indictment")
    text = "\n\n".join(CUTIES_SENTENCES) + "\n"
    bot.add_source(text, CUTIES_TITLE, url=url, source_id="indictment")
    bot.remove_source("indictment", removed_by="ana")
    for n in range(1500):  # later removals of other pages
        bot.audit.record("bo", "remove", f"page-{n}", f"https://x.example/{n}")
    title, _, summary = cuties_item(web)
    web.routes["/short/1"] = Route(302, {"Location": url})
    serve_feed(web, "/feed", rss([(title, web.url("/short/1"), summary)]))
    bot.feeds_add(web.url("/feed"))

    assert bot.poll_feeds_sync().candidates == []
    (item,) = bot.feed_store.items(("known",), 10)
    assert "removed from the story as indictment by ana" in item.reason


def test_items_pointing_at_private_addresses_are_refused(feeds_bot, web, connections):
    bot = feeds_bot()
    port = web.port
    private = [
        (CUTIES_TITLE + " (mirror)", "http://10.0.0.1/cuties", "Netflix Cuties indictment"),
        (CUTIES_TITLE + " (local)", f"http://localhost:{port}/news/cuties-indictment", "Cuties"),
        (CUTIES_TITLE + " (ftp)", "ftp://127.0.0.1/cuties", "Netflix Cuties"),
    ]
    serve_feed(web, "/feed", rss(private))
    bot.feeds_add(web.url("/feed"))

    report = bot.poll_feeds_sync()

    assert report.candidates == []
    refused = bot.feed_store.items(("refused",), 10)
    assert len(refused) == 3
    reasons = " ".join(i.reason for i in refused)
    assert "private" in reasons and "loopback" in reasons and "ftp" in reasons
    # Only the feed itself was connected to (127.0.0.1, opted in); never 10.0.0.1 or localhost.
    assert {address[0] for address in connections} == {"127.0.0.1"}
    assert len(feed_requests(web, "/news/cuties-indictment")) == 0


BUSINESS = (
    "Netflix adds 2.2 million subscribers",
    "Netflix added 2.2 million subscribers in the quarter, short of forecasts; the company "
    "expects growth to fall again.",
)


def test_other_news_about_the_storys_name_is_not_a_candidate(feeds_bot, web):
    """A business story about Netflix scores above min_relevance on the name alone; without
    "Netflix" little is left, so it is off topic, and the reason says so. An item about the
    story still counts with the name masked."""
    bot = feeds_bot(fetch_items=False)
    business = (BUSINESS[0], web.url("/news/netflix-subscribers"), BUSINESS[1])
    serve_feed(web, "/feed", rss([business, cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))
    bot.poll_feeds_sync()
    (item,) = [i for i in bot.feed_items() if i.url == business[1]]
    assert item.score >= bot.config.feeds.min_relevance  # queued on its score alone, before
    assert item.status == "off-topic"
    assert 'without the story\'s name "netflix"' in item.reason
    assert [c.title for c in bot.review_queue()] == [CUTIES_TITLE]


def test_a_broken_feed_backs_off_and_a_success_resets(feeds_bot, web):
    bot = feeds_bot(poll_minutes=30, max_backoff_minutes=100)
    web.routes["/feed"] = Route(
        headers={"Content-Type": "application/rss+xml"}, body=b"<rss><channel><item><title>x"
    )
    web.routes["/gone"] = Route(500, {"Content-Type": "text/plain"}, b"oops")
    # Both broke after they were added (a trial fetch refuses them when added so).
    broken = bot.feeds_add(web.url("/feed"), trial=False)
    gone = bot.feeds_add(web.url("/gone"), trial=False)

    def wait_minutes(feed_id: int) -> float:
        feed = next(f for f in bot.feeds_list() if f.id == feed_id)
        delta = datetime.fromisoformat(feed.next_poll_at) - datetime.now(UTC)
        return delta.total_seconds() / 60

    results = {r.feed.id: r for r in bot.poll_feeds_sync().feeds}
    assert results[broken.id].status == "error" and "not a readable" in results[broken.id].message
    assert results[gone.id].status == "error" and "500" in results[gone.id].message
    assert 55 < wait_minutes(broken.id) <= 60  # 30 x 2
    bot.poll_feeds_sync(force=True)
    assert 115 > wait_minutes(broken.id) > 95  # 30 x 4 = 120, capped at 100
    assert next(f for f in bot.feeds_list() if f.id == broken.id).failures == 2

    serve_feed(web, "/feed", rss([bridge_item(web)]))
    ok = {r.feed.id: r for r in bot.poll_feeds_sync(force=True).feeds}
    assert ok[broken.id].status == "ok"
    fixed = next(f for f in bot.feeds_list() if f.id == broken.id)
    assert fixed.failures == 0 and fixed.last_status == "ok"
    assert 25 < wait_minutes(broken.id) <= 30


def test_a_huge_feed_is_cut_off_at_the_size_cap(make_bot, web):
    add_feed_pages(web)
    bot = make_bot(config={"fetch": LOCAL["fetch"] | {"max_bytes": 300_000}, "feeds": FEEDS})
    web.routes["/huge"] = Route(
        headers={"Content-Type": "application/rss+xml"}, stream_bytes=BIG_BYTES
    )
    bot.feeds_add(web.url("/huge"), trial=False)

    (result,) = bot.poll_feeds_sync().feeds

    assert result.status == "error" and "larger than" in result.message
    assert web.sent["/huge"] < BIG_BYTES  # the rest was never read


def test_a_slow_feed_times_out_without_holding_up_the_others(make_bot, web):
    add_feed_pages(web)
    bot = make_bot(config={"fetch": LOCAL["fetch"] | {"timeout_seconds": 0.3}, "feeds": FEEDS})
    body = rss([cuties_item(web)])
    web.routes["/slow"] = Route(
        headers={"Content-Type": "application/rss+xml"}, body=body, delay=1.5
    )
    serve_feed(web, "/feed", body)
    slow = bot.feeds_add(web.url("/slow"), trial=False)
    quick = bot.feeds_add(web.url("/feed"))

    results = {r.feed.id: r for r in bot.poll_feeds_sync().feeds}

    assert results[slow.id].status == "error" and "in time" in results[slow.id].message
    assert results[quick.id].status == "ok" and results[quick.id].candidates == 1


def test_a_topic_page_lists_its_headline_links(feeds_bot, web):
    bot = feeds_bot()
    topic = (
        "<html><head><title>Film | Gazette</title></head><body>"
        "<nav><a href='/'>Home</a><a href='/film'>Film</a></nav>"
        f"<ul><li><a href='/news/cuties-indictment'>{CUTIES_TITLE}</a></li>"
        "<li><a href='/news/harbour-bridge'>Council approves harbour bridge after debate</a></li>"
        "</ul><footer><a href='/about'>About us</a></footer></body></html>"
    )
    web.html("/film", topic)
    bot.feeds_add(web.url("/film"), kind="page")

    report = bot.poll_feeds_sync()

    assert report.feeds[0].listed == 2  # the two headlines; not Home, Film or About us
    assert [c.url for c in report.candidates] == [web.url("/news/cuties-indictment")]
    assert report.candidates[0].publisher  # from the page or the article


def test_with_an_empty_corpus_nothing_is_judged(make_bot, web):
    add_feed_pages(web)
    bot = make_bot(seed=False, config=LOCAL | {"feeds": FEEDS})
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"), trial=False)

    report = bot.poll_feeds_sync()

    assert report.feeds == [] and "empty" in report.message
    assert web.requests == []
    assert bot.feed_store.counts() == {}


def test_feeds_are_polled_when_due(feeds_bot, web):
    bot = feeds_bot(poll_minutes=30)
    serve_feed(web, "/feed", rss([bridge_item(web)]))
    bot.feeds_add(web.url("/feed"))
    assert len(bot.poll_feeds_sync().feeds) == 1
    assert bot.poll_feeds_sync().feeds == []  # not due for another 30 minutes
    later = datetime.now(UTC) + timedelta(minutes=28)  # within the slack of a cron schedule
    assert len(bot._poller.poll(now=later).feeds) == 1


# -- the moderators' decisions ---------------------------------------------------------------


async def test_accepting_adds_through_the_normal_path_once(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))
    (candidate,) = (await bot.poll_feeds()).candidates

    accepted = await bot.accept_candidate(candidate.id, by="mod#1")

    source = accepted.report.added[0].source
    assert accepted.candidate.status == "accepted"
    assert accepted.candidate.source_id == source.id and accepted.candidate.decided_by == "mod#1"
    assert source.url == candidate.url and source.added_by == "mod#1"
    assert bot.source(source.id).text.count("Tyler County") == 1
    (entry,) = bot.audit_entries(source.id)
    assert (entry.action, entry.actor) == ("add", "mod#1")
    assert bot.review_queue() == []
    with pytest.raises(FeedStoreError, match="already accepted by mod#1"):
        await bot.accept_candidate(candidate.id, by="mod#2")
    assert bot.ask("Where was Netflix indicted over Cuties?").answered


async def test_a_failed_accept_puts_the_candidate_back(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))
    (candidate,) = (await bot.poll_feeds()).candidates
    web.routes["/news/cuties-indictment"] = Route(404, {"Content-Type": "text/plain"}, b"gone")

    with pytest.raises(FetchError, match="404"):
        await bot.accept_candidate(candidate.id, by="mod")

    assert [c.id for c in bot.review_queue()] == [candidate.id]


async def test_accepting_a_url_added_meanwhile_settles_the_candidate(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))
    (candidate,) = (await bot.poll_feeds()).candidates
    await bot.add_url(candidate.url, added_by="someone")

    with pytest.raises(DuplicateUrl):
        await bot.accept_candidate(candidate.id, by="mod")

    assert bot.candidate(candidate.id).status == "known"
    assert bot.review_queue() == []


def test_ignoring_is_for_good(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))
    (candidate,) = bot.poll_feeds_sync().candidates

    ignored = bot.ignore_candidate(candidate.id, by="mod")

    assert (ignored.status, ignored.decided_by) == ("ignored", "mod")
    assert bot.review_queue() == []
    assert bot.poll_feeds_sync(force=True).candidates == []
    with pytest.raises(FeedStoreError, match="already ignored"):
        bot.ignore_candidate(candidate.id, by="mod")
    assert bot.audit_entries()[0].action == "ignore"


def test_feeds_add_and_remove(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([bridge_item(web)]))
    feed = bot.feeds_add(web.url("/feed") + "?utm_source=x", added_by="mod")
    assert feed.url == web.url("/feed")
    with pytest.raises(FeedStoreError, match="already watched"):
        bot.feeds_add(web.url("/feed"))
    with pytest.raises(ValueError, match="only http and https"):
        bot.feeds_add("file:///etc/passwd")
    with pytest.raises(FeedStoreError, match="kind"):
        bot.feeds_add(web.url("/other"), kind="podcast")
    assert bot.feeds_remove(feed.id, removed_by="mod").url == feed.url
    assert bot.feeds_list() == []
    with pytest.raises(FeedStoreError, match="no feed"):
        bot.feeds_remove(feed.id)
    assert [e.action for e in bot.audit_entries()] == ["feed remove", "feed add"]


def test_an_item_two_feeds_list_is_judged_once(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    serve_feed(web, "/atom", atom([cuties_item(web)]), "atom")
    bot.feeds_add(web.url("/feed"))
    bot.feeds_add(web.url("/atom"))

    report = bot.poll_feeds_sync()

    assert len(report.candidates) == 1
    assert sum(r.judged for r in report.feeds) == 1
    assert len(feed_requests(web, "/news/cuties-indictment")) == 1


def test_an_item_whose_page_keeps_failing_is_given_up(feeds_bot, web):
    bot = feeds_bot()
    web.routes["/news/cuties-indictment"] = Route(503, {"Content-Type": "text/plain"}, b"busy")
    serve_feed(web, "/feed", rss([cuties_item(web)]), etag='"same"')
    bot.feeds_add(web.url("/feed"))

    tries = [bot.poll_feeds_sync(force=True) for _ in range(4)]

    # A feed with an item left to retry is fetched in full again (no 304 hides the item).
    assert [r.feeds[0].status for r in tries] == ["ok", "ok", "ok", "not modified"]
    assert len(feed_requests(web, "/news/cuties-indictment")) == 3
    (item,) = bot.feed_store.items(("failed",), 10)
    assert item.attempts == 3 and "503" in item.reason


def test_an_item_waiting_to_be_tried_again_can_be_turned_down(feeds_bot, web):
    bot = feeds_bot()
    web.routes["/news/cuties-indictment"] = Route(503, {"Content-Type": "text/plain"}, b"busy")
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))
    bot.poll_feeds_sync(force=True)
    (item,) = bot.feed_store.items(("retry",), 10)

    assert bot.ignore_candidate(item.id, by="ana").status == "ignored"
    (logged,) = [e for e in bot.audit_entries() if e.action == "ignore"]
    assert logged.detail == f"feed item (was retry) {item.id}"  # it never was a candidate
    del web.routes["/news/cuties-indictment"]  # the page would load now: it is not offered
    add_feed_pages(web)
    assert bot.poll_feeds_sync(force=True).candidates == []
    assert bot.candidate(item.id).status == "ignored"


def test_candidates_remember_where_they_were_posted(feeds_bot, web):
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/feed"))
    (candidate,) = bot.poll_feeds_sync().candidates
    assert [c.id for c in bot.review_queue(unposted=True)] == [candidate.id]

    bot.mark_candidate_posted(candidate.id, "123/456")

    assert bot.review_queue(unposted=True) == []
    assert bot.candidate(candidate.id).posted == "123/456"
    with pytest.raises(FeedStoreError):
        bot.mark_candidate_posted(candidate.id + 100, "x")


def test_two_stories_watch_the_same_feed_and_see_only_their_own_items(feeds_bot, web):
    """A feed URL is unique per story: another story may watch it too (its trial fetch runs
    again), and each story's items, queue and "already watched" check are its own."""
    bot = feeds_bot()
    serve_feed(web, "/feed", rss([cuties_item(web), bridge_item(web)]))
    bot.feeds_add(web.url("/feed"), added_by="mod")
    with pytest.raises(FeedStoreError, match="already watched"):
        bot.feeds_add(web.url("/feed"), added_by="mod")
    other = bot.in_story(bot.stories.create("harbour"))
    bridge = (
        "The harbour bridge has divided the council for years. Councillors argued about its "
        "cost and the mayor promised that the bridge would replace the old ferry service."
    )
    other.add_source(bridge, "Harbour bridge", added_by="mod")
    fetched = len(feed_requests(web, "/feed"))
    other.feeds_add(web.url("/feed"), added_by="mod")
    assert len(feed_requests(web, "/feed")) == fetched + 1  # the trial, for this story

    bot.poll_feeds_sync()
    assert other.feed_items() == [] and other.review_queue() == []
    other.poll_feeds_sync()

    cuties, harbour = web.url("/news/cuties-indictment"), web.url("/news/harbour-bridge")
    assert [c.url for c in bot.review_queue()] == [cuties]
    assert [c.url for c in other.review_queue()] == [harbour]
    assert {i.url: i.status for i in bot.feed_items()} == {cuties: "pending", harbour: "off-topic"}
    assert {i.url: i.status for i in other.feed_items()} == {
        cuties: "off-topic",
        harbour: "pending",
    }
