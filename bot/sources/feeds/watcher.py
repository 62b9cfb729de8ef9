"""Polling in the background of a running bot, never in the way of its questions.

:class:`FeedWatcher` is a coroutine loop for the bot's event loop: each round runs the blocking
poll in a worker thread (network, extraction and scoring all happen there), hands the new
candidates to ``on_candidates`` (e.g. post them to the moderators' channel), then sleeps until
the next feed is due, at most ``CHECK_SECONDS`` (so feeds added from the command line are seen
soon). :meth:`FeedWatcher.stop` ends it cleanly: no new request starts, requests under way
finish (each is bounded by the fetcher's timeouts), and ``run`` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.sources.feeds.poller import PollReport
from bot.sources.feeds.store import Candidate

log = logging.getLogger(__name__)

# The longest sleep between two looks at the feeds table.
CHECK_SECONDS = 60.0
# After an unexpected error in a round, wait this long before the next.
ERROR_PAUSE_SECONDS = 60.0

OnCandidates = Callable[[list[Candidate]], Awaitable[None] | None]


class FeedWatcher:
    def __init__(
        self,
        poll: Callable[[threading.Event], PollReport],
        next_due: Callable[[], datetime | None],
        on_candidates: OnCandidates | None = None,
        *,
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        """``poll(stop)`` polls the due feeds once (blocking); ``next_due()`` says when the
        next feed is due."""
        self._poll = poll
        self._next_due = next_due
        self.on_candidates = on_candidates
        self.check_seconds = check_seconds
        self._halt = threading.Event()  # seen by the worker thread
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.rounds = 0  # polls completed (for status and tests)

    def start(self) -> asyncio.Task:
        """Run in the background on the running loop; returns the task."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run(), name="feed-watcher")
        return self._task

    def wake(self) -> None:
        """Look at the feeds now rather than after the current sleep (e.g. a feed was just
        added); a round under way is not interrupted."""
        if self._wake is not None:
            self._wake.set()

    async def stop(self) -> None:
        """Stop polling and wait for the round under way to end."""
        self._halt.set()
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def run(self) -> None:
        self._wake = asyncio.Event()
        while not self._halt.is_set():
            self._wake.clear()
            pause = await self._round()
            if self._halt.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=pause)

    async def _round(self) -> float:
        """One poll; returns how long to sleep before the next look."""
        try:
            report = await asyncio.to_thread(self._poll, self._halt)
            self.rounds += 1
            if report.candidates and self.on_candidates is not None:
                result = self.on_candidates(report.candidates)
                if inspect.isawaitable(result):
                    await result
            due = await asyncio.to_thread(self._next_due)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("polling the feeds failed")
            return ERROR_PAUSE_SECONDS
        if due is None:
            return self.check_seconds
        wait = (due - datetime.now(UTC)).total_seconds()
        if wait <= 0 and not report.feeds:  # due but not polled (e.g. an empty corpus)
            return self.check_seconds
        return min(max(wait, 1.0), self.check_seconds)
