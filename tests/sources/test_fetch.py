"""Fetching and extracting pages from a local server on 127.0.0.1 (opted in via allow_hosts)."""

from __future__ import annotations

import pytest
from web_server import ARTICLE_SENTENCES, BIG_BYTES, LATIN1_TEXT, serve

from bot.config import FetchSettings
from bot.sources.web.extract import extract
from bot.sources.web.fetch import CHUNK, Fetcher, FetchError, TooLarge
from bot.sources.web.urlguard import UrlGuard, UrlRefused

web = pytest.fixture(serve)
ALLOW_LOCAL = FetchSettings(allow_hosts=("127.0.0.1",), timeout_seconds=2.0)


@pytest.fixture
def fetcher() -> Fetcher:
    return Fetcher(ALLOW_LOCAL)


def test_article_text_metadata_and_links(web, fetcher):
    page = fetcher.fetch(web.url("/article"))
    content = extract(page)
    for sentence in ARTICLE_SENTENCES:
        assert sentence in content.text  # verbatim
    for boilerplate in (
        "Subscribe now",
        "ADVERTISEMENT",
        "Related stories",
        "Zookeeper",
        "Reader99",
    ):
        assert boilerplate not in content.text
    assert content.title == "Council approves harbour bridge"
    # One paragraph per block, separated by blank lines: passages never run across them.
    paragraphs = content.text.strip().split("\n\n")
    assert all("\n" not in p for p in paragraphs)
    assert paragraphs[0] == "Council approves harbour bridge"
    assert content.author == "Lena Fischer"
    assert content.date == "2026-03-04"
    assert content.sitename == "The Harbour Gazette"
    # Links from the article body only, absolute, fragment dropped; not nav or teasers.
    assert [(link.text, link.url) for link in content.links] == [
        ("published minutes", web.url("/minutes")),
        ("2019 ferry study", web.url("/ferry-study")),
        ("firm's profile", "https://example.org/halvorsen"),
    ]


def test_identifies_itself_and_asks_for_uncompressed_text(web, fetcher):
    fetcher.fetch(web.url("/plain.txt"))
    _path, headers = web.requests[-1]
    assert headers["User-Agent"].startswith("storybot/")
    assert headers["Accept-Encoding"] == "identity"


def test_without_allow_hosts_the_local_server_is_refused(web, connections):
    with pytest.raises(UrlRefused, match="loopback"):
        Fetcher(FetchSettings()).fetch(web.url("/article"))
    assert connections == []
    assert web.requests == []


@pytest.mark.parametrize(
    ("path", "target"),
    [("/redirect-private", "10.0.0.1"), ("/redirect-lan", "192.168.1.1")],
)
def test_redirect_to_a_private_address_is_refused_before_connecting(
    web, fetcher, connections, path, target
):
    with pytest.raises(UrlRefused, match="private address"):
        fetcher.fetch(web.url(path))
    assert [path for path, _ in web.requests] == [path]
    assert all(host == "127.0.0.1" for host, _port in connections)
    assert target not in {host for host, _port in connections}


def test_redirect_to_localhost_is_refused_even_with_127_0_0_1_allowed(web, fetcher):
    with pytest.raises(UrlRefused, match="localhost points to a loopback"):
        fetcher.fetch(web.url("/redirect-localhost"))


def test_redirects_are_followed_up_to_the_limit(web, fetcher):
    page = fetcher.fetch(web.url("/redirect-ok"))
    assert page.final_url == web.url("/article?utm_source=redirect")
    with pytest.raises(FetchError, match="redirects more than 5 times"):
        fetcher.fetch(web.url("/hop/6"))
    # Five redirects followed (hop 6 -> 1); hop 1's redirect, the sixth, is not.
    assert [path for path, _ in web.requests[2:]] == [f"/hop/{n}" for n in range(6, 0, -1)]


