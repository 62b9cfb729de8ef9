"""Upgrading a state directory made before stories: the corpus becomes the default story and
nothing is lost. The database is the one storybot wrote at eefcfa7 (the last main without
stories), dumped as SQL with every table holding rows (legacy_state_eefcfa7.sql); the corpus
and the cache and key files are laid out as that version laid them out."""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import tomllib
from pathlib import Path

import pytest

from bot.config import config_from_dict
from bot.engine import StoryBot, Vote
from conftest import SHIPPED_CONFIG, SHIPPED_CORPUS

HERE = Path(__file__).parent
LEGACY_SQL = HERE / "legacy_state_eefcfa7.sql"
# Every table of the old schema (schema_versions aside), with the columns it had.
LEGACY_TABLES = (
    "audit",
    "questions",
    "answers",
    "answer_votes",
    "feeds",
    "feed_items",
    "key_values",
)
STORY_SCOPED = ("audit", "questions", "answers", "feeds", "feed_items")


def rows_of(path: Path, table: str, columns: list[str]) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2").fetchall()


def columns_of(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A deployment directory as storybot at eefcfa7 left it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SHIPPED_CORPUS / "seed-story.txt", corpus)
    for path in (HERE / "legacy_corpus").iterdir():
        shutil.copy(path, corpus)
    state = tmp_path / "state"
    for kind in ("passages", "vectors"):
        (state / "cache" / kind).mkdir(parents=True)
        for name in ("seed-story", "bridge", "ferry-times"):
            (state / "cache" / kind / f"{name}.npz").write_bytes(secrets.token_bytes(64))
    # The key the dump's member tags were made with (a test key, nothing secret).
    shutil.copy(HERE / "legacy_members.key", state / "members.key")
    with sqlite3.connect(state / "storybot.sqlite3") as db:
        db.executescript(LEGACY_SQL.read_text(encoding="utf-8"))
    return tmp_path


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def config_for(base: Path):
    data = tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["semantic"]["enabled"] = False
    data["stats"]["retention_days"] = 36_500  # the dump's rows stay within retention
    return config_from_dict(data, base=base, path=None)


def test_every_row_and_file_of_a_legacy_state_is_kept_in_the_default_story(legacy, analyzer):
    database = legacy / "state" / "storybot.sqlite3"
    before = {t: rows_of(database, t, columns_of(database, t)) for t in LEGACY_TABLES}
    before_cursor = rows_of(database, "announce_cursor", ["audit_id", "id"])
    assert all(before.values()), "the fixture must hold rows in every table"
    corpus_before = files_under(legacy / "corpus")
    caches_before = files_under(legacy / "state" / "cache")
    key_before = (legacy / "state" / "members.key").read_bytes()
    old_columns = {t: columns_of(database, t) for t in LEGACY_TABLES}

    bot = StoryBot(config_for(legacy), analyzer=analyzer, load=False)

    # Files: the corpus where it was; the caches moved, byte for byte, into the story's
    # directory; the member key untouched.
    assert files_under(legacy / "corpus") == corpus_before
    assert not (legacy / "state" / "cache").exists()
    assert files_under(legacy / "state" / "stories" / "1" / "cache") == caches_before
    assert (legacy / "state" / "members.key").read_bytes() == key_before

    # The facade's reads migrate every component; then each old row is there, unchanged,
    # and belongs to the default story.
    assert bot.story.id == 1 and bot.story.name == "default"
    bot.audit_entries()
    bot.question_log.rows()
    bot.stored_answer(1)
    bot.feeds_list()
    bot.review_queue()
    bot.open_story.story.announced.get()
    bot.synced_commands("42:global")
    for table in LEGACY_TABLES:
        assert rows_of(database, table, old_columns[table]) == before[table], table
    for table in STORY_SCOPED:
        with sqlite3.connect(database) as db:
            ids = db.execute(f"SELECT DISTINCT story_id FROM {table}").fetchall()
        assert ids == [(1,)], table
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT story_id, audit_id FROM announce_cursors").fetchall() == [
            (1, before_cursor[0][0])
        ]
        assert db.execute("SELECT id, name, guild, status FROM stories").fetchall() == [
            (1, "default", "", "active")
        ]

    # And they still work: the audit log, the question log and its votes, the answers'
    # buttons (the asker, one vote per member), the feeds and the review queue.
    assert [e.action for e in bot.audit_entries()] == [
        "ignore", "feed add", "feed add", "restore", "remove", "add", "add",
    ]  # fmt: skip
    assert {r["question"]: (r["helpful"], r["not_helpful"]) for r in bot.question_log.rows()} == {
        "Who directed Cuties?": (2, 0),
        "what is the price of tea in china": (0, 1),
    }
    stored = bot.stored_answer(1)
    assert stored is not None and stored.story_id == 1
    assert bot.is_asker(stored, 555) and not bot.is_asker(stored, 777)
    assert bot.vote_on_answer(stored, 777, helpful=True) is Vote.ALREADY
    assert bot.vote_on_answer(stored, 778, helpful=True) is Vote.COUNTED
    assert [f.url for f in bot.feeds_list()] == [
        "https://news.example/feed.xml",
        "https://other.example/topic",
    ]
    (waiting,) = bot.review_queue()
    assert (waiting.id, waiting.posted, waiting.terms) == (1, "999/1000", ("ferry", "harbour"))
    assert bot.synced_commands("42:global") == "abc123"
    assert bot.pending_announcements() == []  # the cursor is past every add

    # The corpus answers as the default story.
    assert {s.id for s in bot.sources} == {"seed-story", "bridge", "ferry-times"}
    assert bot.ask("When does the harbour ferry run?").answered


def test_a_new_story_sees_none_of_the_default_storys_rows(legacy, analyzer):
    bot = StoryBot(config_for(legacy), analyzer=analyzer, load=False)
    record = bot.stories.create("harbour-fire", by="test")
    other = bot.in_story(record)
    assert [e.action for e in other.audit_entries()] == ["story create"]  # its own row only
    assert other.question_log.rows() == []
    assert other.feeds_list() == [] and other.review_queue() == []
    assert other.sources == []
    # Ids are unique across stories, but another story's candidate is not found through it.
    with pytest.raises(Exception, match="no candidate"):
        other.candidate(1)
    # Both stories may watch the same feed.
    other.feeds_add("https://news.example/feed.xml", added_by="test", trial=False)
    assert len(bot.feeds_list()) == 2 and len(other.feeds_list()) == 1
