"""A story's watched feeds and its review queue: polling (in the background of a running bot
or once from the command line), candidates a moderator accepts (through the normal add path)
or ignores."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from bot.clock import iso, now_iso
from bot.insights.audit import AuditEntry
from bot.sources.feeds.items import FEED_KINDS
from bot.sources.feeds.poller import FeedPoller, PollEvent, PollProgress, PollReport
from bot.sources.feeds.store import STATUSES, Candidate, Feed, FeedStoreError
from bot.sources.feeds.watcher import FeedWatcher, OnCandidates
from bot.sources.ingest import DuplicateUrl, IngestReport, Progress
from bot.sources.urls import clean_url, normalize_url
from bot.sources.web.urlguard import url_host
from bot.stories.asking import Asking
from bot.stories.curation import Curation
from bot.stories.story import Story

# A candidate left "accepting" this long (a crash mid-add) may be accepted again.
STALE_ACCEPT = timedelta(minutes=10)


@dataclass(frozen=True)
class Accepted:
    """A candidate a moderator accepted: the candidate as now recorded, what was added."""

    candidate: Candidate
    report: IngestReport


class Review:
    def __init__(self, story: Story, curation: Curation, asking: Asking) -> None:
        self.story = story
        self.curation = curation
        self.asking = asking
        self._removed_cache: tuple[int, dict[str, AuditEntry]] | None = None

    @property
    def feed_store(self):
        return self.story.feed_store

    @cached_property
    def poller(self) -> FeedPoller:
        """Built on first poll: judging items loads the story's index."""
        config = self.story.config
        return FeedPoller(
            self.feed_store,
            self.curation.ingestor,
            self.asking.match,
            config.feeds,
            retention_days=config.stats.retention_days,
            names=self.asking.story_names,
            removed=self.removed_url,
        )

    def removed_url(self, url: str) -> str | None:
        """Why a feed item at ``url`` is not offered again when a moderator removed its page
        from the story (its latest removal in the audit log), or None."""
        entry = self._removals().get(normalize_url(url))
        if entry is None:
            return None
        return (
            f"removed from the story as {entry.source_id} by {entry.actor} on "
            f"{entry.at[:10]} (sources restore {entry.source_id} brings it back)"
        )

    def _removals(self) -> dict[str, AuditEntry]:
        """Every removed page's normalised URL -> its latest removal; read again only when
        the audit log has grown (a poll asks once or more per new item)."""
        latest = self.story.audit.last_id()
        cached = self._removed_cache
        if cached is not None and cached[0] == latest:
            return cached[1]
        removals: dict[str, AuditEntry] = {}
        for entry in reversed(self.story.audit.entries(limit=None, action="remove")):
            try:  # oldest first: the latest removal of a URL wins
                if entry.url:
                    removals[normalize_url(entry.url)] = entry
            except ValueError:  # a hand-written url field that is not a URL
                continue
        self._removed_cache = (latest, removals)  # one assignment: safe across poll threads
        return removals

    def feeds_add(
        self, url: str, *, kind: str = "feed", added_by: str = "", trial: bool = True
    ) -> Feed:
        """Watch an RSS/Atom feed (``kind`` "feed") or a topic page ("page") for new items.

        With ``trial`` (the default) it is fetched and read once first, so what can never work
        (a 404, broken XML, an HTML page given as a feed, an address the guard refuses) is
        refused now with the same errors as ``add_url`` and ``FeedError`` (``NotAFeed`` for
        an HTML page: watch it as kind "page"), not at the next poll. Blocking (a download)."""
        if kind not in FEED_KINDS:
            raise FeedStoreError(f"kind must be one of {', '.join(FEED_KINDS)}")
        url_host(url.strip())  # only http(s); the guard judges the address at every fetch
        url = clean_url(url)
        key = normalize_url(url)
        self.feed_store.refuse_watched(key)  # before any download
        title = self.poller.trial(url, kind).title if trial else ""
        feed = self.feed_store.add_feed(url, key, kind, added_by, now_iso(), title=title)
        self.story.audit_event(added_by, "feed add", feed.url, f"feed {feed.id} ({kind})")
        return feed

    def feeds_list(self) -> list[Feed]:
        return self.feed_store.feeds()

    def feeds_remove(self, feed_id: int, *, removed_by: str = "") -> Feed:
        """Stop watching a feed (its items' decisions are kept)."""
        feed = self.feed_store.remove_feed(feed_id)
        self.story.audit_event(removed_by, "feed remove", feed.url, f"feed {feed.id}")
        return feed

    async def poll_feeds(
        self, progress: PollProgress | None = None, *, force: bool = False
    ) -> PollReport:
        """Poll the due feeds (``force``: all) once, in a worker thread; returns the new
        candidates among the results. ``progress`` (a function or coroutine function) hears
        about each feed, on the caller's event loop."""
        loop = asyncio.get_running_loop()
        relay = None
        if progress is not None:
            pending: set[asyncio.Task] = set()

            def deliver(event: PollEvent) -> None:
                result = progress(event)
                if inspect.isawaitable(result):
                    task = asyncio.ensure_future(result)
                    pending.add(task)
                    task.add_done_callback(pending.discard)

            def relay(event: PollEvent) -> None:
                loop.call_soon_threadsafe(deliver, event)

        report = await asyncio.to_thread(self.poller.poll, force=force, progress=relay)
        await asyncio.sleep(0)  # let the last progress calls run
        return report

    def poll_feeds_sync(
        self,
        progress: PollProgress | None = None,
        *,
        force: bool = False,
        stop: threading.Event | None = None,
    ) -> PollReport:
        """``poll_feeds`` for callers without an event loop (``progress`` runs in worker
        threads)."""
        return self.poller.poll(force=force, progress=progress, stop=stop)

    def watch_feeds(self, on_candidates: OnCandidates | None = None) -> FeedWatcher:
        """A background poller for a running bot: ``watcher.start()`` on its event loop,
        ``await watcher.stop()`` at shutdown; ``on_candidates(list)`` hears about new ones."""
        return FeedWatcher(
            lambda stop: self.poller.poll(stop=stop), self.poller.next_due, on_candidates
        )

    def feed_items(self, statuses: Sequence[str] | None = None, limit: int = 50) -> list[Candidate]:
        """Items the feeds listed, newest first, in these statuses (None: all), each with what
        became of it and why (``Candidate.reason``): e.g. those waiting to retry a page that
        failed to download, or judged off topic."""
        wanted = tuple(statuses) if statuses else STATUSES
        unknown = [s for s in wanted if s not in STATUSES]
        if unknown:
            raise FeedStoreError(f"unknown status {unknown[0]!r}; one of: {', '.join(STATUSES)}")
        return self.feed_store.items(wanted, limit, newest=True)

    def review_queue(self, limit: int = 25, *, unposted: bool = False) -> list[Candidate]:
        """Candidates waiting for a moderator, oldest first; ``unposted``: only those not
        marked as shown (``mark_candidate_posted``), e.g. to post what a restart missed."""
        return self.feed_store.items(("pending",), limit, unposted=unposted)

    def mark_candidate_posted(self, candidate_id: int, ref: str) -> None:
        """Remember where an adapter showed a candidate (e.g. "channel_id/message_id"), so it
        can find the message again after a restart; ``Candidate.posted`` gives it back."""
        self.feed_store.mark_posted(candidate_id, ref)

    def outdated_review_posts(self, limit: int = 25) -> list[Candidate]:
        """Candidates whose posted message shows a status they no longer have (decided from
        the command line or another process), for the adapter to redraw."""
        return self.feed_store.outdated_posts(limit)

    def mark_candidate_shown(self, candidate_id: int, status: str) -> None:
        """The candidate's posted message now shows ``status``."""
        self.feed_store.mark_shown(candidate_id, status)

    def candidate(self, candidate_id: int) -> Candidate:
        return self.feed_store.item(candidate_id)

    async def accept_candidate(
        self,
        candidate_id: int,
        *,
        follow: int = 0,
        by: str = "",
        progress: Progress | None = None,
    ) -> Accepted:
        """Add a candidate through the normal add path (``add_url``, audited), and up to
        ``follow`` pages it links to. Only one moderator's accept runs; the other gets a
        FeedStoreError. If the add fails, the candidate waits again (and the error is raised),
        unless its URL turned out to be in the corpus already."""
        now = datetime.now(UTC)
        item = self.feed_store.take(candidate_id, by, iso(now), iso(now - STALE_ACCEPT))
        feed = f"feed {item.feed_id}" if item.feed_id is not None else "a feed"
        if item.feed_title:
            feed += f" ({item.feed_title})"
        try:
            report = await self.curation.add_url(
                item.url,
                added_by=by,
                follow=follow,
                progress=progress,
                published=item.published[:10],  # the feed's date (or the page's), kept
                detail=f"from {feed}, candidate {item.id}",
                extra={"from_feed": item.feed_id, "candidate": item.id}
                if item.feed_id is not None
                else {"candidate": item.id},
            )
        except DuplicateUrl as exc:
            self.feed_store.decide(item.id, "known", by, now_iso(), reason=str(exc))
            raise
        except BaseException:
            self.feed_store.decide(item.id, "pending", "", "", only_from=("accepting",))
            raise
        source_id = report.added[0].source.id
        done = self.feed_store.decide(item.id, "accepted", by, now_iso(), source_id=source_id)
        return Accepted(done, report)

    def ignore_candidate(self, candidate_id: int, *, by: str = "") -> Candidate:
        """A moderator's no: the item is never queued again. An item whose page failed to
        load and waits to be tried again (``retry``) may be turned down too."""
        was = self.feed_store.item(candidate_id).status
        item = self.feed_store.decide(
            candidate_id, "ignored", by, now_iso(), only_from=("pending", "retry")
        )
        what = "candidate" if was == "pending" else f"feed item (was {was})"
        self.story.audit_event(by, "ignore", item.url, f"{what} {item.id}")
        return item