def test_a_10_mb_body_is_refused_at_the_cap_while_streaming(web, fetcher):
    with pytest.raises(TooLarge, match="larger than the 5 MB limit") as caught:
        fetcher.fetch(web.url("/big"))
    received = caught.value.received
    assert ALLOW_LOCAL.max_bytes < received <= ALLOW_LOCAL.max_bytes + 2 * CHUNK
    assert received < BIG_BYTES


def test_a_declared_10_mb_body_is_refused_before_reading_it(web, fetcher):
    with pytest.raises(TooLarge) as caught:
        fetcher.fetch(web.url("/big-declared"))
    assert caught.value.received == 0


def test_a_slow_server_times_out(web):
    quick = Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), timeout_seconds=0.5))
    with pytest.raises(FetchError, match="did not answer in time"):
        quick.fetch(web.url("/slow"))


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/report.pdf", "is application/pdf; only web pages"),
        ("/image", "is image/png"),
        ("/mislabelled", "is a binary file"),
        ("/noise.txt", "is a binary file"),
        ("/untyped.pdf", "looks like application/pdf"),
        ("/missing", "HTTP 404"),
    ],
)
def test_binary_and_missing_pages_are_refused(web, fetcher, path, message):
    with pytest.raises(FetchError, match=message):
        fetcher.fetch(web.url(path))


def test_broken_html_still_yields_its_text(web, fetcher):
    content = extract(fetcher.fetch(web.url("/broken")))
    assert "The lighthouse keeper retired after forty years" in content.text
    assert "takes over in May" in content.text
    assert "every Sunday afternoon" in content.text
    assert content.date == ""  # no year guessed from the text ("1999")


@pytest.mark.parametrize("path", ["/latin1", "/latin1-meta"])
def test_latin1_pages_are_decoded(web, fetcher, path):
    page = fetcher.fetch(web.url(path))
    content = extract(page)
    assert LATIN1_TEXT in content.text  # é, ü and the Windows-1252 euro sign
    assert content.title == "Café du port"


def test_plain_text_and_markdown_pass_through(web, fetcher):
    text = fetcher.fetch(web.url("/plain.txt"))
    assert extract(text).text == "Tide tables\n\nHigh water at 06:12 and 18:40 on Saturday.\n"
    notes = extract(fetcher.fetch(web.url("/notes.md")))
    assert notes.text.startswith("# Harbour notes\n\nThe ferry *Marit*")
    assert notes.title == "Harbour notes"
    assert [link.url for link in notes.links] == [web.url("/ferry-study"), web.url("/minutes")]


def test_dns_rebinding_finds_no_second_lookup(monkeypatch):
    """A name that resolves to a public address for the check, then to loopback: the name is
    looked up once per fetch and the checked address is the one dialled (no connection is
    really opened here: the dial is refused)."""
    import socket

    answers = iter([["93.184.215.14"], ["127.0.0.1"]])
    guard = UrlGuard(resolver=lambda host, port: next(answers))
    dialled = []

    def refuse(address, *args, **kwargs):
        dialled.append(address)
        raise ConnectionRefusedError("not dialled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(FetchError):
        Fetcher(FetchSettings(), guard).fetch("http://rebind.test/")
    assert dialled == [("93.184.215.14", 80)]
    assert next(answers) == ["127.0.0.1"]  # never asked for


def test_the_connection_goes_to_the_checked_address(web, connections):
    """The name is resolved once per connection by the guard, and that address is dialled."""
    guard = UrlGuard(allow_hosts=["storybot-test.invalid"], resolver=lambda h, p: ["127.0.0.1"])
    page = Fetcher(FetchSettings(), guard).fetch(
        f"http://storybot-test.invalid:{web.port}/plain.txt"
    )
    assert page.text.startswith("Tide tables")
    assert connections == [("127.0.0.1", web.port)]
    assert web.requests[-1][1]["Host"] == f"storybot-test.invalid:{web.port}"
