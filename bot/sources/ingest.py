"""Extracted content -> a stored source: fetch, extract, refuse duplicates, store; follow links.

``StoryBot`` (the engine) owns one :class:`Ingestor` and is its :class:`Library`: the ingestor
only needs the current sources and a way to store one, so nothing here imports the engine.
:meth:`Ingestor.add_url` is a coroutine: the slow steps (download, extraction, re-indexing) run
in the ingestor's own small thread pool (``INGEST_WORKERS`` threads), never in the event loop's
default pool, which answers questions (``asyncio.to_thread``): however many slow adds are
going on, a question never waits behind one. A ``progress`` callback (plain function or
coroutine) hears about every step, e.g. to move a progress bar or edit a Discord message.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypedDict
from urllib.parse import urlsplit

from bot.sources.corpus import CorpusError, Link, Source, publication_date
from bot.sources.decoding import DocumentError
from bot.sources.relevance import mask
from bot.sources.uploads import upload_content
from bot.sources.urls import clean_url, is_http_url, normalize_url
from bot.sources.web.extract import Extracted, ExtractError, extract
from bot.sources.web.fetch import Fetcher, FetchError
from bot.sources.web.urlguard import UrlRefused, url_host

if TYPE_CHECKING:
    from bot.sources.relevance import Relevance

# Near-duplicate text: share of common 5-word shingles (Jaccard), or how much of the smaller
# text is inside the larger (containment; a syndicated copy with extra boilerplate).
SHINGLE_WORDS = 5
NEAR_DUPLICATE_JACCARD = 0.5
NEAR_DUPLICATE_CONTAINMENT = 0.8
MIN_SHINGLES = 10
# When following links, links that fail are skipped; give up after this many attempts per page.
FOLLOW_ATTEMPTS_PER_PAGE = 3
# A link text this long names its page (a headline): its words are left out when the page it
# names is judged (``without_link_words``).
MENTION_WORDS = 3
# Characters of a followed page's text its relevance is judged on (as for feed items).
SCORED_CHARS = 2000
# Adds run at most this many at a time (each is bounded by the fetch deadline); more wait.
INGEST_WORKERS = 2
# Fewer words than this is not an article (an error page, a cookie wall, a failed extraction):
# refused unless forced. A short news brief has 50 or more.
MIN_WORDS = 30

log = logging.getLogger(__name__)

# What adding can raise: each a message fit for the moderator.
ERRORS = (FetchError, UrlRefused, ExtractError, CorpusError, DocumentError)
_WORD = re.compile(r"\w+")


class DuplicateUrl(CorpusError):
    def __init__(self, url: str, source_id: str) -> None:
        super().__init__(f"{url} is already in the corpus as {source_id!r}")
        self.source_id = source_id


class OffTopic(CorpusError):
    """A followed link whose page is not about the story (the feed items' relevance rule)."""


class JunkSource(CorpusError):
    """Text not worth storing: empty or near-empty, or exactly an existing source's text.
    ``force`` (``--force`` on the command line) stores it anyway."""


def junk_problem(text: str, sources: list[Source]) -> str | None:
    """Why ``text`` should not become a source, or None if it may."""
    for source in sources:
        if source.text.strip() == text.strip():
            return f"the text is exactly that of source {source.id!r} ({source.title})"
    words = len(_WORD.findall(text))
    if words < MIN_WORDS:
        return (
            f"the text has {words} word(s) ({len(text.strip())} characters); a source needs "
            f"at least {MIN_WORDS}, so this looks like an empty page or a failed extraction"
        )
    return None


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # "fetch", "store", "added", "skipped", "done"
    url: str
    done: int  # pages added so far (the first page counts)
    total: int  # pages wanted: 1 + follow
    message: str


@dataclass(frozen=True)
class Added:
    source: Source
    near_duplicate: tuple[str, float] | None = None  # (source id, similarity)


@dataclass
class IngestReport:
    added: list[Added] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


Progress = Callable[[ProgressEvent], Awaitable[None] | None]


class AddUrlOptions(TypedDict, total=False):
    """``Ingestor.add_url``'s keywords, for the layers that pass them on (Curation, StoryBot)."""

    title: str | None
    added_by: str
    kind: str
    follow: int
    progress: Progress | None
    force: bool
    publisher: str
    published: str
    detail: str
    extra: dict | None


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[int]:
    words = _WORD.findall(text.lower())
    return frozenset(hash(" ".join(words[i : i + size])) for i in range(len(words) - size + 1))


def similarity(a: frozenset[int], b: frozenset[int]) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the larger)."""
    if not a or not b:
        return 0.0, 0.0
    common = len(a & b)
    return common / len(a | b), common / min(len(a), len(b))


class Library(Protocol):
    """Where sources are kept: the engine (``bot.engine.StoryBot``)."""

    @property
    def sources(self) -> list[Source]: ...

    def add_source(self, text: str, title: str, **fields) -> Source: ...


class Ingestor:
    def __init__(
        self, library: Library, fetcher: Fetcher, relevance: Relevance | None = None
    ) -> None:
        """``relevance``: the rule followed links must pass (feed items pass the same one);
        None follows every link."""
        self.library = library
        self.fetcher = fetcher
        self.relevance = relevance
        self._shingles: dict[tuple[str, int], frozenset[int]] = {}
        # Threads start on first use and end when idle ones are collected with the ingestor.
        self._pool = ThreadPoolExecutor(INGEST_WORKERS, thread_name_prefix="storybot-ingest")

    async def _in_pool(self, function: Callable[..., Added], *args, **kwargs) -> Added:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(function, *args, **kwargs))

    # -- queries -------------------------------------------------------------------------------

    def find_url(self, url: str) -> Source | None:
        """The source stored under this URL (normalized), if any."""
        return source_with_url(self.library.sources, url)

    def links(self, source_id: str) -> list[tuple[Link, str | None]]:
        """A source's links, each with the id of the source it already is in the corpus."""
        source = next((s for s in self.library.sources if s.id == source_id), None)
        if source is None:
            raise CorpusError(f"no source with id {source_id!r}")
        return [(link, getattr(self.find_url(link.url), "id", None)) for link in source.links]

    def near_duplicate(self, text: str) -> tuple[str, float] | None:
        """The existing source whose text this nearly repeats, with the similarity."""
        mine = shingles(text)
        if len(mine) < MIN_SHINGLES:
            return None
        best: tuple[str, float] | None = None
        for source in self.library.sources:
            key = (source.id, hash(source.text))
            if key not in self._shingles:
                self._shingles[key] = shingles(source.text)
            jaccard, containment = similarity(mine, self._shingles[key])
            if jaccard >= NEAR_DUPLICATE_JACCARD or containment >= NEAR_DUPLICATE_CONTAINMENT:
                score = max(jaccard, containment)
                if best is None or score > best[1]:
                    best = (source.id, round(score, 3))
        return best

    # -- adding --------------------------------------------------------------------------------

    def add_url_sync(
        self,
        url: str,
        *,
        title: str | None = None,
        added_by: str = "",
        kind: str = "source",
        extra: dict | None = None,
        force: bool = False,
        on_topic: bool = False,
        link_text: str = "",
        publisher: str = "",
        published: str = "",
        detail: str = "",
    ) -> Added:
        """Fetch, extract and store one page (blocking). Raises one of ``ERRORS``;
        ``on_topic``: OffTopic unless the page passes the relevance rule (followed links:
        judged without the words of ``link_text``, see ``without_link_words``)."""
        url = url.strip()
        url_host(url)  # a clear refusal for ftp:, file:, garbage, before anything else
        existing = self.find_url(url)
        if existing is not None:
            raise DuplicateUrl(url, existing.id)
        page = self.fetcher.fetch(url)
        content = extract(page)
        if on_topic and self.relevance is not None:
            judged = f"{content.title}\n{content.text[:SCORED_CHARS]}"
            verdict = self.relevance(without_link_words(judged, link_text))
            if not verdict.relevant:
                raise OffTopic(f"not about the story: {verdict.reason}")
        return self.store(
            content,
            clean_url(page.final_url),
            title,
            added_by,
            kind,
            extra,
            force=force,
            publisher=publisher,
            published=published,
            detail=detail,
        )

    def add_document(
        self,
        filename: str,
        data: bytes,
        *,
        title: str | None = None,
        url: str = "",
        publisher: str = "",
        published: str = "",
        added_by: str = "",
        kind: str = "source",
        force: bool = False,
    ) -> Added:
        """Store a document a moderator hands in (a .txt, .md or .html file's name and bytes):
        the same checks as a fetched page, then the same duplicate refusal. Blocking.
        Without ``title``, a .md or .html document's own heading or title is used."""
        url = url.strip()
        if url and not is_http_url(url):
            raise DocumentError("the url must be an http:// or https:// address")
        try:
            published = publication_date(published)
        except ValueError as exc:
            raise DocumentError(str(exc)) from exc
        url = clean_url(url) if url else ""
        content = upload_content(filename, data, url)
        if not (title or "").strip() and not content.title:
            given = "the title given is blank, and it" if title else "it"
            raise DocumentError(
                f"{filename}: {given} has no heading or title of its own; give a title"
            )
        return self.store(
            content,
            url,
            title,
            added_by,
            kind=kind,
            publisher=publisher,
            published=published,
            force=force,
        )

    def store(
        self,
        content: Extracted,
        url: str,
        title: str | None = None,
        added_by: str = "",
        kind: str = "source",
        extra: dict | None = None,
        *,
        publisher: str = "",
        published: str = "",
        force: bool = False,
        detail: str = "",
    ) -> Added:
        """Store extracted content as a new source unless its URL is already there, or (unless
        ``force``) its text is empty, near-empty or exactly an existing source's.

        ``publisher`` and ``published``, when given (e.g. by a moderator uploading a file, or
        a feed's date for its item), override what the page declares; ``detail`` leads the
        audit row's detail (e.g. "from feed 3, candidate 12")."""

        def refuse_duplicate(sources: list[Source]) -> None:
            existing = source_with_url(sources, url)
            if existing is not None:
                raise DuplicateUrl(url, existing.id)
            problem = None if force else junk_problem(content.text, sources)
            if problem:
                raise JunkSource(problem)

        twin = self.near_duplicate(content.text)
        fields = dict(extra or {})
        if content.author:
            fields["author"] = content.author
        if twin:
            fields["near_duplicate_of"] = twin[0]
        notes = [f"{k}={v}" for k, v in fields.items() if k in ("near_duplicate_of", "linked_from")]
        notes = [detail, *notes] if detail else notes
        source = self.library.add_source(
            content.text,
            (title or "").strip() or content.title or _title_from_url(url),
            publisher=publisher.strip() or content.sitename or urlsplit(url).hostname or "",
            url=url,
            published=published.strip() or content.date,
            added_by=added_by,
            kind=kind,
            links=content.links,
            extra=fields,
            detail="; ".join(notes),
            check=refuse_duplicate,
        )
        return Added(source, twin)

    async def add_url(
        self,
        url: str,
        *,
        title: str | None = None,
        added_by: str = "",
        kind: str = "source",
        follow: int = 0,
        progress: Progress | None = None,
        force: bool = False,
        publisher: str = "",
        published: str = "",
        detail: str = "",
        extra: dict | None = None,
    ) -> IngestReport:
        """Add ``url``, then up to ``follow`` pages it links to that are not in the corpus yet.
        ``publisher``, ``published``, ``detail`` and ``extra`` are the first page's (``store``:
        given, they override what the page declares).

        The first page's failure raises (one of ``ERRORS``); a followed link that fails, for
        whatever reason (``OffTopic`` included: followed pages must pass the relevance rule
        feed items pass, the moderator's own page need not), is reported in
        ``IngestReport.skipped`` with the reason and the next link is tried:
        what was stored is always reported. ``force`` stores the first page even if its text
        looks like junk (never the followed ones).
        """
        total = 1 + max(0, follow)
        report = IngestReport()

        async def emit(stage: str, where: str, message: str) -> None:
            if progress is not None:
                result = progress(ProgressEvent(stage, where, len(report.added), total, message))
                if inspect.isawaitable(result):
                    await result

        await emit("fetch", url, f"Fetching {url}")
        first = await self._in_pool(
            self.add_url_sync,
            url,
            title=title,
            added_by=added_by,
            kind=kind,
            force=force,
            publisher=publisher,
            published=published,
            detail=detail,
            extra=extra,
        )
        report.added.append(first)
        await emit("added", first.source.url, f"Added {first.source.id}")
        if follow > 0:
            candidates = [
                link for link, in_corpus in self.links(first.source.id) if in_corpus is None
            ]
            attempts = 0
            for link in candidates:
                if len(report.added) >= total or attempts >= FOLLOW_ATTEMPTS_PER_PAGE * follow:
                    break
                attempts += 1
                await emit("fetch", link.url, f"Fetching {link.url}")
                try:
                    added = await self._in_pool(
                        self.add_url_sync,
                        link.url,
                        added_by=added_by,
                        extra={"linked_from": first.source.id},
                        on_topic=True,
                        link_text=link.text,
                    )
                except Exception as exc:  # one bad link must not hide what was stored
                    if isinstance(exc, ERRORS):
                        reason = str(exc)
                    else:
                        log.exception("following %s failed", link.url)
                        reason = f"could not be added ({type(exc).__name__})"
                    report.skipped.append((link.url, reason))
                    await emit("skipped", link.url, reason)
                    continue
                report.added.append(added)
                await emit("added", added.source.url, f"Added {added.source.id}")
        await emit("done", url, f"Added {len(report.added)} source(s)")
        return report


def without_link_words(text: str, link_text: str) -> str:
    """A followed page's text without the words of the link that named it, when that link
    text is a headline (MENTION_WORDS words or more): the linking page's own sentence naming
    it ("our food desk published the ten best pizza places in Naples") is in the corpus, so
    those words would make any page it links to look like the story."""
    words = _WORD.findall(link_text)
    if len(words) < MENTION_WORDS:
        return text  # "minutes", "this", "here": no headline
    return mask(text, frozenset(w.lower() for w in words))


def source_with_url(sources: list[Source], url: str) -> Source | None:
    """The source of ``sources`` stored under ``url`` (normalized), if any."""
    wanted = normalize_url(url)
    for source in sources:
        try:
            if source.url and normalize_url(source.url) == wanted:
                return source
        except ValueError:  # a hand-written url field that is not a URL
            continue
    return None


def _title_from_url(url: str) -> str:
    parts = urlsplit(url)
    last = [p for p in parts.path.split("/") if p]
    return (last[-1] if last else parts.hostname or url).replace("-", " ").replace("_", " ")
