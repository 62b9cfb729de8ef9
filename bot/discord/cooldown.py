"""Per-user rate limit on asking, shared by /ask, mentions and Q&A-channel questions."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class UserCooldowns:
    """At most ``rate`` questions per sliding ``per`` seconds for each user."""

    def __init__(self, rate: int, per: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.per, self.clock = rate, per, clock
        self._asked: dict[int, deque[float]] = {}

    def hit(self, user_id: int) -> float | None:
        """Count one question; None if allowed, else the seconds to wait (not counted)."""
        if self.per <= 0:
            return None
        now = self.clock()
        if len(self._asked) > 1000:  # forget idle users so the map does not grow forever
            self._asked = {u: q for u, q in self._asked.items() if q and now - q[-1] < self.per}
        times = self._asked.setdefault(user_id, deque())
        while times and now - times[0] >= self.per:
            times.popleft()
        if len(times) >= self.rate:
            return self.per - (now - times[0])
        times.append(now)
        return None
