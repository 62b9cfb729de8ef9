"""Announcements of new sources (any add path, any process) and what is new for members."""

from __future__ import annotations

from bot.engine import StoryBot
from helpers import source


def test_an_added_source_is_announced_with_the_questions_it_now_answers(make_bot):
    bot = make_bot()
    bot.add_source("Old news about the harbour ferry timetable.", "Ferry timetable")
    assert bot.pending_announcements() == []  # the first round starts from now
    assert not bot.ask("When is the zebra parade?", record=True).answered
    assert not bot.ask("Who won the Super Bowl?", record=True).answered

    added = bot.add_source(
        "The zebra parade is on Saturday at noon, the organisers said.",
        "Zebra parade date",
        publisher="The Gazette",
        url="https://gazette.example/zebra",
        added_by="mod",
    )

    (note,) = bot.pending_announcements()
    assert note.source == bot.source(added.id)
    assert (note.source.title, note.source.publisher) == ("Zebra parade date", "The Gazette")
    assert note.source.url == "https://gazette.example/zebra"
    assert note.added_by == "mod"
    assert note.answers == ("When is the zebra parade?",)
    assert bot.pending_announcements() == [note]  # until an adapter says it was posted
    bot.mark_announced(note.audit_id)
    assert bot.pending_announcements() == []


def test_adds_from_another_process_are_announced_and_removed_ones_are_not(make_bot):
    bot = make_bot()
    assert bot.pending_announcements() == []
    gone = bot.add_source("A source removed before it was announced.", "Short lived")
    bot.remove_source(gone.id)
    other = StoryBot(bot.config, analyzer=bot.analyzer)  # e.g. storybot sources add
    added = other.add_source("Tide tables: high water at 06:12 on Saturday.", "Tide tables")

    notes = bot.pending_announcements()

    assert [n.source.id for n in notes] == [added.id]
    assert notes[0].answers == ()


def test_announcement_without_a_question_log(make_bot):
    bot = make_bot(config={"stats": {"log_questions": False}})
    added = bot.add_source("The zebra parade is on Saturday at noon.", "Zebra parade")
    assert bot.announcement(added.id).answers == ()


def test_whats_new_quotes_the_opening_of_the_newest_sources(make_bot):
    older = source(
        "ferry",
        "Ferry strike ends\n\nThe ferry strike ended on Monday after talks. Crossings resume.\n",
        title="Ferry strike ends",
        kind="source",
        added_at="2026-11-26T08:00:00+00:00",
    )
    newer = source(
        "bridge",
        "Council approves bridge\n\nThe council approved the bridge on Tuesday. Work starts.\n",
        title="Council approves bridge",
        kind="source",
        added_at="2026-11-27T08:00:00+00:00",
    )
    bot = make_bot(older, newer)

    latest = bot.whats_new(2)

    assert [e.source.id for e in latest] == ["bridge", "ferry"]
    assert latest[0].text.startswith("The council approved the bridge on Tuesday.")
    for excerpt in latest:
        assert excerpt.text == excerpt.source.text[excerpt.start : excerpt.end]
        assert excerpt.text[: excerpt.lead_end].endswith(".")
    assert [e.source.id for e in bot.whats_new(10)] == ["bridge", "ferry", "seed-story"]
    assert bot.whats_new(0) == []
