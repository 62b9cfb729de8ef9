"""When a feed is polled again, and how requests to one host are spaced.

- A feed that answered is due again after ``[feeds] poll_minutes``.
- A feed that failed waits ``poll_minutes * 2**failures`` (exponential backoff), at most
  ``max_backoff_minutes``; the first success resets it.
- Requests to one host (feeds and the item pages they list) are at least
  ``host_interval_seconds`` apart, whichever worker thread makes them: :class:`HostThrottle`
  hands out time slots per host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

# A feed due within this share of the poll interval counts as due (a cron job every 30 minutes
# must not skip a feed polled 30 minutes minus a few seconds ago).
DUE_SLACK = 0.1


def next_poll(now: datetime, poll_minutes: float, failures: int, max_backoff_minutes: float):
    """When a feed polled at ``now`` with ``failures`` failures in a row is due again."""
    if failures <= 0:
        return now + timedelta(minutes=poll_minutes)
    # min() before the power: a feed failing for months must not overflow.
    exponent = min(failures, 32)
    return now + timedelta(minutes=min(poll_minutes * 2**exponent, max_backoff_minutes))


def due_by(now: datetime, poll_minutes: float) -> datetime:
    """Feeds whose next poll is at or before this time are polled now."""
    return now + timedelta(minutes=poll_minutes * DUE_SLACK)


class HostThrottle:
    """At least ``interval`` seconds between two requests to the same host (thread-safe)."""

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, host: str) -> float:
        """Take the host's next slot; returns how many seconds to wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(host, now))
            self._next[host] = slot + self.interval
            return slot - now

    def wait(self, host: str, stop: threading.Event) -> bool:
        """Block until the host may be asked again; False when ``stop`` was set meanwhile."""
        delay = self.reserve(host)
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()
