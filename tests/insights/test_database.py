"""The state database's connections (``bot.insights.database``)."""

from __future__ import annotations

import threading

import pytest

from bot.insights.database import connect


def test_threads_opening_a_new_database_at_once_all_get_their_transaction(tmp_path):
    """Switching a new database to WAL is refused at once ("database is locked", the busy
    timeout not applied) while another connection switches it: a bot's threads opening the
    state database together at start used to lose a write now and then (~7% of rounds)."""
    errors: list[Exception] = []
    for round_ in range(100):
        path = tmp_path / f"state-{round_}.sqlite3"
        start = threading.Barrier(8)

        def write(path=path, start=start) -> None:
            start.wait()
            try:
                with connect(path) as db:
                    db.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
                    db.execute("INSERT INTO t VALUES (1)")
            except Exception as exc:  # collected, asserted below
                errors.append(exc)

        threads = [threading.Thread(target=write) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"round {round_}"
        with connect(path) as db:
            assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 8


def test_a_first_transaction_rolled_back_takes_its_migration_with_it_and_the_next_migrates(
    tmp_path,
):
    """The migration runs inside the first transaction: when that transaction fails (here the
    stories store refusing a second 'default', which its own migration inserts), the tables go
    too, and the next transaction must make them again (it used to find 'no such table')."""
    from bot.stories.store import StoryError, StoryStore

    store = StoryStore(tmp_path / "state.sqlite3")
    with pytest.raises(StoryError, match="already a story named 'default'"):
        store.create("default")
    harbour = store.create("harbour", by="ana")
    assert store.get(harbour.id).name == "harbour"


def test_a_component_migrates_the_tables_it_writes_into_with_its_own(tmp_path):
    from bot.insights.audit import AuditLog
    from bot.stories.store import StoryStore

    path = tmp_path / "state.sqlite3"
    StoryStore(path).create("harbour", by="ana")  # the audit table is made with the stories'
    assert [e.action for e in AuditLog(path, 2).entries()] == ["story create"]
