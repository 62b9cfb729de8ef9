"""Posted answers kept for their buttons: storage, member tags, votes, retention, More pages;
and the hash of the last registered commands."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta

import pytest

from bot.engine import MORE_LIMIT, Vote
from bot.insights.answers import KEY_FILE, AnswerStore, member_key
from bot.insights.database import database_path
from helpers import source

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ASKER, OTHER = 1_300_000_000_000_000_001, 1_300_000_000_000_000_002
QUESTION = "Who directed Cuties?"


def store(tmp_path, retention_days: int = 90) -> AnswerStore:
    return AnswerStore(database_path(tmp_path), member_key(tmp_path), retention_days=retention_days)


def save(answers: AnswerStore, when: datetime = NOW, asker: int = ASKER, **fields):
    values = dict(question=QUESTION, shown=3, answered=True, question_id=7)
    values.update(fields)
    return answers.save(asker_id=asker, via_interaction=True, when=when, **values)


def test_an_answer_round_trips_and_ids_are_never_reused(tmp_path):
    answers = store(tmp_path)
    first = save(answers)
    assert answers.get(first.id, now=NOW) == first
    assert (first.question, first.shown, first.question_id) == (QUESTION, 3, 7)
    assert first.via_interaction and first.answered
    assert answers.delete(first.id)
    assert answers.get(first.id, now=NOW) is None
    # An old button must never point at a newer answer: ids are not reused after a delete.
    assert save(answers).id > first.id


def test_no_member_id_is_stored_and_tags_do_not_link_answers(tmp_path):
    answers = store(tmp_path)
    one, two = save(answers), save(answers)
    assert answers.is_asker(one, ASKER) and not answers.is_asker(one, OTHER)
    assert answers.add_vote(one.id, OTHER)
    assert one.asker != two.asker  # the same member, two answers: two unrelated tags
    with sqlite3.connect(database_path(tmp_path)) as db:
        dump = "\n".join(db.iterdump())
    for member in (ASKER, OTHER):
        assert str(member) not in dump


def test_one_vote_per_member_per_answer(tmp_path):
    answers = store(tmp_path)
    one, two = save(answers), save(answers)
    assert answers.add_vote(one.id, OTHER)
    assert not answers.add_vote(one.id, OTHER)
    assert answers.add_vote(two.id, OTHER)  # another answer: another vote
    assert answers.add_vote(one.id, ASKER)  # another member
    answers.delete(one.id)
    assert not answers.add_vote(one.id, 42)  # the answer is gone


def test_retention_purges_answers_and_their_votes(tmp_path):
    answers = store(tmp_path, retention_days=30)
    old = save(answers, when=NOW - timedelta(days=31))
    answers.add_vote(old.id, OTHER)
    recent = save(answers, when=NOW - timedelta(days=29))
    # Past the retention period, an answer is gone even before the purge removes it.
    assert answers.get(old.id, now=NOW) is None
    assert answers.get(old.id, now=NOW - timedelta(days=2)) == old
    assert answers.purge(now=NOW) == 1
    assert answers.get(recent.id, now=NOW) == recent
    with sqlite3.connect(database_path(tmp_path)) as db:
        assert db.execute("SELECT COUNT(*) FROM answer_votes").fetchone() == (0,)


def test_saving_purges_once_a_day(tmp_path):
    answers = store(tmp_path, retention_days=1)
    old = save(answers, when=NOW)
    save(answers, when=NOW + timedelta(days=3))
    assert answers.get(old.id, now=NOW) is None  # purged: gone even at its own time


def test_the_key_is_private_stable_and_checked(tmp_path):
    key = member_key(tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert member_key(tmp_path) == key and len(key) == 32
    # Another key (the file deleted) unlinks every tag: the asker is no longer recognised.
    first = store(tmp_path)
    answer = save(first)
    path.unlink()
    assert not store(tmp_path).is_asker(answer, ASKER)
    path.write_bytes(b"short")
    with pytest.raises(RuntimeError, match="not a storybot key"):
        member_key(tmp_path)


# -- through the engine ------------------------------------------------------------------------


def test_votes_count_once_per_member_in_the_question_log(make_bot):
    bot = make_bot()
    answer = bot.ask(QUESTION, record=True)
    stored = bot.remember_answer(answer, ASKER, via_interaction=True)
    assert stored.question_id == answer.question_id and stored.shown == len(answer.excerpts)
    assert bot.vote_on_answer(stored, OTHER, helpful=True) is Vote.COUNTED
    assert bot.vote_on_answer(stored, OTHER, helpful=False) is Vote.ALREADY
    assert bot.vote_on_answer(stored, ASKER, helpful=False) is Vote.COUNTED
    (row,) = bot.question_log.rows()
    assert (row["helpful"], row["not_helpful"]) == (1, 1)


def test_votes_are_not_recorded_without_a_logged_question(make_bot):
    off = make_bot(config={"stats": {"log_questions": False}})
    stored = off.remember_answer(off.ask(QUESTION, record=True), ASKER, via_interaction=False)
    assert stored.question_id is None
    assert off.vote_on_answer(stored, OTHER, helpful=True) is Vote.NOT_RECORDED
    assert off.vote_on_answer(stored, OTHER, helpful=True) is Vote.NOT_RECORDED


def test_a_vote_on_a_question_purged_from_the_log_is_not_recorded(make_bot):
    bot = make_bot()
    stored = bot.remember_answer(bot.ask(QUESTION, record=True), ASKER, via_interaction=True)
    bot.question_log.purge(now=datetime.now(UTC) + timedelta(days=365))
    assert bot.vote_on_answer(stored, OTHER, helpful=True) is Vote.NOT_RECORDED


def test_a_broken_database_costs_only_the_buttons(make_bot, monkeypatch, caplog):
    bot = make_bot()

    def broken(**fields):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(bot.answers, "save", broken)
    assert bot.remember_answer(bot.ask(QUESTION), ASKER, via_interaction=True) is None
    assert "disk I/O error" in caplog.text


def spans(excerpts):
    return [(e.source.id, e.start, e.end) for e in excerpts]


def test_more_pages_continue_the_answer_without_repeating_a_passage(make_bot):
    bot = make_bot(config={"retrieval": {"top_k": 2}})
    answer = bot.ask("What did Netflix say about Cuties?", record=True)
    stored = bot.remember_answer(answer, ASKER, via_interaction=True)
    shown = spans(answer.excerpts)
    pages = []
    while True:
        first, page = bot.more_excerpts(stored, len(shown))
        assert first == len(shown) + 1
        if not page:
            break
        assert 1 <= len(page) <= 2
        pages.append(page)
        shown += spans(page)
    assert len(pages) >= 2 and len(shown) <= MORE_LIMIT
    for i, (sid, start, end) in enumerate(shown):
        for other, b, e in shown[i + 1 :]:
            assert other != sid or end <= b or e <= start, "More repeated a passage"
    # Stateless: asking for the page after the answer again gives the same page.
    assert bot.more_excerpts(stored, len(answer.excerpts))[1] == pages[0]


def test_more_quotes_the_current_sources(make_bot):
    text = "The zebra parade is on Saturday.\n\nThe zebra parade starts at noon in the park."
    bot = make_bot(source("zebra", text), config={"retrieval": {"top_k": 1}})
    stored = bot.remember_answer(bot.ask("When is the zebra parade?"), ASKER, via_interaction=True)
    assert bot.more_excerpts(stored, stored.shown)[1], "the test needs a second page"
    bot.remove_source("zebra")
    assert bot.more_excerpts(stored, stored.shown) == (stored.shown + 1, [])


def test_synced_commands_are_remembered_and_forgotten(make_bot):
    bot = make_bot()
    assert bot.synced_commands("app:global") is None
    bot.remember_synced_commands("app:global", "abc")
    bot.remember_synced_commands("app:42", "def")
    assert bot.synced_commands("app:global") == "abc"
    bot.remember_synced_commands("app:global", None)
    assert bot.synced_commands("app:global") is None
    assert bot.synced_commands("app:42") == "def"
