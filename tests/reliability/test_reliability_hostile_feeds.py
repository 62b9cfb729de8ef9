"""Third attack round, feeds: entity amplification, hostile but valid feeds, feeds listed
oldest-first (docs/reliability-round3.md). Feeds are served by the local web server."""

from __future__ import annotations

import io

import feedparser
import pytest
from feed_server import add_feed_pages, cuties_item, rss, serve_feed
from web_server import serve

from bot.sources.feeds.items import FeedError, read_items
from bot.sources.feeds.safexml import MAX_ENTRY_ELEMENTS, make_safe
from bot.sources.feeds.store import STATUSES
from bot.sources.web.fetch import Page

web = pytest.fixture(serve)
LOCAL = {"fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0}}


def page(data: bytes, url: str = "http://x.test/f") -> Page:
    text = data.decode("utf-8", "replace")
    return Page(url, url, "application/rss+xml", text, "utf-8", data=data)


def amplified(value: int, refs: int, newline: bool = True) -> bytes:
    """An RSS feed whose DTD declares a ``value``-character entity referenced ``refs`` times
    (on its own line, feedparser's loose parser takes it for a "safe" entity and expands it)."""
    sep = "\n" if newline else ""
    return (
        f'<?xml version="1.0"?>{sep}<!DOCTYPE rss [{sep}<!ENTITY big "{"A" * value}">{sep}]>{sep}'
        '<rss version="2.0"><channel><title>Film desk</title>'
        "<item><title>Cuties &big; indictment</title><link>http://x.test/1</link>"
        f"<description>{'&big;' * refs}</description></item></channel></rss>"
    ).encode()


@pytest.fixture
def parsed_sizes(monkeypatch):
    """The total text feedparser produced, per call (what the bot's memory pays for)."""
    sizes: list[int] = []
    real = feedparser.parse

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        texts = [e.get("summary", "") + e.get("title", "") for e in result.entries]
        sizes.append(sum(map(len, texts)))
        return result

    monkeypatch.setattr(feedparser, "parse", spy)
    return sizes


@pytest.mark.parametrize("newline", [True, False])
def test_a_declared_entity_is_never_expanded(parsed_sizes, newline):
    # 2,000 characters x 2,000 references: 4 MB of text from a 12 KB feed before the fix.
    listing = read_items(page(amplified(2000, 2000, newline)), "feed")
    (item,) = listing.items
    assert "AAAA" not in item.title and "AAAA" not in item.summary
    assert item.title == "Cuties indictment"
    assert max(parsed_sizes) < 1000


def test_nested_entities_and_external_ones_are_dropped():
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "aaaaaaaaaa">\n'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">\n'
        b'<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'
        b'<rss version="2.0"><channel><title>t</title><item><title>Caf&eacute; &c; &x;</title>'
        b"<link>http://x.test/1</link></item></channel></rss>"
    )
    safe = make_safe(body, 10)
    assert b"DOCTYPE" not in safe.data and b"ENTITY" not in safe.data
    (item,) = read_items(page(body), "feed").items
    assert item.title == "Café"  # an HTML entity's character; the rest dropped


def test_the_poll_of_an_amplifying_feed_keeps_memory_flat(make_bot, web, parsed_sizes):
    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0}})
    serve_feed(web, "/amp", amplified(5000, 20_000))  # 100 MB of text before the fix
    bot.feeds_add(web.url("/amp"), added_by="mod")
    (result,) = bot.poll_feeds_sync().feeds
    assert result.status == "ok" and result.listed == 1
    assert max(parsed_sizes) < 1000
    (item,) = bot.feed_store.items(STATUSES, 10)
    assert "AAAA" not in item.summary


