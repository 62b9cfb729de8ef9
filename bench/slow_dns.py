"""Fetches against a slow or silent name server, timed: ``nice -n 5 .venv/bin/python
bench/slow_dns.py``.

A local web server on 127.0.0.1 is reached through a made-up name whose lookup (a resolver
standing in for the system's) takes ``--dns`` seconds, or never answers; ``timeout_seconds``
is ``--timeout`` (the whole fetch's deadline is three times that). "before" runs the fetcher as
it was until round 3 (``git show eefcfa7:bot/sources/web/fetch.py``, loaded from the
repository's history), "after" the current one, in the same run. A redirect to the same host
makes two hops.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BEFORE = "eefcfa7"
NAME = "slow-dns.test"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/old":
            self.send_response(301)
            self.send_header("Location", "/article")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"Tide tables: high water at 06:12 on Saturday. " * 10
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def old_fetch_module():
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{BEFORE}:bot/sources/web/fetch.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "fetch_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("fetch_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fetch_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dns", type=float, default=2.0, help="seconds a lookup takes")
    parser.add_argument("--timeout", type=float, default=1.0, help="[fetch] timeout_seconds")
    args = parser.parse_args()

    from bot.config import FetchSettings
    from bot.sources.web import fetch as after
    from bot.sources.web.urlguard import UrlGuard

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://{NAME}:{server.server_address[1]}/old"
    settings = FetchSettings(allow_hosts=(NAME,), timeout_seconds=args.timeout)
    print(
        f"lookup {args.dns:g} s or never; timeout_seconds {args.timeout:g} (deadline "
        f"{3 * args.timeout:g} s); two hops on one host"
    )
    print(f"{'fetcher':<8} {'DNS':<7} {'seconds':>8} {'lookups':>8}  outcome")
    for label, module in (("before", old_fetch_module()), ("after", after)):
        for mode in ("slow", "silent"):
            lookups = []

            def resolver(host: str, port: int, mode: str = mode, lookups=lookups) -> list[str]:
                lookups.append(host)
                time.sleep(args.dns if mode == "slow" else 3600)
                return ["127.0.0.1"]

            fetcher = module.Fetcher(settings, UrlGuard(settings.allow_hosts, resolver=resolver))
            started = time.monotonic()
            done: list[str] = []

            def run(fetcher=fetcher, done=done) -> None:
                try:
                    fetcher.fetch(url)
                    done.append("fetched")
                except Exception as exc:  # the outcome is the figure
                    done.append(f"{type(exc).__name__}: {exc}")

            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            worker.join(60)  # a silent name server would otherwise hold "before" forever
            seconds = time.monotonic() - started
            outcome = done[0] if done else "still waiting after 60 s"
            print(f"{label:<8} {mode:<7} {seconds:>8.2f} {len(lookups):>8}  {outcome[:90]}")
    server.shutdown()


if __name__ == "__main__":
    main()
