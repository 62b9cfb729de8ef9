"""Which URLs storybot may fetch: public http(s) addresses only (an SSRF guard).

A moderator's link (and every redirect it leads to) must not make the bot talk to itself, the
local network or the cloud metadata service. So a host is resolved and refused when any of its
addresses is loopback, private, shared (CGNAT), link-local, site-local, multicast, reserved or
unspecified, for IPv4 and IPv6 alike, including IPv4 addresses embedded in IPv6
(``::ffff:127.0.0.1``, 6to4, Teredo). Legacy spellings of IPv4 (``2130706433``, ``0177.0.0.1``,
``0x7f.1``) are resolved by the system resolver to the address they mean, so they are judged by
that address.

``allow_hosts`` exempts exactly the hosts written there (compared with the URL's host, lowercase,
brackets removed), e.g. ``["127.0.0.1"]`` for tests; ``localhost`` or ``2130706433`` are *not*
exempted by it. The shipped default is empty.

DNS rebinding: :meth:`UrlGuard.resolve` returns the checked addresses and the fetcher connects to
exactly those (see ``fetch``), so a name cannot resolve to a public address for the check and
a private one for the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from bot.sources.urls import HTTP_SCHEMES

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> addresses; replaceable in tests.
Resolver = Callable[[str, int], list[str]]

# Longer URLs are refused (browsers and servers stop near 2,000; Discord options at 2,000).
MAX_URL_CHARS = 2048
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# IPv6 ranges Python 3.11 still calls global: site-local (deprecated, still used inside some
# networks) and the documentation prefix of RFC 9637.
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
_DOCUMENTATION_V6 = ipaddress.ip_network("3fff::/20")


class UrlRefused(ValueError):
    """The URL may not be fetched; the message says why, for the moderator."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefused(f"cannot resolve host {host!r}") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        if address not in addresses:
            addresses.append(address)
    return addresses


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not public, or None when it may be fetched."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            reason = blocked_reason(embedded)
            return f"{reason} IPv4 (embedded in IPv6)" if reason else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("shared (carrier-grade NAT)", address in _SHARED),
        ("site-local", address in _SITE_LOCAL),
        ("documentation", address in _DOCUMENTATION_V6),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return name
    return None


def url_host(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; refuse anything else."""
    if len(url) > MAX_URL_CHARS:
        raise UrlRefused(
            f"the URL is {len(url):,} characters long; at most {MAX_URL_CHARS:,} are accepted"
        )
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL: {url!r}") from exc
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise UrlRefused(f"only http and https links can be added ({shown} given)")
    if not parts.hostname:
        raise UrlRefused(f"the URL has no host: {url!r}")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("links with a user name or password in them are not fetched")
    return scheme, parts.hostname.lower().rstrip("."), port or (443 if scheme == "https" else 80)


class UrlGuard:
    def __init__(
        self, allow_hosts: Iterable[str] = (), resolver: Resolver = system_resolver
    ) -> None:
        self.allow_hosts = frozenset(_canonical_host(h) for h in allow_hosts)
        self.resolver = resolver

    def allowed_host(self, host: str) -> bool:
        return _canonical_host(host) in self.allow_hosts

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``; raise UrlRefused if any is not public."""
        host = host.lower().rstrip(".").strip("[]")
        addresses = self.resolver(host, port)
        if not addresses:
            raise UrlRefused(f"cannot resolve host {host!r}")
        if self.allowed_host(host):
            return addresses
        for text in addresses:
            reason = blocked_reason(ipaddress.ip_address(text))
            if reason:
                raise UrlRefused(
                    f"{host} points to a {reason} address ({text}); "
                    "only public addresses are fetched. To allow this host (e.g. a local "
                    f'test server), list it in config.toml: [fetch] allow_hosts = ["{host}"]'
                )
        return addresses

    def check_url(self, url: str) -> list[str]:
        """Refuse a URL that is not http(s) or whose host is not public; return its addresses."""
        _scheme, host, port = url_host(url)
        return self.resolve(host, port)


def _canonical_host(host: str) -> str:
    host = host.strip().lower().rstrip(".").strip("[]")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host
