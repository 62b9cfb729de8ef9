"""Download one web page for a source, carefully.

- Only http(s) to public addresses (``urlguard``), checked for the first URL and again for
  every redirect before it is requested; and again at connect time, connecting to exactly the
  addresses that were checked (no DNS-rebinding window).
- Redirects are followed by hand, at most ``max_redirects``.
- Timeouts per network operation (``timeout_seconds``) and for the whole download (three times
  that), so a server that drips bytes cannot hold an add forever.
- A size cap enforced while streaming: the body is never read past ``max_bytes``.
- Only text-like content (HTML, plain text, Markdown; with ``feed=True`` also RSS/Atom/XML);
  anything else is refused before its body is read.
- Conditional requests for watched feeds: ``validators`` (``If-None-Match``,
  ``If-Modified-Since``) are sent, a 304 comes back as a :class:`Page` with ``status`` 304 and
  no text, and every page keeps its ``ETag`` / ``Last-Modified`` for the next request.
- The charset comes from the header, then the page's ``<meta>``, then UTF-8, then
  Windows-1252 (what browsers assume for undeclared Latin-1 pages).

Blocking by design: callers run it in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import codecs
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from bot.config import FetchSettings
from bot.sources.decoding import looks_binary
from bot.sources.web.urlguard import UrlGuard, UrlRefused, url_host

REDIRECT_CODES = {301, 302, 303, 307, 308}
HTML_TYPES = {"text/html", "application/xhtml+xml"}
MARKDOWN_TYPES = {"text/markdown", "text/x-markdown"}
TEXT_TYPES = {"text/plain"} | MARKDOWN_TYPES
# What a watched feed may be served as (``fetch(..., feed=True)``); feedparser reads the bytes.
FEED_TYPES = {
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
}
FEED_ACCEPT = "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9"
# Request headers that make a request conditional (``fetch(..., validators=...)``).
VALIDATORS = ("if-none-match", "if-modified-since")
# Response headers a Page keeps (lowercase): what the next conditional request needs.
KEPT_HEADERS = ("etag", "last-modified", "content-type")
CHUNK = 64 * 1024
# Labels browsers treat as Windows-1252 (WHATWG Encoding): Latin-1 pages really use it.
_WINDOWS_1252_LABELS = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "ascii", "us-ascii"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)


class FetchError(ValueError):
    """The page could not be fetched or is not usable; the message is for the moderator."""


class TooLarge(FetchError):
    def __init__(self, message: str, received: int) -> None:
        super().__init__(message)
        self.received = received


@dataclass(frozen=True)
class Page:
    url: str  # the URL asked for
    final_url: str  # after redirects
    content_type: str  # "text/html", "text/plain" or "text/markdown" (or one of FEED_TYPES)
    text: str  # decoded body
    encoding: str
    # 304 (only when the request was conditional) or 200.
    status: int = 200
    # ETag, Last-Modified and Content-Type as received (lowercase keys), for the next request.
    headers: Mapping[str, str] = field(default_factory=dict, compare=False)
    # The body as received (feedparser reads the bytes and their XML encoding declaration).
    data: bytes = field(default=b"", compare=False, repr=False)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolve, check and connect to the checked address, never the name again."""

    def __init__(self, guard: UrlGuard) -> None:
        self._guard = guard
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = self._guard.resolve(host, port)
        except UrlRefused as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, guard: UrlGuard) -> None:
        super().__init__(trust_env=False)
        # httpx has no public hook for the network backend; swap in a pool that uses ours.
        # Refuse to run unguarded if a future httpx stores its pool elsewhere.
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("unsupported httpx version: cannot install the SSRF guard")
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(guard),
            max_connections=4,
        )


