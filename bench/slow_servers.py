"""Slow-server benchmark: ``.venv/bin/python bench/slow_servers.py [--adds 6] [--timeout 3]``.

Against the local test server (tests/web_server.py) sending one byte per second:

1. the whole-download deadline: how long ``Fetcher.fetch`` takes to give up with the shipped
   rule (3 x ``timeout_seconds``), headers dripping and body dripping;
2. questions during slow adds: ``--adds`` adds at once from a server sending a byte every
   0.5 s (timeout 1 s, so each add runs into its 3 s deadline)
   while questions are asked through ``asyncio.to_thread`` on a 6-thread default pool (what
   the event loop gets on 2 cores), ten at a time, until the adds end. Printed: question
   latency (median, p99, max) with the ingestor's own pool, and with adds run on the default
   pool as before (``--no-before`` skips that).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from web_server import MINUTES, Route, WebServer, linked_html  # noqa: E402

from bot.config import FetchSettings, config_from_dict  # noqa: E402
from bot.sources.web.fetch import Fetcher, FetchError  # noqa: E402


def deadline(timeout: float) -> None:
    page = linked_html("Drip", MINUTES).encode()
    with WebServer() as web:
        for where in ("headers", "body"):
            path = f"/drip-{where}"
            web.routes[path] = Route(
                headers={"Content-Type": "text/html"},
                body=page,
                trickle=1.0,
                drip_body_only=where == "body",
            )
            fetcher = Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), timeout_seconds=timeout))
            started = time.perf_counter()
            try:
                fetcher.fetch(web.url(path))
                outcome = "fetched (!)"
            except FetchError as exc:
                outcome = str(exc)
            took = time.perf_counter() - started
            print(
                f"  1 byte/s, {where} dripping, timeout {timeout:g} s: gave up after {took:.2f} s "
                f"({web.sent.get(path, 0)} bytes received): {outcome}"
            )


async def questions_during_adds(adds: int, before: bool) -> tuple[list[float], float]:
    from bot.engine import StoryBot
    from bot.sources.ingest import ERRORS, Ingestor

    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(6))
    if before:  # adds on the default pool, as before the fix

        async def in_default_pool(self, function, *args, **kwargs):
            return await asyncio.to_thread(function, *args, **kwargs)

        Ingestor._in_pool = in_default_pool
    with tempfile.TemporaryDirectory() as tmp, WebServer() as web:
        data = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
        data["corpus"].update(dir=str(REPO / "corpus"), state_dir=f"{tmp}/state")
        data["fetch"].update(allow_hosts=["127.0.0.1"], timeout_seconds=1.0)
        # A scratch copy of the corpus: nothing is stored (every add runs out of time).
        bot = StoryBot(config_from_dict(data, base=Path(tmp), path=None))
        bot.ask("Who directed Cuties?")  # warm
        for n in range(adds):
            web.routes[f"/drip-{n}"] = Route(
                headers={"Content-Type": "text/html"},
                body=linked_html(f"Drip {n}", MINUTES).encode(),
                trickle=0.5,
            )

        async def add(n: int) -> None:
            try:
                await bot.add_url(web.url(f"/drip-{n}"))
            except ERRORS as exc:
                print(f"    add {n} ended after {time.perf_counter() - started:.1f} s: {exc}")

        async def ask() -> float:
            started = time.perf_counter()
            await asyncio.to_thread(bot.ask, "Who directed Cuties?")
            return time.perf_counter() - started

        started = time.perf_counter()
        tasks = [asyncio.create_task(add(n)) for n in range(adds)]
        latencies: list[float] = []
        while not all(t.done() for t in tasks):
            latencies += await asyncio.gather(*(ask() for _ in range(10)))
        await asyncio.gather(*tasks)
        return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adds", type=int, default=6)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--no-before", action="store_true")
    args = parser.parse_args()
    print(f"slow-server benchmark — {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print("whole-download deadline:")
    deadline(args.timeout)
    print(f"questions during {args.adds} adds from a 2 bytes/s server (deadline 3 s each):")
    for before in (False, True) if not args.no_before else (False,):
        latencies, took = asyncio.run(questions_during_adds(args.adds, before))
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        label = "adds on the default pool (before)" if before else "adds in the ingest pool"
        print(
            f"  {label}: {len(latencies)} questions in {took:.1f} s, latency median "
            f"{statistics.median(ordered) * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms, "
            f"max {ordered[-1] * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
