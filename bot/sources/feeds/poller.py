"""Poll the watched feeds that are due and judge the items they list for the first time.

For each due feed (several hosts at once, one request per host at a time, spaced by
``HostThrottle``): a conditional GET through the guarded fetcher (a 304 means nothing new),
then its items (``items``). Each item not seen before is judged:

1. its URL must be a public http(s) address (else ``refused``) that the corpus does not
   already hold after normalisation (else ``known``);
2. its title and summary are scored against the corpus by ``judge`` (the retrieval core's
   ``Retriever.match``); below ``PREFILTER`` of the threshold it is ``off-topic`` unfetched;
3. with ``[feeds] fetch_items`` its page is fetched (guarded again: an item pointing at a
   private address is ``refused``) and extracted; a near-duplicate of a stored source (the
   ingestor's shingles) is ``duplicate``; the title and text are scored too;
4. the better of the two scores decides: ``pending`` (a candidate for moderators) at or above
   ``[feeds] min_relevance`` (``min_relevance_lexical`` without the semantic layer), also
   with the story's most used name masked (``bot.sources.relevance``), else ``off-topic``
   with the reason.

Nothing here adds a source: candidates wait for a moderator (``StoryBot.accept_candidate``).
Blocking by design; the engine runs it in a worker thread.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.clock import iso
from bot.config import FeedSettings
from bot.sources.feeds.items import FeedError, FeedItem, Listing, read_items, trial
from bot.sources.feeds.schedule import HostThrottle, due_by, next_poll
from bot.sources.feeds.store import Candidate, Feed, FeedStore, Judged
from bot.sources.ingest import Ingestor
from bot.sources.relevance import Relevance
from bot.sources.urls import clean_url, is_http_url, normalize_url
from bot.sources.web.extract import ExtractError, extract
from bot.sources.web.fetch import FetchError
from bot.sources.web.urlguard import UrlRefused, url_host

if TYPE_CHECKING:  # the engine hands in the retrieval core's judge; no import at run time
    from bot.search.retrieval import Match

log = logging.getLogger(__name__)

# An item's title and summary must reach this share of the threshold for its page to be
# fetched (bench/feeds_relevance.py: at 70% no on-topic item is lost that fetching every page
# would queue, and 14% of off-topic items' pages are fetched; docs/feeds.md).
PREFILTER = 0.7
# An item whose page failed to download this many times is given up (``failed``).
MAX_ATTEMPTS = 3
# A feed claimed by a poll that never finished (a crash) is polled again after this.
LEASE_MINUTES = 10
# Characters of an item's text scored (the retrieval core reads the first 1,000 anyway).
SCORED_CHARS = 2000
# New candidates one feed may bring in one poll; the items after them wait for the next poll
# (a feed listing one article under ever new URLs cannot flood the review queue).
MAX_NEW_CANDIDATES = 10

Judge = Callable[[str], "Match"]


@dataclass(frozen=True)
class PollEvent:
    """Progress of a poll: ``stage`` is "feed" (polling one), "done" (one finished)."""

    stage: str
    url: str
    done: int  # feeds finished so far
    total: int  # feeds in this poll
    message: str
    result: FeedResult | None = None  # with "done": how the feed's poll went


PollProgress = Callable[[PollEvent], None]


@dataclass
class FeedResult:
    feed: Feed
    status: str  # "ok", "not modified", "error", "stopped"
    listed: int = 0  # items the feed lists (up to max_items)
    judged: int = 0  # of them, seen for the first time (or retried)
    candidates: int = 0
    message: str = ""  # the error, or a warning about a feed read despite errors
    new: list[Candidate] = field(default_factory=list)  # the candidates it brought


@dataclass
class PollReport:
    feeds: list[FeedResult] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)  # new, pending
    message: str = ""  # why nothing was polled, if so


class FeedPoller:
    def __init__(
        self,
        store: FeedStore,
        ingestor: Ingestor,
        judge: Judge,
        settings: FeedSettings,
        throttle: HostThrottle | None = None,
        retention_days: int = 90,
        names: Callable[[], frozenset[str]] = frozenset,
        removed: Callable[[str], str | None] = lambda url: None,
    ) -> None:
        """``retention_days``: judgements no feed has listed for this long are purged.
        ``names()``: the story's most used names now (``relevance.story_names``), masked for
        the second half of the relevance rule. ``removed(url)``: why a page a moderator
        removed from the story is not offered again (None: it was not removed)."""
        self.removed = removed
        self.store = store
        self.retention_days = retention_days
        self._purged_on = ""
        self.ingestor = ingestor
        self.fetcher = ingestor.fetcher
        self.judge = judge
        self.relevance = Relevance(judge, settings, names)
        self.settings = settings
        self.throttle = throttle or HostThrottle(settings.host_interval_seconds)

    def due(self, now: datetime | None = None) -> list[Feed]:
        """The feeds a poll at ``now`` would check."""
        limit = iso(due_by(now or datetime.now(UTC), self.settings.poll_minutes))
        return [f for f in self.store.feeds() if f.next_poll_at <= limit]

    def next_due(self) -> datetime | None:
        """When the next feed is due (None: no feeds)."""
        times = [f.next_poll_at for f in self.store.feeds()]
        if not times:
            return None
        earliest = min(times)
        return datetime.fromisoformat(earliest) if earliest else datetime.now(UTC)

    def poll(
        self,
        *,
        force: bool = False,
        progress: PollProgress | None = None,
        stop: threading.Event | None = None,
        now: datetime | None = None,
    ) -> PollReport:
        """Poll the due feeds (``force``: all of them) once; ``stop`` ends it early (requests
        under way finish; items not judged yet are judged at the next poll)."""
        stop = stop or threading.Event()
        now = now or datetime.now(UTC)
        report = PollReport()
        feeds = self.store.feeds() if force else self.due(now)
        if not feeds:
            return report
        if not self.ingestor.library.sources:
            report.message = "the corpus is empty: there is nothing to compare new items with"
            return report
        lease = iso(now + timedelta(minutes=LEASE_MINUTES))
        claimed = [f for f in feeds if self.store.claim(f, lease)]
        done = 0
        lock = threading.Lock()
        items_taken: set[str] = set()  # an item two feeds list is judged once

        def take(key: str) -> bool:
            with lock:
                fresh = key not in items_taken
                items_taken.add(key)
                return fresh

        def emit(stage: str, feed: Feed, message: str, result: FeedResult | None = None) -> None:
            if progress is not None:
                progress(PollEvent(stage, feed.url, done, len(claimed), message, result))

        def run(feed: Feed) -> FeedResult:
            nonlocal done
            emit("feed", feed, f"Checking {feed.url}")
            try:
                result = self._poll_feed(feed, stop, take)
            except Exception as exc:  # one broken feed must not end the poll of the others
                log.exception("polling %s failed", feed.url)
                result = self._failed(feed, f"unexpected error: {exc}")
            with lock:
                done += 1
            emit("done", feed, f"{feed.url}: {result.status}", result)
            return result

        workers = max(1, min(self.settings.workers, len(claimed)))
        with ThreadPoolExecutor(workers, thread_name_prefix="feeds") as pool:
            report.feeds = list(pool.map(run, claimed))
        for result in report.feeds:
            report.candidates.extend(result.new)
        self._purge_daily(now)
        return report

    def trial(self, url: str, kind: str) -> Listing:
        """Fetch and read a feed being added, once (nothing is stored: the first poll judges
        its items). Raises FetchError, UrlRefused or FeedError with the moderator's message."""
        page = self.fetcher.fetch(url, feed=kind == "feed")
        return trial(page, kind)

    def _purge_daily(self, now: datetime) -> None:
        """Once a day: old judgements no decision depends on go (``FeedStore.purge``)."""
        today = now.date().isoformat()
        if self._purged_on == today:
            return
        self._purged_on = today
        deleted, slimmed = self.store.purge(iso(now - timedelta(days=self.retention_days)))
        if deleted or slimmed:
            log.info(
                "feed items: %d old judgement(s) purged, %d decision(s) slimmed", deleted, slimmed
            )

    # -- one feed ------------------------------------------------------------------------------

    def _poll_feed(
        self, feed: Feed, stop: threading.Event, take: Callable[[str], bool]
    ) -> FeedResult:
        if not self.throttle.wait(feed.host, stop):
            self.store.reschedule(feed.id, feed.next_poll_at)  # not polled: due as before
            return FeedResult(feed, "stopped")
        validators = {"If-None-Match": feed.etag, "If-Modified-Since": feed.last_modified}
        try:
            page = self.fetcher.fetch(feed.url, validators=validators, feed=feed.kind == "feed")
            if page.status == 304:
                self.store.polled(feed.id, at=_now(), next_at=self._next(0), status="not modified")
                return FeedResult(feed, "not modified")
            listing = read_items(page, feed.kind, self.settings.max_items)
        except (FetchError, UrlRefused, FeedError) as exc:
            return self._failed(feed, str(exc))
        items = listing.items[: self.settings.max_items]
        keys = {}
        for item in items:
            try:
                keys.setdefault(normalize_url(item.url), item)
            except ValueError:  # a link urllib cannot even split
                continue
        known = self.store.statuses(list(keys), seen_at=_now())
        todo = [
            (key, item, known.get(key, ("", 0))[1])
            for key, item in keys.items()
            if key not in known or known[key][0] == "retry"
        ]
        result = FeedResult(feed, "ok", listed=len(items), message=listing.warning)
        complete = True
        for key, item, attempts in todo:
            if stop.is_set() or result.candidates >= MAX_NEW_CANDIDATES:
                complete = False
                break
            if not take(key):
                continue
            judged = self._judge(feed, listing, key, item, attempts, stop)
            if judged is None:  # stopped while waiting for the item's host
                complete = False
                break
            if judged.status == "pending" and not take(f"text:{judged.text_key}"):
                # Another feed of this poll found the same article a moment ago.
                reason = "the same article as another item of the same poll"
                judged = replace(judged, status="duplicate", reason=reason)
            recorded, written = self.store.record(judged, _now())
            result.judged += 1
            complete &= judged.status != "retry"
            if written and recorded.status == "pending":
                result.candidates += 1
                result.new.append(recorded)
        # New validators only once every item was judged: otherwise the next poll's 304
        # would hide the items left over.
        fresh = complete and not stop.is_set()
        self.store.polled(
            feed.id,
            at=_now(),
            next_at=self._next(0),
            status="ok",
            title=listing.title,
            etag=page.headers.get("etag", "") if fresh else "",
            last_modified=page.headers.get("last-modified", "") if fresh else "",
        )
        return result

    def _judge(
        self,
        feed: Feed,
        listing: Listing,
        key: str,
        item: FeedItem,
        attempts: int,
        stop: threading.Event,
    ) -> Judged | None:
        """The item's judgement (``attempts``: its page's failed downloads so far), or None
        when ``stop`` was set while waiting for its host."""
        url = clean_url(item.url) if is_http_url(item.url) else item.url
        base = Judged(
            url=url,
            url_key=key,
            feed_id=feed.id,
            status="off-topic",
            title=item.title,
            summary=item.summary,
            publisher=listing.title or feed.host,
            published=item.published,
        )
        try:
            url_host(url)
        except UrlRefused as exc:
            return replace(base, status="refused", reason=str(exc))
        known = self._known(url)
        if known is not None:
            return replace(base, status="known", reason=known)
        heading = f"{item.title}\n{item.summary}"
        first = self.judge(heading)
        threshold = self._threshold(first)
        if not self.settings.fetch_items:
            return self._decide(base, first, [heading])
        # Prefiltered on its title and summary, unless it has none to read (then its page is).
        if heading.strip() and first.evidence < PREFILTER * threshold:
            return self._decide(base, first, [heading], "title and summary: ")
        host = url_host(url)[1]
        if not self.throttle.wait(host, stop):
            return None
        try:
            page = self.ingestor.fetcher.fetch(url)
            content = extract(page)
        except UrlRefused as exc:
            return replace(base, status="refused", reason=str(exc))
        except (FetchError, ExtractError) as exc:
            given_up = attempts + 1 >= MAX_ATTEMPTS
            return replace(base, status="failed" if given_up else "retry", reason=str(exc))
        final = clean_url(page.final_url)
        base = replace(
            base,
            url=final,
            title=item.title or content.title,
            publisher=content.sitename or base.publisher,
            published=item.published or content.date,
        )
        canonical = _canonical(content.canonical)
        base = replace(base, text_key=text_key(content.text), canonical_key=canonical)
        for address in {final, content.canonical if canonical else final} - {url}:
            known = self._known(address)
            if known is not None:
                return replace(base, status="known", reason=known)
        twin = self.ingestor.near_duplicate(content.text)
        if twin is not None:
            reason = f"nearly the same text as {twin[0]} (similarity {twin[1]:.0%})"
            return replace(base, status="duplicate", reason=reason)
        body = f"{base.title}\n{content.text[:SCORED_CHARS]}"
        second = self.judge(body)
        best = max(first, second, key=lambda m: m.evidence)
        return self._decide(base, best, [heading, body])

    def _known(self, url: str) -> str | None:
        """Why a page is not a candidate by its address alone: the corpus has it, or a
        moderator removed it from the story; None otherwise."""
        existing = self.ingestor.find_url(url)
        if existing is not None:
            return f"already in the corpus as {existing.id}"
        return self.removed(url)

    def _decide(self, base: Judged, match: Match, texts: list[str], note: str = "") -> Judged:
        """Pending or off-topic by the relevance rule; ``match`` is the best of ``texts``."""
        excerpt = match.excerpt
        verdict = self.relevance.verdict(match, texts, note)
        if verdict.relevant:
            if not base.text_key:  # not fetched: the same title and summary
                base = replace(base, text_key=text_key(f"{base.title}\n{base.summary}"))
            twin = self.store.twin(base.url_key, base.text_key, base.canonical_key)
            if twin is not None:
                reason = f"the same article as item {twin.id} ({twin.url}, {twin.status})"
                return replace(base, status="duplicate", reason=reason)
        return replace(
            base,
            status="pending" if verdict.relevant else "off-topic",
            score=round(match.evidence, 4),
            terms=match.terms,
            match_source=excerpt.source.id if excerpt else "",
            match_start=excerpt.start if excerpt else None,
            match_end=excerpt.end if excerpt else None,
            match_text=excerpt.text if excerpt else "",
            reason=verdict.reason,
        )

    def _threshold(self, match: Match) -> float:
        return self.relevance.threshold(match)

    def _failed(self, feed: Feed, error: str) -> FeedResult:
        failures = feed.failures + 1
        self.store.failed(feed.id, at=_now(), next_at=self._next(failures), error=error)
        return FeedResult(feed, "error", message=error)

    def _next(self, failures: int) -> str:
        s = self.settings
        return iso(next_poll(datetime.now(UTC), s.poll_minutes, failures, s.max_backoff_minutes))


def _now() -> str:
    return iso(datetime.now(UTC))


def text_key(text: str) -> str:
    """A hash of the text's words (case and spacing ignored): the same article's text under
    two URLs has the same key."""
    return hashlib.sha256(" ".join(text.lower().split()).encode("utf-8", "replace")).hexdigest()


def _canonical(url: str) -> str:
    """The normalised key of a page's own address (rel=canonical), or "" when it has none
    usable (not public http(s))."""
    if not url or not is_http_url(url):
        return ""
    try:
        url_host(url)
        return normalize_url(clean_url(url))
    except (UrlRefused, ValueError):
        return ""