class Fetcher:
    def __init__(self, settings: FetchSettings, guard: UrlGuard | None = None) -> None:
        self.settings = settings
        self.guard = guard or UrlGuard(settings.allow_hosts)

    def fetch(
        self, url: str, *, validators: Mapping[str, str] | None = None, feed: bool = False
    ) -> Page:
        """Download ``url`` (following redirects) and decode it; raise FetchError or UrlRefused.

        ``validators`` (``If-None-Match``, ``If-Modified-Since``) make the request conditional:
        a 304 answer then comes back as a Page with ``status`` 304 and no text. ``feed`` also
        accepts RSS, Atom and XML bodies."""
        s = self.settings
        deadline = time.monotonic() + 3 * s.timeout_seconds
        timeout = httpx.Timeout(s.timeout_seconds)
        headers = {
            "User-Agent": s.user_agent,
            "Accept": "text/html,application/xhtml+xml,text/plain,text/markdown;q=0.9",
            # Uncompressed only: the size cap then counts what is stored, no zip bombs.
            "Accept-Encoding": "identity",
        }
        if feed:
            headers["Accept"] = FEED_ACCEPT
        extra = {k: v for k, v in (validators or {}).items() if k.lower() in VALIDATORS and v}
        current = url.strip()
        with httpx.Client(
            transport=_GuardedTransport(self.guard),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers=headers,
        ) as client:
            for hop in range(s.max_redirects + 1):
                try:
                    self.guard.check_url(current)  # before every request, redirects included
                except UrlRefused as exc:
                    if hop:
                        raise UrlRefused(f"{url} redirects to {current}: {exc}") from exc
                    raise
                try:
                    with client.stream("GET", current, headers=extra) as response:
                        if response.status_code == 304 and extra:
                            kept = _kept_headers(response)
                            return Page(url, current, "", "", "", status=304, headers=kept)
                        if response.status_code in REDIRECT_CODES:
                            location = response.headers.get("location")
                            if not location:
                                raise FetchError(f"{current} redirects without a location")
                            current = urljoin(current, location.strip())
                            continue
                        return self._read(url, current, response, deadline, feed=feed)
                except httpx.TimeoutException as exc:
                    raise FetchError(f"{_host(current)} did not answer in time") from exc
                except httpx.InvalidURL as exc:
                    # Not an HTTPError: raised e.g. while httpx prepares a redirect to a
                    # "data:" address, before storybot sees the response.
                    raise FetchError(f"could not fetch {current}: {exc}") from exc
                except httpx.HTTPError as exc:
                    # The guard's refusal at connect time arrives wrapped in a ConnectError.
                    refused = _find_cause(exc, UrlRefused)
                    if refused is not None:
                        raise refused from None
                    raise FetchError(f"could not fetch {current}: {exc}") from exc
        raise FetchError(f"{url} redirects more than {s.max_redirects} times")

    def _read(
        self,
        url: str,
        final_url: str,
        response: httpx.Response,
        deadline: float,
        *,
        feed: bool = False,
    ) -> Page:
        s = self.settings
        allowed = HTML_TYPES | TEXT_TYPES | (FEED_TYPES if feed else set())
        if response.status_code != 200:
            raise FetchError(f"{final_url} answered HTTP {response.status_code}")
        mime, params = _parse_content_type(response.headers.get("content-type", ""))
        if mime and mime not in allowed:
            raise FetchError(
                f"{final_url} is {mime}; only web pages, plain text and Markdown can be added"
            )
        if response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
            raise FetchError(f"{final_url} sent a compressed body storybot did not ask for")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > s.max_bytes:
            raise TooLarge(_too_large(final_url, s.max_bytes), 0)
        body = bytearray()
        for chunk in response.iter_raw(CHUNK):
            body += chunk
            if len(body) > s.max_bytes:
                raise TooLarge(_too_large(final_url, s.max_bytes), len(body))
            if time.monotonic() > deadline:
                raise FetchError(f"{_host(final_url)} is sending the page too slowly")
        data = bytes(body)
        if b"\x00" in data[:8192]:
            raise FetchError(f"{final_url} is a binary file, not a web page or text")
        kind = mime or _sniff(data)
        if kind not in allowed:
            raise FetchError(f"{final_url} looks like {kind}; only web pages and text can be added")
        if kind in MARKDOWN_TYPES:
            kind = "text/markdown"
        elif kind in HTML_TYPES:
            kind = "text/html"
        if urlsplit(final_url).path.lower().endswith((".md", ".markdown")) and kind == "text/plain":
            kind = "text/markdown"
        text, encoding = decode(data, params.get("charset"), html=kind == "text/html")
        if looks_binary(text):
            raise FetchError(f"{final_url} is a binary file, not a web page or text")
        if not text.strip():
            raise FetchError(f"{final_url} is empty")
        kept = _kept_headers(response)
        return Page(url, final_url, kind, text, encoding, headers=kept, data=data)


def decode(data: bytes, declared: str | None, *, html: bool) -> tuple[str, str]:
    """Text from ``data``: declared charset, then <meta>, then UTF-8, then Windows-1252."""
    candidates = [declared]
    if html:
        match = _META_CHARSET.search(data[:4096])
        candidates.append(match.group(1).decode("ascii") if match else None)
    for label in candidates:
        encoding = _codec(label)
        if encoding:
            return data.decode(encoding, errors="replace").lstrip("\ufeff"), encoding
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WINDOWS_1252_LABELS:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    mime, _, rest = value.partition(";")
    params = {}
    for part in rest.split(";"):
        key, _, val = part.partition("=")
        if key.strip():
            params[key.strip().lower()] = val.strip().strip("\"'")
    return mime.strip().lower(), params


def _sniff(data: bytes) -> str:
    head = data[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "text/html"
    if head.startswith(b"%pdf"):
        return "application/pdf"
    return "text/plain"


def _kept_headers(response: httpx.Response) -> dict[str, str]:
    return {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}


def _find_cause(exc: BaseException, kind: type[UrlRefused]) -> UrlRefused | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _host(url: str) -> str:
    try:
        return url_host(url)[1]
    except UrlRefused:
        return url


def _too_large(url: str, limit: int) -> str:
    return f"{url} is larger than the {limit / 1e6:g} MB limit"
