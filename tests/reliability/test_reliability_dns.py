"""Name lookups inside the fetch's deadline, once per host (third attack round, finding 6): a
slow or silent name server ends the fetch at the deadline with an error naming the lookup."""

from __future__ import annotations

import threading

import pytest
from web_server import Route, serve

from bot.config import FetchSettings
from bot.sources.web.fetch import Fetcher, FetchError, LookupTimeout
from bot.sources.web.urlguard import UrlGuard

web = pytest.fixture(serve)
NAME = "news.test"


class Dns:
    """A resolver for ``news.test`` -> 127.0.0.1 that counts lookups and can hang."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = threading.Event()
        self.hang = False
        self.answered_late = threading.Event()

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        if self.hang:
            self.release.wait(10)
            self.answered_late.set()
        return ["127.0.0.1"]


def fetcher(dns: Dns, timeout: float = 2.0) -> Fetcher:
    settings = FetchSettings(allow_hosts=(NAME,), timeout_seconds=timeout)
    return Fetcher(settings, UrlGuard(settings.allow_hosts, resolver=dns))


def test_each_host_is_looked_up_once_per_fetch(web):
    dns = Dns()
    web.routes["/old"] = Route(301, {"Location": f"http://{NAME}:{web.port}/article"})
    page = fetcher(dns).fetch(f"http://{NAME}:{web.port}/old")
    assert page.final_url.endswith("/article")
    assert dns.calls == 1  # before: 4 (the guard and the connection, at each of two hops)


def test_a_silent_name_server_ends_the_fetch_at_the_deadline(web):
    dns = Dns()
    dns.hang = True
    try:
        with pytest.raises(LookupTimeout, match=f"name lookup for {NAME}.*DNS") as caught:
            fetcher(dns, timeout=0.2).fetch(f"http://{NAME}:{web.port}/article")
        # The fetch gave up while the lookup was still hanging (before: it waited for it).
        assert not dns.answered_late.is_set()
        assert isinstance(caught.value, FetchError)
        assert "too slowly" not in str(caught.value)  # the web server is not blamed
    finally:
        dns.release.set()
