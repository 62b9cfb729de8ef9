"""Download one web page for a source, carefully.

- Only http(s) to public addresses (``urlguard``), checked for the first URL and again for
  every redirect before it is requested; connecting to exactly the addresses that were checked
  (no DNS-rebinding window). Each host of a fetch is looked up once, inside the deadline: a
  name server that answers slowly or never ends the fetch at the deadline, with an error that
  names the lookup (``LookupTimeout``), not the web server.
- Redirects are followed by hand, at most ``max_redirects``.
- Timeouts per network operation (``timeout_seconds``) and for the whole download, headers and
  body (three times that). The read timeout restarts with every byte, so the whole-download
  deadline is enforced on the sockets themselves: when it passes, a timer shuts down every
  connection of the fetch, which ends whatever read is blocked (:class:`_Deadline`). A server
  that drips one byte a second cannot hold an add past the deadline.
- A size cap enforced while streaming: the body is never read past ``max_bytes``.
- Only text-like content (HTML, plain text, Markdown; with ``feed=True`` also RSS/Atom/XML);
  anything else is refused before its body is read. The charset comes from the header, then
  the page's ``<meta>``, then UTF-8, then Windows-1252 (what browsers assume for undeclared
  Latin-1 pages). Only the encodings browsers know (the WHATWG labels, via ``webencodings``)
  are honoured: a page declaring ``rot13``, ``zlib``, ``base64``, ``idna`` or ``undefined`` is
  decoded as if undeclared.
- The text must pass ``decoding.text_problem`` (no NUL anywhere, not binary), the rule the
  corpus loader applies too.
- Conditional requests for watched feeds: ``validators`` (``If-None-Match``,
  ``If-Modified-Since``) are sent, a 304 comes back as a :class:`Page` with ``status`` 304 and
  no text, and every page keeps its ``ETag`` / ``Last-Modified`` for the next request.

Blocking by design: callers run it in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
import webencodings

from bot.config import FetchSettings
from bot.sources.decoding import text_problem
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
# The whole download (headers and body, redirects included) may take this many per-operation
# timeouts.
DEADLINE_FACTOR = 3
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)


class FetchError(ValueError):
    """The page could not be fetched or is not usable; the message is for the moderator."""


class LookupTimeout(FetchError):
    """The name lookup of a host did not answer before the fetch's deadline."""


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


class _Deadline:
    """The whole download's deadline, enforced on the sockets, whatever the server does.

    httpx's read timeout restarts with every byte and ``iter_raw`` hands back a chunk only when
    it is full, so a check between chunks never fires against a server that trickles bytes.
    Instead a timer shuts down every socket of the fetch when the time is up (``shutdown``
    wakes a blocked ``recv``, TLS included); the fetch then sees ``expired``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if self.expired:  # connected just as the time ran out
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    # The plain socket method, on an SSL socket too: the file descriptor is shut down without
    # touching the TLS object another thread may be reading through. Closed already: fine.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedStream(httpcore.NetworkStream):
    """A connection whose socket (and, after TLS starts, the TLS socket) the deadline watches."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        deadline.watch(inner.get_extra_info("socket"))
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._inner.start_tls(ssl_context, server_hostname, timeout)
        return _WatchedStream(inner, self._deadline)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class _Lookups:
    """The hosts of one fetch, each resolved and checked by the guard once (for the request
    check and the connection alike), inside the fetch's deadline. The system resolver cannot
    be interrupted: a lookup that outlives the deadline is left to finish in its own thread."""

    def __init__(self, guard: UrlGuard, deadline: _Deadline) -> None:
        self._guard = guard
        self._deadline = deadline
        self._known: dict[tuple[str, int], list[str]] = {}
        self._lock = threading.Lock()

    def check_url(self, url: str) -> list[str]:
        _scheme, host, port = url_host(url)
        return self.resolve(host, port)

    def resolve(self, host: str, port: int) -> list[str]:
        key = (host.lower().rstrip(".").strip("[]"), port)
        with self._lock:
            if key not in self._known:
                self._known[key] = self._timed(key[0], port)
            return self._known[key]

    def _timed(self, host: str, port: int) -> list[str]:
        outcome: list = []
        done = threading.Event()

        def look_up() -> None:
            try:
                outcome.append(self._guard.resolve(host, port))
            except BaseException as exc:  # handed to the fetch's thread
                outcome.append(exc)
            done.set()

        threading.Thread(target=look_up, name=f"lookup {host}", daemon=True).start()
        if not done.wait(self._deadline.remaining()):
            raise LookupTimeout(
                f"the name lookup for {host} did not answer within {self._deadline.seconds:g} s "
                "(a DNS problem, not the web server)"
            )
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]


