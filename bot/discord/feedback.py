"""Where the Discord layer records questions and Helpful / Not helpful votes.

``FeedbackSink`` is the interface; ``QuestionLog`` (``storybot.question_log``,
read by ``storybot stats``) implements it, and so does ``MemoryFeedback`` for tests. No user ids
are stored: "one vote per member per answer" is enforced in memory by the answer's buttons.
"""

from __future__ import annotations

from typing import Protocol

from bot.search.retrieval import Answer


class FeedbackSink(Protocol):
    def record(self, answer: Answer, server: str = "") -> int | None:
        """Store an asked question; its id for votes, or None when recording is off."""
        ...

    def vote(self, question_id: int, helpful: bool) -> bool:
        """Count one vote; False if the question is not recorded."""
        ...


class MemoryFeedback:
    """Questions and votes in memory."""

    def __init__(self) -> None:
        self.questions: list[tuple[Answer, str]] = []
        self.votes: dict[int, list[bool]] = {}

    def record(self, answer: Answer, server: str = "") -> int | None:
        self.questions.append((answer, server))
        return len(self.questions)

    def vote(self, question_id: int, helpful: bool) -> bool:
        if not 1 <= question_id <= len(self.questions):
            return False
        self.votes.setdefault(question_id, []).append(helpful)
        return True
