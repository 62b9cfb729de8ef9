"""A fetched feed made safe and small before feedparser reads it.

feedparser expands the entities a feed's own DTD declares: when expat's amplification limit
trips it falls back to its loose parser, which expands them without any limit (a 1.25 MB feed
grew the bot by 1.4 GB). It also parses every entry before we could keep the newest few (a
valid feed of 90,000 entries: 30 s of CPU per poll). So the bytes go through lxml first, which
loads no DTD, resolves no entity, fetches nothing and bounds depth (256) and text node size:

- the DOCTYPE (and with it any internal subset) is dropped, and every entity reference is
  replaced by the character an HTML entity of that name stands for, or by nothing;
- malformed XML is read as far as it goes (bare ``&`` first escaped, as a browser would);
- each text is cut at ``MAX_TEXT`` characters, and so is each part of an entry (its title,
  summary, content...: a part's texts together), an entry keeps at most ``MAX_SAME_PARTS``
  parts of one name and ``MAX_ENTRY_TEXT`` characters in all (the poller reads 300 of a title
  and 1,000 of a summary), an entry of more than ``MAX_ENTRY_ELEMENTS`` elements is dropped,
  and a document of more than ``MAX_ELEMENTS`` outside its entries is refused;
- only the ``limit`` newest entries (by their date; undated feeds: the first ones) are kept.

feedparser then reads the result re-serialised as UTF-8, with no DOCTYPE, so its work is
bounded by ``limit`` entries whatever the feed is.
"""

from __future__ import annotations

import html.entities
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from lxml import etree

# Characters kept of any one text of the feed (titles are cut at 300, summaries at 1,000).
MAX_TEXT = 20_000
# Elements one entry may hold (a normal one has under 30; XHTML content a few hundred).
MAX_ENTRY_ELEMENTS = 2_000
# Parts of one name an entry keeps (links, categories, enclosures repeat; a handful is enough).
MAX_SAME_PARTS = 10
# Characters of text one entry keeps in all (feedparser's sanitizer costs ~1 s per MB).
MAX_ENTRY_TEXT = 60_000
# Elements of the document outside its entries (a normal channel has under 50).
MAX_ELEMENTS = 10_000
ENTRY_NAMES = frozenset({"item", "entry"})  # RSS 0.9x/1.0/2.0 items, Atom entries
DATE_NAMES = ("pubDate", "published", "updated", "date", "issued", "modified")
_BARE_AMPERSAND = re.compile(rb"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")
_EPOCH = datetime.min.replace(tzinfo=UTC)


class UnsafeFeed(ValueError):
    """The body cannot be read as a feed within the bounds (the message says why)."""


@dataclass(frozen=True)
class SafeFeed:
    data: bytes  # UTF-8 XML, no DOCTYPE, no entity references
    entries: int  # entries the feed listed
    kept: int  # of them, kept (the newest ``limit``, minus any too big)
    warning: str = ""  # malformed XML read anyway, entries dropped


def make_safe(data: bytes, limit: int) -> SafeFeed:
    """``data`` (UTF-8 XML) as a bounded document feedparser can read without harm."""
    root, warning = _parse(data)
    entries = [e for e in root.iter(etree.Element) if _local(e) in ENTRY_NAMES]
    outer = [e for e in entries if not any(_local(a) in ENTRY_NAMES for a in e.iterancestors())]
    total = len(outer)
    too_big = 0
    for entry in outer:
        if _count(entry, MAX_ENTRY_ELEMENTS + 1) > MAX_ENTRY_ELEMENTS:
            too_big += 1
            _drop(entry)
    kept = [e for e in outer if e.getparent() is not None]
    for entry in _oldest_beyond(kept, limit):
        _drop(entry)
    remaining = [e for e in kept if e.getparent() is not None]
    inside = sum(_count(e, MAX_ENTRY_ELEMENTS) for e in remaining)
    if _count(root, MAX_ELEMENTS + inside + 1) - inside > MAX_ELEMENTS:
        raise UnsafeFeed(f"over {MAX_ELEMENTS:,} elements outside its entries")
    _clean(root)
    for entry in remaining:
        _bound_entry(entry)
    if too_big:
        what = "entry" if too_big == 1 else "entries"
        note = f"{too_big} {what} of over {MAX_ENTRY_ELEMENTS:,} elements left out"
        warning = f"{warning}; {note}" if warning else note
    body = etree.tostring(root, encoding="utf-8", xml_declaration=True)
    return SafeFeed(body, total, len(remaining), warning)


