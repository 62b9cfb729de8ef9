"""Changing a story's sources: add (a URL, a document, a text), remove, restore, and the audit
log of who did what. Every change holds the story's write lock and the corpus lock (shared
with other processes), is recorded pending-then-done in the audit log, and ends with the new
index swapped in. The ingestor sees this class as its ``Library``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Unpack

from bot.clock import now_iso
from bot.insights.audit import AuditEntry
from bot.sources.corpus import CorpusError, Link, Source, is_iso_date
from bot.sources.decoding import one_line, visible
from bot.sources.ingest import Added, AddUrlOptions, Ingestor, IngestReport, source_with_url
from bot.sources.relevance import Relevance
from bot.sources.urls import link_target
from bot.stories.asking import Asking
from bot.stories.story import Story


class Curation:
    def __init__(self, story: Story, asking: Asking) -> None:
        self.story = story
        self.asking = asking

    @cached_property
    def ingestor(self) -> Ingestor:
        """Followed links pass the feed items' relevance rule (judging one loads the index)."""
        relevance = Relevance(self.asking.match, self.story.config.feeds, self.asking.story_names)
        return Ingestor(self, self.story.shared.fetcher, relevance)

    @property
    def sources(self) -> list[Source]:  # the ingestor's Library
        return self.story.sources

    def links(self, source_id: str) -> list[tuple[Link, str | None]]:
        """A source's links, each with the id of the source it already is in the corpus."""
        return self.ingestor.links(source_id)

    def audit_entries(self, source_id: str | None = None, limit: int = 50) -> list[AuditEntry]:
        """Who added, removed or restored what, newest first."""
        return self.story.audit.entries(source_id, limit)

    async def add_url(self, url: str, **options: Unpack[AddUrlOptions]) -> IngestReport:
        """Fetch and store ``url`` (and up to ``follow`` pages it links to); ``progress`` hears
        about every step. The first page's failure raises one of ``bot.sources.ingest.ERRORS``;
        ``force`` stores it even if its text is near-empty or exactly another source's.
        ``publisher`` and ``published`` override the page's, ``detail`` leads its audit row's
        detail, ``extra`` adds header fields (provenance)."""
        return await self.ingestor.add_url(url, **options)

    def add_file(self, filename: str, data: bytes, **fields) -> Added:
        return self.ingestor.add_document(filename, data, **fields)

    def add_source(
        self,
        text: str,
        title: str,
        *,
        publisher: str = "",
        url: str = "",
        published: str = "",
        added_by: str = "",
        kind: str = "source",
        source_id: str | None = None,
        links: Sequence[Link] = (),
        extra: dict | None = None,
        detail: str = "",
        check: Callable[[list[Source]], None] | None = None,
    ) -> Source:
        """Store a new source and make it answerable; returns what was stored.

        ``extra`` holds further header fields (e.g. ``author``); ``detail`` goes to the audit log.
        ``check(sources)`` runs under the write lock with the current sources and may raise to
        refuse the add (e.g. a duplicate URL), so two concurrent adds cannot both pass it.
        """
        title, publisher, added_by = one_line(title), one_line(publisher), one_line(added_by)
        if not visible(title):
            raise CorpusError("a source needs a title (with visible characters)")
        if not text.strip():
            raise CorpusError("the source has no text")
        if published and not is_iso_date(published):
            raise CorpusError(
                f"published must be a date such as 2020-09-10, got {published[:40]!r}"
            )
        story = self.story
        with story.write_lock:
            with story.corpus_locked():
                # Checks (duplicate URL, near-duplicate text) must see what other processes
                # added; holding the corpus lock, nothing can be added between check and store.
                if story.changed_on_disk():
                    story.reload_locked()
                if check is not None:
                    check(list(story.source_map().values()))
                source = Source(
                    id=source_id or story.corpus.new_id(title),
                    title=title.strip(),
                    text=text,
                    kind=kind,
                    publisher=publisher.strip(),
                    url=link_target(url.strip()) or url.strip(),  # stored safe
                    published=published,
                    added_by=added_by,
                    added_at=now_iso(),
                    links=tuple(links),
                    extra=dict(extra or {}),
                )
                target = story.corpus.path_for(source.id).name
                with story.audited(added_by, "add", source, target, detail):
                    story.corpus.write(source)
            story.reload_locked()
        return source

    def remove_source(self, source_id: str, *, removed_by: str = "") -> Source:
        """Move a source to the corpus trash (``restore_source`` brings it back).

        ``source_id`` may also name a corpus file that does not load (as a load error shows
        it, e.g. ``notes.txt``): it is moved to the trash all the same."""
        story = self.story
        story.corpus.find(source_id)  # an unknown id is refused before anything is touched
        with story.write_lock:
            with story.corpus_locked():
                path, source = story.corpus.find(source_id)
                detail = "" if source.text else "the file did not load"
                with story.audited(removed_by, "remove", source, path.name, detail):
                    story.corpus.move_to_trash(path)
            story.reload_locked(warm=False)
        return source

    def restore_source(self, source_id: str, *, restored_by: str = "") -> Source:
        story = self.story
        story.corpus.restorable(source_id)  # refused before anything is touched
        with story.write_lock:
            with story.corpus_locked():
                _, source = story.corpus.restorable(source_id)
                if source.url:  # the rule adds follow: one source per URL
                    if story.changed_on_disk():
                        story.reload_locked()
                    taken = source_with_url(list(story.source_map().values()), source.url)
                    if taken is not None:
                        raise CorpusError(
                            f"{source.url} is in the corpus again, as {taken.id!r}: remove that "
                            f"one first to restore {source_id!r}"
                        )
                target = story.corpus.path_for(source_id).name
                detail = "" if source.text else "the file did not load"
                with story.audited(restored_by, "restore", source, target, detail):
                    source = story.corpus.restore(source_id)
            story.reload_locked(warm=False)
        return source
