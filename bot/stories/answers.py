"""Answers posted with buttons (More, Helpful / Not helpful, Delete): what the buttons need,
and votes, once per member and answer. An answer's row carries its story, so a button finds
the story that answered."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from enum import Enum
from typing import TYPE_CHECKING

from bot.insights.answers import StoredAnswer
from bot.stories.asking import Asking
from bot.stories.story import Story

if TYPE_CHECKING:
    from bot.search.retrieval import Answer, Excerpt

log = logging.getLogger(__name__)

# How many excerpts of one question a member can page through with More, the answer's included.
MORE_LIMIT = 30


class Vote(Enum):
    """What became of a Helpful / Not helpful press on a posted answer."""

    COUNTED = "counted"
    ALREADY = "already"  # this member already voted on this answer
    NOT_RECORDED = "not recorded"  # question logging is off, or the question was not logged


class Answers:
    def __init__(self, story: Story, asking: Asking) -> None:
        self.story = story
        self.asking = asking

    def vote(self, question_id: int, helpful: bool) -> bool:
        """Count a Helpful / Not helpful vote on a recorded question; False if not recorded."""
        return self.story.question_log.vote(question_id, helpful)

    def remember_answer(
        self, answer: Answer, asker_id: int, *, via_interaction: bool
    ) -> StoredAnswer | None:
        """Keep what the buttons under a posted answer need; None if that failed (the answer
        is then posted without buttons: a broken database never costs the answer)."""
        try:
            return self.story.answers.save(
                question=answer.question,
                shown=len(answer.excerpts),
                answered=answer.answered,
                question_id=answer.question_id,
                asker_id=asker_id,
                via_interaction=via_interaction,
            )
        except (sqlite3.Error, OSError, RuntimeError) as exc:  # one line, not a traceback
            log.error("could not store the answer for its buttons: %s", exc)
            return None

    def stored_answer(self, answer_id: int) -> StoredAnswer | None:
        """A posted answer by id (of any story: ``StoredAnswer.story_id`` says which); None
        once deleted or purged (``[stats] retention_days``)."""
        return self.story.answers.get(answer_id)

    def is_asker(self, answer: StoredAnswer, member_id: int) -> bool:
        return self.story.answers.is_asker(answer, member_id)

    def forget_answer(self, answer_id: int) -> None:
        """Drop a posted answer and its votes (its message was deleted)."""
        self.story.answers.delete(answer_id)

    def vote_on_answer(self, answer: StoredAnswer, member_id: int, helpful: bool) -> Vote:
        """Count a Helpful / Not helpful press in the question log, once per member and answer."""
        if answer.question_id is None or not self.story.config.stats.log_questions:
            return Vote.NOT_RECORDED
        if not self.story.answers.add_vote(answer.id, member_id):
            return Vote.ALREADY
        if not self.story.question_log.vote(answer.question_id, helpful):
            return Vote.NOT_RECORDED  # the question was purged from the log meanwhile
        return Vote.COUNTED

    def more_excerpts(self, answer: StoredAnswer, shown: int) -> tuple[int, list[Excerpt]]:
        """The page of excerpts for More after the first ``shown`` ones: its first number and
        its excerpts (empty when the sources have nothing more).

        Pages are recomputed from the question (so More needs no memory of who saw what):
        each page is the next ``top_k`` excerpts that overlap nothing shown before it, up to
        MORE_LIMIT in all. With an unchanged corpus that is exactly what earlier presses
        showed; after a change, More quotes the current sources."""
        for first, page in self._more_pages(answer):
            if first > shown:
                return first, page
        return shown + 1, []

    def _more_pages(self, answer: StoredAnswer) -> Iterator[tuple[int, list[Excerpt]]]:
        per_page = self.story.config.retrieval.top_k
        ask = self.asking.ask
        seen = [_span(e) for e in ask(answer.question, answer.shown or None).excerpts]
        while len(seen) < MORE_LIMIT:
            again = ask(answer.question, min(len(seen) + per_page, MORE_LIMIT))
            fresh = [e for e in again.excerpts if not _overlaps(_span(e), seen)][:per_page]
            if not fresh:
                return
            yield len(seen) + 1, fresh
            seen.extend(_span(e) for e in fresh)


def _span(excerpt: Excerpt) -> tuple[str, int, int]:
    return excerpt.source.id, excerpt.start, excerpt.end


def _overlaps(span: tuple[str, int, int], seen: Sequence[tuple[str, int, int]]) -> bool:
    source_id, start, end = span
    return any(s == source_id and start < e and end > b for s, b, e in seen)