def test_feedparser_reads_only_the_newest_entries_of_a_huge_feed(monkeypatch):
    entries = "".join(
        f"<item><title>Story {i}</title><link>http://x.test/{i}</link>"
        f"<pubDate>{1 + i % 28:02d} Oct 2020 12:00:00 GMT</pubDate></item>"
        for i in range(5000)
    )
    body = f'<rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()
    seen = []
    real = feedparser.parse

    def spy(stream, **kwargs):
        seen.append(stream.getvalue())
        return real(io.BytesIO(seen[-1]), **kwargs)

    monkeypatch.setattr(feedparser, "parse", spy)
    listing = read_items(page(body), "feed", limit=50)
    assert len(listing.items) == 50
    assert seen[0].count(b"<item>") == 50  # feedparser never saw the other 4,950
    assert {i.published[:10] for i in listing.items} <= {"2020-10-28", "2020-10-27"}


def test_new_items_appended_at_the_end_are_read():
    """A feed listed oldest-first: max_items keeps the newest, wherever they are."""
    entries = "".join(
        f"<item><title>Story {i}</title><link>http://x.test/{i}</link>"
        f"<pubDate>{1 + i:02d} Oct 2020 12:00:00 GMT</pubDate></item>"
        for i in range(20)
    )
    body = f'<rss version="2.0"><channel><title>t</title>{entries}</channel></rss>'.encode()
    listing = read_items(page(body), "feed", limit=5)
    assert sorted(i.title for i in listing.items) == [f"Story {i}" for i in range(15, 20)]


def test_an_undated_feed_keeps_document_order():
    body = rss([(f"Story {i}", f"http://x.test/{i}", "") for i in range(10)])
    body = body.replace(b"<pubDate>Thu, 01 Oct 2020 12:00:00 GMT</pubDate>", b"")
    listing = read_items(page(body), "feed", limit=3)
    assert [i.title for i in listing.items] == ["Story 0", "Story 1", "Story 2"]


def test_deep_nesting_and_giant_entries_are_bounded():
    deep = "<b>" * 100_000 + "x" + "</b>" * 100_000  # lxml stops at depth 256
    giant = "<i>y</i>" * (MAX_ENTRY_ELEMENTS + 10)
    body = (
        '<rss version="2.0"><channel><title>t</title>'
        "<item><title>Fine</title><link>http://x.test/ok</link></item>"
        f"<item><title>Giant</title><link>http://x.test/g</link><x>{giant}</x></item>"
        f"<item><title>Deep</title><link>http://x.test/d</link><x>{deep}</x></item>"
        "</channel></rss>"
    ).encode()
    listing = read_items(page(body), "feed", limit=50)
    titles = [i.title for i in listing.items]
    assert "Fine" in titles and "Giant" not in titles
    assert "left out" in listing.warning


def test_elements_outside_the_entries_are_bounded():
    body = ("<rss><channel>" + "<junk/>" * 50_000 + "</channel></rss>").encode()
    with pytest.raises(FeedError, match="elements outside"):
        read_items(page(body), "feed")


def test_malformed_feeds_are_still_read():
    body = (
        b'<rss version="2.0"><channel><title>AT&T news</title>'
        b"<item><title>Cuties & Netflix</title><link>http://x.test/1</link></item>"
        b"<item><title>Unclosed <b>bold</title><link>http://x.test/2</link></item>"
    )
    listing = read_items(page(body), "feed")
    assert listing.items[0].title == "Cuties & Netflix"
    assert listing.title == "AT&T news"
    assert listing.warning.startswith("malformed feed")


def test_the_charset_of_the_http_header_is_honoured():
    body = rss([("Café Olé", "http://x.test/1", "")]).replace(b"utf-8", b"iso-8859-1")
    body = body.decode("utf-8").encode("iso-8859-1")
    data = Page(
        "http://x.test/f",
        "http://x.test/f",
        "application/rss+xml",
        "",
        "",
        headers={"content-type": "application/rss+xml; charset=iso-8859-1"},
        data=body,
    )
    (item,) = read_items(data, "feed").items
    assert item.title == "Café Olé"


