"""A local HTTP server on 127.0.0.1 serving the pages the web-source tests need.

A test module defines its fixture as ``web = pytest.fixture(serve)``; ``web.url(path)`` gives
the address of a page, ``web.requests`` what was asked for, ``web.sent`` bytes written per path,
``web.finished`` the paths whose whole response (of a trickling route) was sent. A route with an
``etag`` or ``last_modified`` answers a matching conditional request with 304.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIG_BYTES = 10 * 1024 * 1024

ARTICLE_SENTENCES = [
    "The city council approved the new harbour bridge on Tuesday after a nine-hour debate.",
    "Councillors voted seven to two in favour of the plan, according to the published minutes.",
    'Mayor Jane Okafor said the bridge would open in the spring of 2027. "It is a great day '
    'for the harbour district," she told reporters outside the town hall.',
    "Critics argued that the cost, estimated at 40 million euros, was too high for a town of "
    "this size and that a ferry service had never been properly considered.",
    "The engineering firm Halvorsen & Daughters will start work on the foundations in March, "
    "a spokesperson for the firm confirmed.",
]


def article_html(base: str) -> str:
    p = ARTICLE_SENTENCES
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Council approves harbour bridge | The Harbour Gazette</title>
<meta name="author" content="Lena Fischer">
<meta property="og:site_name" content="The Harbour Gazette">
<meta property="article:published_time" content="2026-03-04T09:30:00Z">
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/politics">Politics</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/subscribe">Subscribe now for 1 euro</a></li>
</ul></nav></header>
<div class="ad">ADVERTISEMENT: Buy the new Zephyr SUV today</div>
<main><article>
<h1>Council approves harbour bridge</h1>
<p class="byline">By Lena Fischer, 4 March 2026</p>
<p>{p[0]}</p>
<p>{p[1].replace("published minutes", f'<a href="{base}/minutes">published minutes</a>')}</p>
<p>{p[2]}</p>
<p>{p[3]} A <a href="/ferry-study">2019 ferry study</a> put the alternative at half the cost.</p>
<p>{p[4]} See also the <a href="https://example.org/halvorsen#profile">firm's profile</a>.</p>
</article></main>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="/teaser-1">Zookeeper wins the regional lottery twice in one week</a></li>
<li><a href="/teaser-2">Ten recipes for a rainy weekend in the harbour district</a></li>
</ul></aside>
<section id="comments" class="comments"><h3>Comments</h3>
<div class="comment"><p>Reader99: What a total waste of taxpayer money, typical council
nonsense.</p></div>
</section>
<footer><p>Copyright 2026 The Harbour Gazette. All rights reserved.</p></footer>
</body></html>"""


def linked_html(title: str, sentences: list[str]) -> str:
    paragraphs = "".join(f"<p>{s}</p>" for s in sentences)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{paragraphs}</article>"
        "<footer>Footer text</footer></body></html>"
    )


MINUTES = [
    "Minutes of the council meeting held on 3 March 2026 in the main chamber.",
    "Item four: the harbour bridge proposal was carried by seven votes to two.",
    "Councillor Petra Lindqvist asked that the ferry study be appended to the record.",
]
FERRY = [
    "The 2019 ferry study compared a passenger ferry with a fixed crossing.",
    "It estimated that a ferry service would cost about 20 million euros over twenty years.",
    "The study's authors recommended a public consultation before any decision.",
]

BROKEN_HTML = (
    "<html><head><title>Broken page</title><body><div><p>The lighthouse keeper retired after "
    "forty years of service on the northern cape, the harbour authority announced<p>Her "
    "successor, a former fisherman named Tomas Berg, takes over in May and says he has never "
    "seen a storm like the one of 1999.<div><b>unclosed <i>tags</b> everywhere</span>"
    "<p>Visitors can tour the lighthouse every Sunday afternoon from June until September."
)

LATIN1_TEXT = (
    "Le café du port à Zürich a rouvert ses portes après une rénovation complète. "
    "La propriétaire, Hélène Müller, dit que les habitués sont revenus dès le premier jour. "
    "Un espresso coûte désormais 4 € au comptoir, une hausse que personne ne conteste."
)


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    stream_bytes: int = 0  # send this many bytes of filler instead of ``body``
    # Seconds between bytes: the response is sent one byte at a time (a server that keeps every
    # read timeout from firing); the status line and headers too unless ``drip_body_only``.
    trickle: float = 0.0
    drip_body_only: bool = False
    # Validators: sent with the body; a request that matches one gets 304 Not Modified.
    etag: str = ""
    last_modified: str = ""

    def not_modified(self, request) -> bool:
        return bool(
            (self.etag and request.get("If-None-Match") == self.etag)
            or (self.last_modified and request.get("If-Modified-Since") == self.last_modified)
        )


class WebServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.sent: dict[str, int] = {}
        self.finished: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path
                server.requests.append((path, dict(self.headers.items())))
                route = server.routes.get(path.split("?")[0]) or Route(
                    404, {"Content-Type": "text/plain"}, b"not found"
                )
                if route.delay:
                    time.sleep(route.delay)
                if route.trickle:
                    self.close_connection = True
                    head = f"HTTP/1.1 {route.status} X\r\n" + "".join(
                        f"{key}: {value}\r\n" for key, value in route.headers.items()
                    )
                    raw = (head + "\r\n").encode()
                    try:
                        if route.drip_body_only:
                            self.wfile.write(raw)
                            raw = b""
                        for byte in raw + route.body:
                            self.wfile.write(bytes([byte]))
                            server.sent[path] = server.sent.get(path, 0) + 1
                            time.sleep(route.trickle)
                    except OSError:  # the client hung up
                        return
                    server.finished.add(path)
                    return
                try:
                    if route.not_modified(self.headers):
                        self.send_response(304)
                        self.end_headers()
                        return
                    self.send_response(route.status)
                    for key, value in route.headers.items():
                        self.send_header(key, value)
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    if route.last_modified:
                        self.send_header("Last-Modified", route.last_modified)
                    if not route.stream_bytes and "Content-Length" not in route.headers:
                        self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    if route.stream_bytes:
                        chunk = b"x" * 65536
                        while server.sent.get(path, 0) < route.stream_bytes:
                            self.wfile.write(chunk)
                            server.sent[path] = server.sent.get(path, 0) + len(chunk)
                    else:
                        self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def html(self, path: str, html: str, charset: str = "utf-8") -> None:
        self.routes[path] = Route(
            headers={"Content-Type": f"text/html; charset={charset}"}, body=html.encode(charset)
        )

    def add_pages(self) -> None:
        base = self.base
        self.html("/article", article_html(base))
        self.html("/minutes", linked_html("Council minutes, 3 March", MINUTES))
        self.html("/ferry-study", linked_html("The 2019 ferry study", FERRY))
        syndicated = article_html(base).replace("The Harbour Gazette", "Coastal Wire Syndicate")
        self.html("/syndicated/bridge", syndicated)
        self.routes["/redirect-private"] = Route(302, {"Location": "http://10.0.0.1/admin"})
        self.routes["/redirect-lan"] = Route(301, {"Location": "http://192.168.1.1/"})
        self.routes["/redirect-localhost"] = Route(
            302, {"Location": f"http://localhost:{self.port}/article"}
        )
        self.routes["/redirect-ok"] = Route(302, {"Location": "/article?utm_source=redirect"})
        for n in range(1, 8):
            self.routes[f"/hop/{n}"] = Route(302, {"Location": f"/hop/{n - 1}" if n > 1 else "/"})
        self.routes["/big"] = Route(
            headers={"Content-Type": "text/plain"}, stream_bytes=BIG_BYTES
        )  # no Content-Length: the cap must hold while streaming
        self.routes["/big-declared"] = Route(
            headers={"Content-Type": "text/plain", "Content-Length": str(BIG_BYTES)},
            stream_bytes=BIG_BYTES,
        )
        self.routes["/slow"] = Route(headers={"Content-Type": "text/plain"}, body=b"late", delay=2)
        self.routes["/sluggish"] = Route(
            headers={"Content-Type": "text/html"}, body=article_html(base).encode(), delay=0.4
        )
        self.routes["/report.pdf"] = Route(
            headers={"Content-Type": "application/pdf"}, body=b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        )
        self.routes["/image"] = Route(headers={"Content-Type": "image/png"}, body=b"\x89PNG\r\n")
        self.routes["/mislabelled"] = Route(
            headers={"Content-Type": "text/plain"}, body=b"GIF89a\x00\x01\x00\x00binary"
        )
        # Random bytes without a NUL, served as text: binary all the same.
        rng = random.Random(4)
        noise = bytes(rng.randrange(1, 256) for _ in range(4000))
        self.routes["/noise.txt"] = Route(headers={"Content-Type": "text/plain"}, body=noise)
        self.routes["/untyped.pdf"] = Route(body=b"%PDF-1.4 not text at all")
        self.routes["/broken"] = Route(
            headers={"Content-Type": "text/html"}, body=BROKEN_HTML.encode()
        )
        latin = f"<html><head><title>Café du port</title></head><body><article><p>{LATIN1_TEXT}</p>"
        latin += "</article></body></html>"
        self.routes["/latin1"] = Route(
            headers={"Content-Type": "text/html; charset=ISO-8859-1"},
            body=latin.encode("cp1252"),
        )
        meta = latin.replace("<head>", '<head><meta charset="iso-8859-1">')
        self.routes["/latin1-meta"] = Route(
            headers={"Content-Type": "text/html"}, body=meta.encode("cp1252")
        )
        self.routes["/notes.md"] = Route(
            headers={"Content-Type": "text/markdown; charset=utf-8"},
            body=(
                b"# Harbour notes\n\nThe ferry *Marit* made its last crossing in 2018.\n\n"
                b"Background: [the ferry study](/ferry-study) and [minutes](/minutes).\n"
            ),
        )
        self.routes["/plain.txt"] = Route(
            headers={"Content-Type": "text/plain"},
            body=b"Tide tables\n\nHigh water at 06:12 and 18:40 on Saturday.\n",
        )

    def __enter__(self) -> WebServer:
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def serve() -> Iterator[WebServer]:
    with WebServer() as server:
        server.add_pages()
        yield server
