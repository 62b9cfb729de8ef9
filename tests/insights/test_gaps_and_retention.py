"""Gap grouping that stays near-linear with bounded work, and retention whatever the logging
setting. (Speed figures: bench/stats.py; these tests count work, they never time it.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.insights import questionlog
from bot.insights.questionlog import NEAR_DUPLICATE, QuestionLog, _cluster, group_gaps
from bot.search.retrieval import Answer

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def row(question: str, minutes: int, answered: int = 0) -> dict:
    return {
        "question": question,
        "asked_at": (NOW + timedelta(minutes=minutes)).isoformat(),
        "answered": answered,
        "helpful": 0,
        "not_helpful": 0,
    }


def counting(terms_of):
    calls: list[str] = []

    def terms(text: str):
        calls.append(text)
        return terms_of(text)

    return terms, calls


def test_terms_are_computed_once_per_wording(analyzer):
    """Before: once per logged row, so 100,000 rows ran spaCy 100,000 times."""
    rows = [row("Who won the Super Bowl?", m) for m in range(300)]
    rows += [row("When is the DVD out?", 300 + m) for m in range(200)]
    terms, calls = counting(analyzer.terms)
    gaps = group_gaps(rows, terms)
    assert sorted(calls) == ["When is the DVD out?", "Who won the Super Bowl?"]
    assert [(g.question, g.count) for g in gaps] == [
        ("Who won the Super Bowl?", 300),
        ("When is the DVD out?", 200),
    ]


def test_at_most_max_gap_wordings_are_grouped_the_most_recent(analyzer, monkeypatch):
    monkeypatch.setattr(questionlog, "MAX_GAP_WORDINGS", 50)
    rows = [row(f"Where did keeper{n} take zebra{n}?", n) for n in range(80)]
    terms, calls = counting(analyzer.terms)
    gaps = group_gaps(rows, terms)
    assert len(calls) == 50
    assert {v for g in gaps for v in g.variants} == {r["question"] for r in rows[30:]}


class Counted(frozenset):
    """A term set that counts how often it is compared (intersected) with another."""

    comparisons = 0

    def __and__(self, other):
        Counted.comparisons += 1
        return frozenset.__and__(self, other)


def test_comparisons_per_question_are_bounded():
    """The worst case for an inverted index: every question shares one common term and
    nothing else with the others. Before: every question against every group,
    n * (n - 1) / 2 comparisons."""
    n = 3000
    sets = [Counted({"cuties", f"unique{i}"}) for i in range(n)]
    Counted.comparisons = 0
    groups = _cluster(sets)
    assert len(groups) == n  # Jaccard 1/3: nothing groups
    assert Counted.comparisons <= n * questionlog.MAX_CANDIDATES < n * (n - 1) // 2 // 20


def leader_clustering(sets: list[frozenset[str]]) -> list[list[frozenset[str]]]:
    """The reference: each set against every group's first set, in order."""
    groups: list[list[frozenset[str]]] = []
    for terms in sets:
        for group in groups:
            if len(terms & group[0]) / len(terms | group[0]) >= NEAR_DUPLICATE:
                group.append(terms)
                break
        else:
            groups.append([terms])
    return groups


TERM_SETS = st.lists(
    st.frozensets(st.sampled_from("abcdefghij"), min_size=1, max_size=6), max_size=40
)


@given(TERM_SETS)
def test_the_index_finds_exactly_what_comparing_with_every_group_finds(sets):
    """Prefix filtering never misses a group a full comparison would find."""
    assert _cluster(sets) == leader_clustering(sets)


def test_the_purge_applies_with_logging_off(tmp_path):
    """Before: with log_questions = false, purge() returned at once, so rows logged before
    logging was turned off were kept forever."""
    db = tmp_path / "state" / "storybot.sqlite3"
    QuestionLog(db, retention_days=30).record(Answer("Old?", False), when=NOW - timedelta(40))
    QuestionLog(db, retention_days=30).record(Answer("Recent?", False), when=NOW)
    off = QuestionLog(db, enabled=False, retention_days=30)
    assert off.record(Answer("Not logged?", False), when=NOW) is None  # purges once a day
    on = QuestionLog(db, retention_days=30)
    assert [r["question"] for r in on.rows()] == ["Recent?"]
    QuestionLog(db, retention_days=30).record(Answer("Old?", False), when=NOW - timedelta(40))
    assert QuestionLog(db, enabled=False, retention_days=30).purge(now=NOW) == 1


def test_the_stats_command_purges_with_logging_off(make_bot):
    bot = make_bot(config={"stats": {"retention_days": 30}})
    bot.question_log.record(bot.ask("Who directed Cuties?"), when=datetime.now(UTC) - timedelta(40))
    off = make_bot(config={"stats": {"retention_days": 30, "log_questions": False}})
    off.stats(30)
    assert QuestionLog(bot.question_log.path).rows() == []


def test_logging_off_creates_no_database(tmp_path):
    db = tmp_path / "state" / "storybot.sqlite3"
    assert QuestionLog(db, enabled=False).record(Answer("Why?", False), when=NOW) is None
    assert QuestionLog(db, enabled=False).purge(now=NOW) == 0
    assert not db.exists()
