"""URL rules (bot/sources/urls.py): the safe form every stored URL and every shown link takes."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sources.urls import clean_url, is_http_url, link_target, normalize_url, safe_url

# What Discord markdown or the <...> wrapper read as syntax, and what a URL may not hold.
SPECIAL = set('()[]<> "`|\\^{}')


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        (
            "http://host/a)[Free_Nitro](https://evil.example/phish",
            "http://host/a%29%5BFree_Nitro%5D%28https://evil.example/phish",
        ),
        ("https://x.example/a>b<c", "https://x.example/a%3Eb%3Cc"),
        (
            "https://en.wikipedia.org/wiki/Cuties_(film)",
            "https://en.wikipedia.org/wiki/Cuties_%28film%29",
        ),
        ("https://x.example/caf\u00e9?q=[1]", "https://x.example/caf%C3%A9?q=%5B1%5D"),
        ("https://x.example/100%/%41", "https://x.example/100%25/%41"),
        ("http://[::1]:8080/a(b)", "http://[::1]:8080/a%28b%29"),
    ],
)
def test_safe_url_percent_encodes_markdown_and_wrapper_syntax(url, safe):
    assert safe_url(url) == safe
    assert safe_url(safe) == safe


def test_stored_urls_are_safe_and_compare_equal_to_their_raw_form():
    raw = "HTTPS://News.Example/story)(x)?utm_source=t&id=[2]"
    assert clean_url(raw) == "https://news.example/story%29%28x%29?id=%5B2%5D"
    assert normalize_url(raw) == normalize_url(clean_url(raw))


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://x/y", "http://", "not a url", ""])
def test_only_http_urls_become_links(url):
    assert link_target(url) is None


URLISH = st.text(
    alphabet=st.sampled_from(list('abc/.:?&=#%41()[]<> "`|\\^{}*_~-é\u202e\x07')), max_size=40
)


@given(host=st.sampled_from(["h.example", "H.Example:8080", "[::1]"]), rest=URLISH)
def test_a_link_never_carries_markdown_and_points_where_the_url_did(host, rest):
    url = f"https://{host}/{rest}"
    target = link_target(url)
    if not is_http_url(url):
        assert target is None
        return
    assert target is not None
    assert not SPECIAL & set(target.split("://", 1)[1].replace("[::1]", ""))
    assert target.isascii() and target.isprintable()
    assert link_target(target) == target
    for before, after in zip(urlsplit(url)[1:], urlsplit(target)[1:], strict=True):
        assert unquote(after) == unquote(before)
