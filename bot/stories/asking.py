"""Asking a story: questions (and recording them), how well a text matches it, the moderators'
figures, what is new, and announcements of new sources with the questions they now answer."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.insights.announcements import Announcement, answered_by
from bot.insights.questionlog import Gap, Stats, newly_answered
from bot.sources.corpus import CorpusError, Source
from bot.sources.relevance import story_names
from bot.stories.story import Story

if TYPE_CHECKING:
    from bot.search.retrieval import Answer, Excerpt, Match

log = logging.getLogger(__name__)

# Gaps of the question log checked for each announcement (the most asked first).
ANNOUNCE_GAPS = 25


class Asking:
    def __init__(self, story: Story) -> None:
        self.story = story
        self._names: tuple[object, frozenset[str]] | None = None

    def ask(
        self,
        question: str,
        k: int | None = None,
        *,
        record: bool = False,
        server: str = "",
        origin: str = "discord",
    ) -> Answer:
        """Answer ``question`` with excerpts, or abstain. Raises QuestionError for bad input.

        With ``record``, the question goes to the question log (``[stats]`` settings) marked
        with its ``origin`` ("discord" or "cli"), and the answer carries its ``question_id``
        for votes; a broken log never costs the answer."""
        answer = self.story.snapshot.retriever.ask(question, k)
        if not record:
            return answer
        try:
            terms = self.story.shared.analyzer.terms(question)  # loaded to answer anyway
            question_id = self.story.question_log.record(answer, server, origin=origin, terms=terms)
        except Exception as exc:  # one line per question, not a traceback
            log.error("could not record the question: %s", exc)
            return answer
        return replace(answer, question_id=question_id)

    def match(self, text: str) -> Match:
        """How strongly the corpus matches ``text`` (a feed item, say), by the answer rule's
        own number, and the passage behind it."""
        return self.story.snapshot.retriever.match(text)

    def story_names(self) -> frozenset[str]:
        """The names the story mentions most (``bot.sources.relevance``), once per snapshot."""
        snapshot = self.story.snapshot
        cached = self._names
        if cached is None or cached[0] is not snapshot:
            cached = (snapshot, story_names(s.text for s in snapshot.sources.values()))
            self._names = cached
        return cached[1]

    def stats(self, days: int = 30) -> Stats:
        """Figures for moderators. spaCy is loaded only if there are gaps to group."""
        log_ = self.story.question_log
        log_.purge()
        return log_.stats(lambda text: self.story.shared.analyzer.terms(text), days=days)

    def newly_answered(self, stats: Stats) -> list[tuple[Gap, Source]]:
        """The gaps of ``stats`` that sources added since now answer, with those sources. Only
        gaps last asked before the newest source was added can be: the others are not asked
        again (so without new sources, nothing loads the index)."""
        newest = max((s.added_at for s in self.story.sources), default="")
        gaps = [gap for gap in stats.gaps if newest >= gap.last_asked]
        return newly_answered(gaps, self.ask) if gaps else []

    def whats_new(self, n: int = 5) -> list[Excerpt]:
        """The ``n`` sources added last, newest first, each with its opening passage."""
        from bot.search.leads import leads

        snapshot = self.story.snapshot
        newest = sorted(snapshot.sources.values(), key=lambda s: (s.added_at, s.id), reverse=True)
        opening = leads(newest, snapshot.retriever.index.passages)
        return [opening[s.id] for s in newest if s.id in opening][: max(0, n)]

    def announcement(self, source_id: str, *, audit_id: int = 0) -> Announcement:
        """The note for a source just added: title, publisher, link (all on ``source``) and
        the earlier unanswered questions it now answers. Blocking (it asks those questions)."""
        story = self.story
        source = story.source(source_id)
        answers: list[str] = []
        if story.config.stats.log_questions:
            try:
                gaps = story.question_log.stats(
                    story.shared.analyzer.terms,
                    days=story.config.stats.retention_days,
                    limit=ANNOUNCE_GAPS,
                ).gaps
                answers = answered_by(source, gaps, self.ask)
            except (sqlite3.Error, OSError) as exc:  # the note goes out without them
                log.error("could not read the question log for an announcement: %s", exc)
        return Announcement(audit_id, source, source.added_by, source.added_at, tuple(answers))

    def pending_announcements(self, limit: int = 10) -> list[Announcement]:
        """Sources added (by any path, any process) since the last ``mark_announced``, oldest
        first; the first call ever starts from now. Sources removed since are left out."""
        story = self.story
        cursor = story.announced.get()
        if cursor is None:
            story.announced.advance(story.audit.last_id())
            return []
        # The entries stop at the first pending row; one a killed process left is settled
        # here (a change in flight holds the corpus lock: this waits for it).
        story.settle_interrupted_changes()
        entries = story.audit.since(cursor, "add", limit)
        if not entries:
            return []  # nothing to announce: the index need not load
        story.loaded()
        if story.changed_on_disk():
            story.reload()  # another process just added: see its source now
        out = []
        for entry in entries:
            try:
                out.append(self.announcement(entry.source_id, audit_id=entry.id))
            except CorpusError:
                if story.corpus.path_for(entry.source_id).exists():
                    break  # stored but not loaded yet: the next round announces it
                if not out:  # removed since: nothing to announce, ever
                    story.announced.advance(entry.id)
        return out

    def mark_announced(self, audit_id: int) -> None:
        """Remember that the announcement of this audit row (and all before it) was posted."""
        self.story.announced.advance(audit_id)