class _GuardedBackend(httpcore.NetworkBackend):
    """Connect to the checked addresses of a host (``_Lookups``), never the name again; every
    connection is watched by the fetch's deadline."""

    def __init__(self, lookups: _Lookups, deadline: _Deadline) -> None:
        self._lookups = lookups
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = self._lookups.resolve(host, port)
        except (UrlRefused, LookupTimeout) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            # Connecting is not watched by the timer (no socket yet): bound it directly.
            remaining = self._deadline.remaining()
            if remaining <= 0:
                raise httpcore.ConnectTimeout("the download deadline passed")
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    remaining if timeout is None else min(timeout, remaining),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
            else:
                return _WatchedStream(stream, self._deadline)
        assert last is not None
        raise last

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used
        raise httpcore.ConnectError("unix sockets are not used")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, lookups: _Lookups, deadline: _Deadline) -> None:
        super().__init__(trust_env=False)
        # httpx has no public hook for the network backend; swap in a pool that uses ours.
        # Refuse to run unguarded if a future httpx stores its pool elsewhere.
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("unsupported httpx version: cannot install the SSRF guard")
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedBackend(lookups, deadline),
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

        Returns or raises within ``DEADLINE_FACTOR * timeout_seconds``, name lookups included,
        whatever the server or the name server sends and however slowly.
        ``validators`` (``If-None-Match``, ``If-Modified-Since``) make the request conditional:
        a 304 answer then comes back as a Page with ``status`` 304 and no text. ``feed`` also
        accepts RSS, Atom and XML bodies."""
        with _Deadline(DEADLINE_FACTOR * self.settings.timeout_seconds) as deadline:
            try:
                return self._fetch(url, deadline, validators, feed)
            except LookupTimeout:
                raise
            except (FetchError, UrlRefused):
                if deadline.expired:
                    raise self._too_slow(url, deadline) from None
                raise

    def _too_slow(self, url: str, deadline: _Deadline) -> FetchError:
        return FetchError(
            f"{_host(url)} is sending the page too slowly "
            f"(not complete after {deadline.seconds:g} s)"
        )

    def _fetch(
        self,
        url: str,
        deadline: _Deadline,
        validators: Mapping[str, str] | None,
        feed: bool,
    ) -> Page:
        s = self.settings
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
        lookups = _Lookups(self.guard, deadline)
        with httpx.Client(
            transport=_GuardedTransport(lookups, deadline),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers=headers,
        ) as client:
            for hop in range(s.max_redirects + 1):
                try:
                    lookups.check_url(current)  # before every request, redirects included
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
                    refused = _find_cause(exc, UrlRefused) or _find_cause(exc, LookupTimeout)
                    if refused is not None:
                        raise refused from None
                    raise FetchError(f"could not fetch {current}: {exc}") from exc
        raise FetchError(f"{url} redirects more than {s.max_redirects} times")

    def _read(
        self,
        url: str,
        final_url: str,
        response: httpx.Response,
        deadline: _Deadline,
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
        if deadline.expired:  # the body may look complete: the shutdown ended it early
            raise self._too_slow(final_url, deadline)
        data = bytes(body)
        if b"\x00" in data:
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
        problem = text_problem(text)  # the rule the corpus loader applies too
        if problem == "is empty":
            raise FetchError(f"{final_url} is empty")
        if problem:
            raise FetchError(f"{final_url} is a binary file, not a web page or text ({problem})")
        kept = _kept_headers(response)
        return Page(url, final_url, kind, text, encoding, headers=kept, data=data)


def decode(data: bytes, declared: str | None, *, html: bool) -> tuple[str, str]:
    """Text from ``data``: declared charset, then <meta>, then UTF-8, then Windows-1252.

    Only encodings browsers know are honoured (anything else counts as undeclared), so a
    label never picks a codec that is not text (``rot13``, ``zlib``, ``base64``) or that
    cannot decode arbitrary bytes (``idna``, ``undefined``)."""
    candidates = [_encoding(declared)]
    if html:
        match = _META_CHARSET.search(data[:4096])
        meta = _encoding(match.group(1).decode("ascii")) if match else None
        # HTML: a <meta> claiming UTF-16 is read as UTF-8 (the bytes it was found in are not
        # UTF-16, or the ASCII "<meta" would not have matched).
        if meta is not None and meta.name.startswith("utf-16"):
            meta = webencodings.UTF8
        candidates.append(meta)
    for encoding in candidates:
        if encoding is not None:
            text = encoding.codec_info.decode(data, "replace")[0]
            return text.lstrip("\ufeff"), encoding.codec_info.name
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _encoding(label: str | None) -> webencodings.Encoding | None:
    """The WHATWG encoding a charset label names (Latin-1 and ASCII mean Windows-1252, as in
    browsers), or None: unknown, or "replacement" (labels whose pages can't be decoded)."""
    if not label:
        return None
    encoding = webencodings.lookup(label.strip().strip("\"'"))
    if encoding is None or encoding.name == "replacement":
        return None
    return encoding


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


def _find_cause(exc: BaseException, kind: type[Exception]) -> Exception | None:
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