def test_an_item_on_topic_in_an_attack_feed_is_still_judged(make_bot, web):
    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0}})
    link = cuties_item(web)[1]
    body = amplified(100, 10).replace(b"http://x.test/1", link.encode())
    serve_feed(web, "/amp", body)
    bot.feeds_add(web.url("/amp"), added_by="mod")
    (result,) = bot.poll_feeds_sync().feeds
    assert result.status == "ok" and result.judged == 1


# -- the review queue against URL churn (finding 5) -------------------------------------------


def churn_feed(web, first: int, n: int) -> bytes:
    """One on-topic article listed under ``n`` new ``?v=`` URLs."""
    title, link, summary = cuties_item(web)
    return rss([(title, f"{link}?v={i}", summary) for i in range(first, first + n)])


def test_one_article_under_new_urls_is_one_candidate(make_bot, web):
    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0}})
    bot.feeds_add(web.url("/churn"), added_by="mod", trial=False)  # served from the next line
    for poll in range(3):  # before the fix: 50, 100, 150 identical candidates
        serve_feed(web, "/churn", churn_feed(web, 50 * poll, 50))
        bot.poll_feeds_sync(force=True)
    assert len(bot.review_queue(1000)) == 1
    duplicates = [i for i in bot.feed_store.items(("duplicate",), 1000)]
    assert duplicates and all("same article as item" in i.reason for i in duplicates)


def test_the_same_title_and_summary_without_fetching_is_one_candidate(make_bot, web):
    add_feed_pages(web)
    feeds = {"host_interval_seconds": 0.0, "fetch_items": False}
    bot = make_bot(config=LOCAL | {"feeds": feeds})
    serve_feed(web, "/churn", churn_feed(web, 0, 30))
    bot.feeds_add(web.url("/churn"), added_by="mod")
    bot.poll_feeds_sync()
    assert len(bot.review_queue(1000)) == 1


def test_a_page_naming_its_canonical_address_is_judged_once(make_bot, web):
    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0}})
    title, link, summary = cuties_item(web)
    html = web.routes["/news/cuties-indictment"].body.decode()
    for i in range(3):  # three copies whose text differs, all naming one canonical address
        page_html = html.replace("<head>", f'<head><link rel="canonical" href="{link}">').replace(
            "</article>", f"<p>Updated edition number {i} with a new line.</p></article>"
        )
        web.html(f"/copy-{i}", page_html)
    serve_feed(web, "/f", rss([(title, web.url(f"/copy-{i}"), summary) for i in range(3)]))
    bot.feeds_add(web.url("/f"), added_by="mod")
    bot.poll_feeds_sync()
    assert len(bot.review_queue(1000)) == 1


def test_new_candidates_per_feed_per_poll_are_capped(make_bot, web, monkeypatch):
    from bot.sources.feeds import poller

    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0}})
    monkeypatch.setattr(poller, "MAX_NEW_CANDIDATES", 2)
    title, _, summary = cuties_item(web)
    article = web.routes["/news/cuties-indictment"].body.decode()
    items = []
    for i in range(5):  # five different on-topic articles
        detail = f"<p>Story {i} adds a detail of its own, number {i * 7}.</p></article>"
        web.html(f"/story-{i}", article.replace("</article>", detail))
        items.append((f"{title} ({i})", web.url(f"/story-{i}"), f"{summary} Part {i}."))
    serve_feed(web, "/f", rss(items))
    bot.feeds_add(web.url("/f"), added_by="mod")
    (result,) = bot.poll_feeds_sync().feeds
    assert result.candidates == 2
    bot.poll_feeds_sync(force=True)
    bot.poll_feeds_sync(force=True)
    assert len(bot.review_queue(1000)) == 5  # the rest came at the next polls


# -- feed_items purged (finding 11) -------------------------------------------------------------


