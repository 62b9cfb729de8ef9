"""The SSRF guard: which URLs may be fetched. No network: names resolve via /etc/hosts or fakes."""

from __future__ import annotations

import ipaddress

import pytest

from bot.urlguard import UrlGuard, UrlRefused, blocked_reason


def fake_dns(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        return [str(ipaddress.ip_address(host))]

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
    ],
)
def test_non_public_addresses_are_refused(url):
    with pytest.raises(UrlRefused, match="only public addresses"):
        UrlGuard().check_url(url)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://example.org/", "javascript:1"]
)
def test_only_http_and_https(url):
    with pytest.raises(UrlRefused, match="only http and https"):
        UrlGuard().check_url(url)


@pytest.mark.parametrize("url", ["http:///path", "http://[::1/", "http://user:pw@example.org/"])
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
    for url in ("http://localhost:8000/", "http://2130706433/", "http://127.0.0.2/"):
        with pytest.raises(UrlRefused):
            guard.check_url(url)
    # And allowing 127.0.0.1 allows nothing private elsewhere.
    with pytest.raises(UrlRefused):
        guard.check_url("http://10.0.0.1/")


def test_blocked_reason_names_the_kind():
    assert blocked_reason(ipaddress.ip_address("127.0.0.1")) == "loopback"
    assert blocked_reason(ipaddress.ip_address("::ffff:192.168.0.1")).startswith("private")
    assert blocked_reason(ipaddress.ip_address("1.1.1.1")) is None