def _parse(data: bytes) -> tuple[etree._Element, str]:
    options = dict(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_pis=True,
        remove_comments=True,
        encoding="utf-8",
    )
    try:
        return etree.fromstring(data, etree.XMLParser(**options)), ""
    except etree.XMLSyntaxError as exc:
        problem = str(exc)
    parser = etree.XMLParser(recover=True, **options)
    try:
        root = etree.fromstring(_BARE_AMPERSAND.sub(b"&amp;", data), parser)
    except etree.XMLSyntaxError as exc:
        raise UnsafeFeed(str(exc)) from exc
    if root is None:
        raise UnsafeFeed(problem)
    return root, f"malformed feed, read anyway: {problem}"


def _local(element: etree._Element) -> str:
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _count(element: etree._Element, stop: int) -> int:
    """Elements in ``element`` (itself included), counting no further than ``stop``."""
    n = 0
    for n, _ in enumerate(element.iter(), 1):
        if n >= stop:
            break
    return n


def _drop(element: etree._Element) -> None:
    """Remove ``element`` but keep the text after it (its tail) in place."""
    parent = element.getparent()
    if parent is None:
        return
    element.tail = None
    parent.remove(element)


def _oldest_beyond(entries: list[etree._Element], limit: int) -> list[etree._Element]:
    """The entries beyond the ``limit`` newest (by date; undated entries count as oldest, in
    document order; with no dates at all, document order: feeds list the newest first)."""
    if len(entries) <= limit:
        return []
    dates = [_date(e) for e in entries]
    if not any(dates):
        return entries[max(limit, 0) :]
    order = sorted(range(len(entries)), key=lambda i: (dates[i] or _EPOCH, -i), reverse=True)
    return [entries[i] for i in order[max(limit, 0) :]]


def _date(entry: etree._Element) -> datetime | None:
    for child in entry:
        if _local(child) in DATE_NAMES and child.text:
            text = child.text.strip()
            try:
                when = datetime.fromisoformat(text)
            except ValueError:
                try:
                    when = parsedate_to_datetime(text)
                except (TypeError, ValueError, IndexError):
                    continue
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def _clean(root: etree._Element) -> None:
    """Entity references replaced (an HTML entity's character, else nothing), texts cut."""
    for node in list(root.iter(etree.Entity)):
        name = node.name if isinstance(node.name, str) else ""
        _replace(node, html.entities.html5.get(f"{name};", ""))
    for element in root.iter():
        if element.text and len(element.text) > MAX_TEXT:
            element.text = element.text[:MAX_TEXT]
        if element.tail and len(element.tail) > MAX_TEXT:
            element.tail = element.tail[:MAX_TEXT]


def _bound_entry(entry: etree._Element) -> None:
    """At most MAX_SAME_PARTS parts of one name, MAX_TEXT characters per part and
    MAX_ENTRY_TEXT in the entry (in document order; what is past a budget is emptied)."""
    seen: dict[object, int] = {}
    left = MAX_ENTRY_TEXT
    for part in list(entry):
        seen[part.tag] = seen.get(part.tag, 0) + 1
        if seen[part.tag] > MAX_SAME_PARTS:
            _drop(part)
            continue
        budget = min(MAX_TEXT, left)
        for element in part.iter():
            for name in ("text", "tail") if element is not part else ("text",):
                value = getattr(element, name)
                if value:
                    kept = value[: max(budget, 0)]
                    budget -= len(kept)
                    setattr(element, name, kept or None)
        left -= min(MAX_TEXT, left) - max(budget, 0)


def _replace(node: etree._Element, text: str) -> None:
    """Swap an entity reference node for ``text`` (joined to the text around it)."""
    parent = node.getparent()
    if parent is None:
        return
    text += node.tail or ""
    previous = node.getprevious()
    if previous is None:
        parent.text = (parent.text or "") + text
    else:
        previous.tail = (previous.tail or "") + text
    parent.remove(node)