def test_old_judgements_no_decision_depends_on_are_purged(tmp_path):
    from bot.sources.feeds.store import FeedStore, Judged

    store = FeedStore(tmp_path / "db.sqlite3")
    old, recent, cutoff = "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z", "2026-03-01T00:00:00Z"

    def judged(name: str, status: str) -> Judged:
        return Judged(
            url=f"http://x.test/{name}",
            url_key=f"x.test/{name}",
            feed_id=1,
            status=status,
            summary="a summary " * 50,
            match_text="a passage " * 50,
            terms=("cuties",),
        )

    for name, status in [("gone", "off-topic"), ("listed", "off-topic"), ("mine", "pending")]:
        store.record(judged(name, status), old)
    ignored, _ = store.record(judged("ignored", "pending"), old)
    store.decide(ignored.id, "ignored", "mod", old)
    store.statuses(["x.test/listed"], seen_at=recent)  # a feed still lists it

    assert store.purge(cutoff) == (1, 1)

    left = {i.url.rsplit("/", 1)[1]: i for i in store.items(STATUSES, 100)}
    assert sorted(left) == ["ignored", "listed", "mine"]
    assert left["ignored"].status == "ignored" and left["ignored"].summary == ""
    assert left["mine"].summary  # a pending candidate is never slimmed
    # What is kept still prevents judging again.
    assert store.statuses(["x.test/listed", "x.test/ignored"]).keys() == {
        "x.test/listed",
        "x.test/ignored",
    }


def test_a_poll_purges_once_a_day(make_bot, web, monkeypatch):
    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0}})
    calls = []
    monkeypatch.setattr(bot.feed_store, "purge", lambda before: calls.append(before) or (0, 0))
    serve_feed(web, "/f", rss([cuties_item(web)]))
    bot.feeds_add(web.url("/f"), added_by="mod")
    bot.poll_feeds_sync(force=True)
    bot.poll_feeds_sync(force=True)
    assert len(calls) == 1


def test_two_feeds_finding_one_article_at_once_give_one_candidate(make_bot, web, monkeypatch):
    """Both feeds' threads check for a twin before either records: the poll itself knows."""
    add_feed_pages(web)
    bot = make_bot(config=LOCAL | {"feeds": {"host_interval_seconds": 0.0, "workers": 2}})
    monkeypatch.setattr(bot.feed_store, "twin", lambda *args: None)  # checked "at once"
    title, link, summary = cuties_item(web)
    serve_feed(web, "/a", rss([(title, f"{link}?from=a", summary)]))
    serve_feed(web, "/b", rss([(title, f"{link}?from=b", summary)]))
    bot.feeds_add(web.url("/a"), added_by="mod")
    bot.feeds_add(web.url("/b"), added_by="mod")
    report = bot.poll_feeds_sync()
    assert len(report.candidates) == 1
    (twin,) = bot.feed_store.items(("duplicate",), 10)
    assert "same poll" in twin.reason


def test_the_text_feedparser_gets_is_bounded_per_entry():
    """Entries of many long parts (escaped HTML, near the 5 MB cap): feedparser's sanitizer
    would read all of it (7 s of CPU for 6 MB); an entry now keeps MAX_SAME_PARTS parts of a
    name, MAX_TEXT characters per part and MAX_ENTRY_TEXT in all."""
    from lxml import etree

    from bot.sources.feeds.safexml import MAX_ENTRY_TEXT, MAX_SAME_PARTS, MAX_TEXT

    long_part = "&lt;p&gt;w&lt;/p&gt;" * 3000  # 24,000 characters of text
    many = "".join(f"<category>c{i}</category>" for i in range(40))
    items = "".join(
        f"<item><title>Story {i}</title><link>http://x.test/{i}</link>{many}"
        + f"<description>{long_part}</description>" * 12
        + "</item>"
        for i in range(5)
    )
    body = f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    safe = make_safe(body, 50)
    for item in etree.fromstring(safe.data).iter("item"):
        texts = [len("".join(part.itertext())) for part in item]
        assert sum(texts) <= MAX_ENTRY_TEXT and max(texts) <= MAX_TEXT
        assert [p.tag for p in item].count("category") == MAX_SAME_PARTS
    titles = [i.title for i in read_items(page(body), "feed", limit=50).items]
    assert titles == [f"Story {i}" for i in range(5)]
