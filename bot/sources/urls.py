"""Source URLs: which ones are http(s) links, and the one form they are stored and compared in.

Every check of "is this an http(s) link" in storybot is :func:`is_http_url`; the SSRF guard
(``web.urlguard``) then decides whether the host may be fetched.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HTTP_SCHEMES = ("http", "https")
# Query parameters that only track who clicked where; they never change the page.
TRACKING_PARAMS = frozenset(
    "fbclid gclid gclsrc dclid gbraid wbraid msclkid yclid twclid igshid mc_cid mc_eid _ga _gl "
    "_hsenc _hsmi mkt_tok oly_anon_id oly_enc_id vero_id cmpid ocid smid ref_src ref_url".split()
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host and no whitespace."""
    if not url or any(ch.isspace() for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in HTTP_SCHEMES and bool(parts.netloc)


def clean_url(url: str) -> str:
    """The URL to store: fragment and tracking parameters removed, scheme and host lowercase."""
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
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def normalize_url(url: str) -> str:
    """The URL for comparisons: ``clean_url`` with sorted query parameters."""
    parts = urlsplit(clean_url(url))
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit(parts._replace(query=query))
