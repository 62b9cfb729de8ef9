"""The state database's connections (``bot.insights.database``)."""

from __future__ import annotations

import threading

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
