"""Source URLs: which ones are http(s) links, the one form they are stored and compared in, and
the one form every link is shown in.

Every check of "is this an http(s) link" in storybot is :func:`is_http_url`; the SSRF guard
(``web.urlguard``) then decides whether the host may be fetched. Every URL stored
(:func:`clean_url`, a source's links) and every link shown (:func:`link_target`) is *safe*
(:func:`safe_url`): characters that Discord markdown or the ``<...>`` wrapper read as syntax
are percent-encoded, so a URL can never close a masked link and open another.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

HTTP_SCHEMES = ("http", "https")
# Query parameters that only track who clicked where; they never change the page.
TRACKING_PARAMS = frozenset(
    "fbclid gclid gclsrc dclid gbraid wbraid msclkid yclid twclid igshid mc_cid mc_eid _ga _gl "
    "_hsenc _hsmi mkt_tok oly_anon_id oly_enc_id vero_id cmpid ocid smid ref_src ref_url".split()
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
# Left as they are besides letters, digits and "-._~": RFC 3986's reserved characters except
# ( ) [ ], which Discord reads as markdown (a masked link [text](url) ends at the first ")"),
# and "%" of escapes. Everything else (space, < > " ` | \ ^ { }, controls, non-ASCII) is
# percent-encoded: the same address to a web server, inert in markdown.
_URL_SAFE = "!#$%&'*+,/:;=?@"
_IPV6_NETLOC = re.compile(r"\[[0-9A-Fa-f:.]+\](:[0-9]*)?")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace."""
    if not url or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in HTTP_SCHEMES and bool(parts.netloc)


def safe_url(url: str) -> str:
    """``url`` with every character percent-encoded that a URL may not hold as such or that
    Discord markdown or the ``<...>`` wrapper treat specially; idempotent. ValueError if it
    cannot be parsed at all (a broken IPv6 literal)."""
    parts = urlsplit(url)
    netloc = parts.netloc if _IPV6_NETLOC.fullmatch(parts.netloc) else _quote(parts.netloc)
    return urlunsplit(
        (parts.scheme, netloc, _quote(parts.path), _quote(parts.query), _quote(parts.fragment))
    )


def _quote(part: str) -> str:
    return quote(_STRAY_PERCENT.sub("%25", part), safe=_URL_SAFE)


def link_target(url: str) -> str | None:
    """The address to put in a link: ``url`` made safe if it is an http(s) URL, else None.
    Every link storybot shows is built from this."""
    if not is_http_url(url):
        return None
    try:
        return safe_url(url)
    except ValueError:
        return None


def clean_url(url: str) -> str:
    """The URL to store: fragment and tracking parameters removed, scheme and host lowercase,
    made safe (:func:`safe_url`)."""
    parts = urlsplit(url.strip())
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(TRACKING_PREFIXES)
    ]
    netloc = parts.netloc.lower()
    scheme = parts.scheme.lower()
    for default in ((":80", "http"), (":443", "https")):
        if netloc.endswith(default[0]) and scheme == default[1]:
            netloc = netloc[: -len(default[0])]
    return safe_url(urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), "")))


def normalize_url(url: str) -> str:
    """The URL for comparisons: ``clean_url`` with sorted query parameters."""
    parts = urlsplit(clean_url(url))
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit(parts._replace(query=query))
