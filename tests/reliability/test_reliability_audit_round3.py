"""Third attack round, the audit log: no change without its row; the announcement cursor never
passes a pending row (docs/reliability-round3.md)."""

from __future__ import annotations

import sqlite3

import pytest

from bot.cli import main
from bot.engine import AuditUnavailable, StoryBot
from bot.insights import database
from bot.insights.audit import AuditLog
from bot.insights.database import database_path
from conftest import write_config


@pytest.fixture
def locked_database(monkeypatch):
    """Hold the state database's write lock from another connection (another process's long
    write); transactions give up after 0.2 s instead of BUSY_TIMEOUT."""
    monkeypatch.setattr(database, "BUSY_TIMEOUT", 0.2)
    held = []

    def lock(path):
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.append(conn)

    yield lock
    for conn in held:
        conn.execute("ROLLBACK")
        conn.close()


def test_no_add_or_remove_without_its_audit_row(make_bot, locked_database):
    bot = make_bot()
    kept = bot.add_source("The harbour bridge opens on Monday.", "Bridge")
    ids = {s.id for s in bot.sources}
    files = sorted(p.name for p in bot.corpus.directory.iterdir())
    locked_database(database_path(bot.config.state_dir))

    with pytest.raises(AuditUnavailable, match=r"nothing was changed.*audit log"):
        bot.add_source("The tide is high at noon on Saturday.", "Tides")
    with pytest.raises(AuditUnavailable):
        bot.remove_source(kept.id)

    assert {s.id for s in bot.sources} == ids
    assert sorted(p.name for p in bot.corpus.directory.iterdir()) == files


def test_the_cli_refuses_with_one_line_and_the_change_is_not_made(
    make_bot, locked_database, tmp_path, capsys
):
    bot = make_bot()
    config = write_config(tmp_path)  # the same corpus and state (relative to tmp_path)
    note = tmp_path / "note.txt"
    note.write_text("The tide is high at noon on Saturday, said the harbour master. " * 4)
    locked_database(database_path(bot.config.state_dir))

    code = main(["--config", str(config), "sources", "add", "--file", str(note), "--title", "T"])

    err = capsys.readouterr().err
    assert code == 1 and "error:" in err and "Traceback" not in err
    assert "audit log could not be written" in " ".join(err.split())
    assert not any("tide" in p.name for p in bot.corpus.directory.iterdir())


def test_the_busy_timeout_outlasts_a_long_write():
    assert database.BUSY_TIMEOUT >= 30


def test_since_stops_at_the_first_pending_row(tmp_path):
    audit = AuditLog(tmp_path / "db.sqlite3")
    audit.record("m", "add", "first")
    cursor = audit.last_id()
    a = audit.begin("m", "add", "a", target="a.txt")  # process A, not done yet
    audit.record("m", "add", "b")  # process B, done
    assert audit.since(cursor, "add") == []
    audit.done(a)
    assert [e.source_id for e in audit.since(cursor, "add")] == ["a", "b"]


def test_an_add_left_pending_is_announced_once_it_settles(make_bot, monkeypatch):
    """A's row stays pending (its process could not mark it done), B's is done: the cursor
    must not move past A; A is announced once it settles."""
    bot = make_bot()
    assert bot.pending_announcements() == []  # the cursor starts now
    a_process = StoryBot(bot.config, analyzer=bot.analyzer)
    b_process = StoryBot(bot.config, analyzer=bot.analyzer)

    def locked(*args):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(a_process.audit, "done", locked)
    a = a_process.add_source("Tide tables: high water at 06:12 on Saturday.", "Tide tables")
    monkeypatch.setattr(b_process.audit, "reconcile", locked)
    b = b_process.add_source("The zebra parade is on Saturday at noon.", "Zebra parade")
    (pending,) = bot.audit.pending()
    assert pending.source_id == a.id

    story = bot.open_story.story  # where a story settles interrupted changes
    settle = story.settle_interrupted_changes
    monkeypatch.setattr(story, "settle_interrupted_changes", lambda: None)  # still locked
    notes = bot.pending_announcements()
    assert notes == []  # before the fix: [B], and the cursor then moved past A for good
    monkeypatch.setattr(story, "settle_interrupted_changes", settle)

    notes = bot.pending_announcements()
    assert [n.source.id for n in notes] == [a.id, b.id]
    bot.mark_announced(notes[-1].audit_id)
    assert bot.pending_announcements() == []
