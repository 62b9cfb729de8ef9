"""The SSRF guard: which URLs may be fetched. No network: names resolve via /etc/hosts or fakes."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from web_server import Route, serve

from bot.config import FetchSettings
from bot.sources.web.fetch import Fetcher, FetchError
from bot.sources.web.urlguard import UrlGuard, UrlRefused, blocked_reason, system_resolver


def fake_dns(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        try:
            return [str(ipaddress.ip_address(host))]
        except ValueError:
            raise UrlRefused(f"cannot resolve host {host!r}") from None

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1.2.3:8080/x",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://0.0.0.0/",
        "http://224.0.0.1/",  # multicast
        "http://240.0.0.1/",  # reserved
        "http://255.255.255.255/",
        "http://[::1]/",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://[::ffff:10.0.0.1]/",
        "http://[2002:7f00:1::]/",  # 6to4 wrapping 127.0.0.1
        "http://[64:ff9b::a00:1]/",  # NAT64 wrapping 10.0.0.1
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0177.0.0.1/",  # octal
        "http://0x7f.1/",  # hex, short form
        "http://017700000001/",  # octal, one number
        "http://localhost/",
        "http://LOCALHOST./",
        # More spellings of loopback, unspecified and metadata addresses.
        "http://0x7f.0.0.1/",  # hex first part
        "http://0x7f000001/",  # hex, one number
        "http://127.1/",  # short form
        "http://127.0.1/",
        "http://0177.1/",
        "http://127.000.000.001/",  # zero-padded (octal to the resolver)
        "http://0/",  # 0.0.0.0, which Linux connects to this host
        "http://169.254.169.254./",  # trailing dot
        "http://100.100.100.200/",  # Alibaba Cloud metadata (CGNAT range)
        "http://[0:0:0:0:0:ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",  # mapped loopback in hex
        "http://[::ffff:169.254.169.254]/",
        "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
        "http://[::ffff:0:7f00:1]/",  # IPv4-translated (SIIT)
        "http://[64:ff9b:1::7f00:1]/",  # local-use NAT64
        "http://[fd00:ec2::254]/",  # AWS metadata over IPv6 (unique local)
        "http://[fec0::1]/",  # site-local (was let through: Python calls it global)
        "http://[3fff::1]/",  # documentation prefix (RFC 9637)
        "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
        "http://[fe80::1%eth0]/",  # link-local with a zone id
        "http://１２７.０.０.１/",  # full-width digits: IDNA maps them to 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(url):
    with pytest.raises(UrlRefused, match="only public addresses"):
        UrlGuard().check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x",
        "gopher://example.org/",
        "javascript:1",
        "FILE:///etc/passwd",
        "file://localhost/etc/passwd",
        "data:text/html,<h1>hi</h1>",
        "javascript://example.org/%0aalert(1)",
        "dict://127.0.0.1:11211/",
        "ldap://127.0.0.1/",
        "ws://example.org/",
        "view-source:http://example.org/",
        "jar:http://example.org/a.jar!/",
        "//example.org/x",  # no scheme
        "example.org/x",
    ],
)
def test_only_http_and_https(url):
    with pytest.raises(UrlRefused, match="only http and https"):
        UrlGuard().check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http:///path",
        "http://[::1/",
        "http://user:pw@example.org/",
        "http://user@example.org/",
        "http://:pw@example.org/",
        "http://example.org@127.0.0.1/",  # the host is 127.0.0.1
        "http://example.org\\@127.0.0.1/",  # parsers disagree on the backslash
        "http://127.0.0.1:80\\@example.org/",
        "http://127.0.0.1%2f@example.org/",
        "https://a:b@[::1]/",
        "http://example.org%40127.0.0.1/",
        "http://127.0.0.1\\.example.org/",
        "http://[::1]:99999/",  # port out of range
        "http://example.org:-1/",
        "http:/\\127.0.0.1/",
        "http:127.0.0.1/",
        "http://[fe80::1%25eth0]/",  # zone id, URL-escaped
        "http://[::1%25lo]/",
    ],
)
def test_malformed_or_credential_urls(url):
    with pytest.raises(UrlRefused):
        UrlGuard(resolver=fake_dns({"example.org": ["93.184.215.14"]})).check_url(url)


def test_public_addresses_pass():
    guard = UrlGuard(resolver=fake_dns({"news.example": ["93.184.215.14", "2606:2800:21f::1"]}))
    assert guard.check_url("https://news.example/story") == ["93.184.215.14", "2606:2800:21f::1"]
    assert guard.check_url("http://8.8.8.8/") == ["8.8.8.8"]


def test_a_name_with_any_private_address_is_refused():
    guard = UrlGuard(resolver=fake_dns({"mixed.example": ["93.184.215.14", "10.1.2.3"]}))
    with pytest.raises(UrlRefused, match=r"private address \(10\.1\.2\.3\)"):
        guard.check_url("https://mixed.example/")


def test_allow_hosts_exempts_exactly_the_listed_host():
    guard = UrlGuard(allow_hosts=["127.0.0.1", "[::1]"])
    assert guard.check_url("http://127.0.0.1:8000/page") == ["127.0.0.1"]
    assert guard.check_url("http://[::1]:8000/") == ["::1"]
    # Other spellings or names of the same address stay refused.
    for url in (
        "http://localhost:8000/",
        "http://2130706433/",
        "http://127.0.0.2/",
        "http://127.1/",
        "http://0x7f.0.0.1/",
        "http://127.000.000.001/",
        "http://[::ffff:127.0.0.1]/",
        "http://１２７.０.０.１/",  # full-width look-alike
        "http://127.0.0.1。/",  # ideographic full stop
        "http://0.0.0.0/",
    ):
        with pytest.raises(UrlRefused):
            guard.check_url(url)
    # And allowing 127.0.0.1 allows nothing private elsewhere.
    with pytest.raises(UrlRefused):
        guard.check_url("http://10.0.0.1/")


def test_blocked_reason_names_the_kind():
    assert blocked_reason(ipaddress.ip_address("127.0.0.1")) == "loopback"
    assert blocked_reason(ipaddress.ip_address("::ffff:192.168.0.1")).startswith("private")
    assert blocked_reason(ipaddress.ip_address("1.1.1.1")) is None


# -- names that resolve to non-public addresses (the system resolver, getaddrinfo faked) ---------


def fake_getaddrinfo(table: dict[str, list[str]]):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in table:
            return real(host, port, *args, **kwargs)
        infos = []
        for address in table[host]:
            if ":" in address:
                infos.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                infos.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos

    return getaddrinfo


@pytest.mark.parametrize(
    ("host", "addresses"),
    [
        ("intranet.example", ["127.0.0.1"]),
        ("v6.intranet.example", ["::1"]),
        ("zone.intranet.example", ["fe80::1%eth0"]),  # a zone id from the resolver
        ("metadata.example", ["169.254.169.254"]),
        ("mixed.example", ["93.184.215.14", "::ffff:10.0.0.1"]),
        ("bücher.example", ["10.0.0.5"]),  # an IDN host
        ("xn--bcher-kva.example", ["10.0.0.5"]),  # the same, in punycode
    ],
)
def test_names_resolving_to_non_public_addresses_are_refused(monkeypatch, host, addresses):
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({host: addresses}))
    assert "%" not in "".join(system_resolver(host, 80))  # a zone id is dropped
    with pytest.raises(UrlRefused, match="only public addresses"):
        UrlGuard(allow_hosts=["127.0.0.1"]).check_url(f"http://{host}/story")


def test_look_alikes_of_an_allowed_name_are_not_exempt(monkeypatch):
    table = {"news.example": ["127.0.0.1"], "nеws.example": ["127.0.0.1"]}  # Cyrillic е
    table["news.example.evil.test"] = ["127.0.0.1"]
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo(table))
    guard = UrlGuard(allow_hosts=["news.example"])
    assert guard.check_url("http://NEWS.example./a") == ["127.0.0.1"]
    for url in ("http://nеws.example/a", "http://news.example.evil.test/a"):
        with pytest.raises(UrlRefused, match="loopback"):
            guard.check_url(url)


def test_a_public_idn_host_is_fetched():
    """Decision: names are judged by their addresses, so an IDN news site on a public address
    is allowed; IDN tricks aimed at private addresses fail on the address (tests above)."""
    guard = UrlGuard(resolver=fake_dns({"bücher.example": ["93.184.215.14"]}))
    assert guard.check_url("https://bücher.example/artikel") == ["93.184.215.14"]


# -- redirects from the local test server (127.0.0.1 allowed) to places that are not ------------

web = pytest.fixture(serve)


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:{port}/article",
        "http://0:{port}/article",
        "http://[::1]:{port}/article",
        "http://[::ffff:127.0.0.1]:{port}/article",
        "http://2130706433:{port}/article",
        "http://0x7f.1:{port}/article",
        "http://127.1:{port}/article",
        "http://localhost.:{port}/article",
        "http://user:pw@127.0.0.1:{port}/article",
        "http://172.17.0.1/",  # the Docker host
        "http://[fd00::1]/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{port}/_GET%20/article",
        "//localhost:{port}/article",  # scheme-relative
    ],
)
def test_redirects_to_places_not_allowed_are_refused(web, target):
    web.routes["/go"] = Route(302, {"Location": target.format(port=web.port)})
    fetcher = Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), timeout_seconds=2.0))
    with pytest.raises(UrlRefused):
        fetcher.fetch(web.url("/go"))
    assert [path for path, _ in web.requests] == ["/go"]  # the target was never requested


@pytest.mark.parametrize(
    "target",
    [
        "data:text/html,<p>hi</p>",  # httpx.InvalidURL escaped fetch() (not a FetchError)
        "http://exa mple.org/",
        "http://[::1/",
        "http://127.0.0.1:99999/",
        "http://\x00/",
        "javascript:alert(1)",
    ],
)
def test_malformed_redirects_are_a_fetch_error_not_a_crash(web, target):
    web.routes["/go"] = Route(302, {"Location": target})
    fetcher = Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), timeout_seconds=2.0))
    with pytest.raises((FetchError, UrlRefused)):
        fetcher.fetch(web.url("/go"))
    assert [path for path, _ in web.requests] == ["/go"]
