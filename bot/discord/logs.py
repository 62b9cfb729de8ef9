"""One log line per handled command or message, with what happened and how long it took."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("bot.discord")


def log_handled(command: str, user_id: int, started: float, outcome: str) -> None:
    """Log ``command`` by ``user_id``: its outcome and the latency since ``started``
    (a ``time.perf_counter()`` reading)."""
    elapsed = (time.perf_counter() - started) * 1000
    log.info("%s user=%s %s in %.0f ms", command, user_id, outcome, elapsed)
