"""The story store (names, servers, bindings, the first server's claim) and the registry
(stories opened when named, loaded when asked, unloaded beyond ``[stories] max_loaded``)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot.insights.audit import AuditLog
from bot.insights.database import database_path
from bot.sources.corpus import Corpus, Source
from bot.stories.store import ACTIVE, ARCHIVED, StoryError, StoryStore

TEXTS = {
    "ferry": "The harbour ferry runs twice a day, at seven in the morning and at six at night.",
    "bridge": "The old stone bridge opened in 1899 and was closed to cars in 2004 for repairs.",
    "market": "The Saturday fish market moved to the quay in May; stalls open at five o'clock.",
}


@pytest.fixture
def store(tmp_path: Path) -> StoryStore:
    return StoryStore(database_path(tmp_path))


def test_names_are_checked_and_unique_per_server(store):
    store.create("harbour", guild="1")
    store.create("harbour", guild="2")  # another server may use the name
    with pytest.raises(StoryError, match="already a story named 'harbour'"):
        store.create("Harbour", guild="1")
    for bad in ("", "has space", "UPPER!", "-dash-first", "dash-last-", "a--b", "x" * 33):
        with pytest.raises(StoryError, match="not a story name"):
            store.create(bad)
    with pytest.raises(StoryError, match="several stories are named 'harbour'"):
        store.named("harbour")  # the command line: ambiguous without a server
    assert store.named("harbour", "2").guild == "2"
    with pytest.raises(StoryError, match="no story named"):
        store.named("harbour", "3")
    with pytest.raises(StoryError, match="no story with id 99"):
        store.named("99")
    assert store.create("x" * 32).name == "x" * 32


def test_the_first_server_claims_the_default_story_and_the_next_gets_its_own(store):
    first = store.guild_default("111")
    assert (first.id, first.name, first.guild) == (1, "default", "111")
    second = store.guild_default("222")
    assert second.id != 1 and (second.name, second.guild) == ("default", "222")
    assert store.guild_default("111").id == 1  # remembered
    assert [s.id for s in store.of_guild("222")] == [second.id]


def test_claims_at_once_give_the_default_story_to_one_server(tmp_path):
    # Eight servers' first questions at once, each thread with its own connections (the
    # database exists; no other connection holds it open, so its WAL is rebuilt as they start).
    StoryStore(database_path(tmp_path)).create("warm-up", guild="0")
    results: dict[str, int] = {}

    def claim(guild: str) -> None:
        results[guild] = StoryStore(database_path(tmp_path)).guild_default(guild).id

    threads = [threading.Thread(target=claim, args=(str(g),)) for g in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()).count(1) == 1
    assert len(set(results.values())) == 8


def test_bindings_most_specific_first_and_never_to_another_servers_story(store):
    default = store.guild_default("1")
    fire = store.create("fire", guild="1")
    theirs = store.create("theirs", guild="2")
    store.bind("1", "500", fire.id)  # a category
    assert store.bound("1", ("700", "600", "500", "guild")).id == fire.id
    store.bind("1", "700", default.id)  # a thread of a channel in it
    assert store.bound("1", ("700", "600", "500", "guild")).id == default.id
    assert store.bound("1", ("800", "guild")).id == default.id
    with pytest.raises(StoryError):
        store.bind("1", "600", theirs.id)
    archived = store.set_status(fire.id, ARCHIVED)
    assert archived.archived
    assert store.bound("1", ("900", "500")) is None  # archiving drops its bindings


def test_archiving_a_servers_default_gives_it_a_new_one(store):
    first = store.guild_default("1")
    store.set_status(first.id, ARCHIVED)
    fresh = store.guild_default("1")
    assert fresh.id != first.id and fresh.guild == "1" and not fresh.archived


def test_changes_to_a_story_are_in_its_own_audit_log_and_only_when_they_happen(store):
    def log(story_id: int) -> list[tuple[str, str, str]]:
        entries = AuditLog(store.path, story_id).entries()
        return [(e.action, e.actor, e.detail) for e in reversed(entries)]

    claimed = store.guild_default("1", by="first use")  # the deployment's default story
    made = store.guild_default("2", by="mod (2) via Discord")
    harbour = store.create("harbour", guild="1", by="ana")
    store.create("bridge", guild="1", by="ana")
    with pytest.raises(StoryError, match="already a story named 'bridge'"):
        store.rename(harbour.id, "bridge", by="ana")  # refused: nothing recorded
    store.rename(harbour.id, "quay", by="bo")
    store.set_status(harbour.id, ARCHIVED, by="bo")
    # Nothing to change, nothing recorded.
    with pytest.raises(StoryError, match="story 'quay' is already archived"):
        store.set_status(harbour.id, ARCHIVED, by="bo")
    with pytest.raises(StoryError, match="already named 'quay'"):
        store.rename(harbour.id, "QUAY", by="bo")
    store.set_status(harbour.id, ACTIVE)
    with pytest.raises(StoryError, match="story 'quay' is already active"):
        store.set_status(harbour.id, ACTIVE)
    with pytest.raises(StoryError, match="no story"):
        store.set_status(99, ACTIVE)
    assert log(claimed.id) == [("story claim", "first use", "by server 1")]
    assert log(made.id) == [
        ("story create", "mod (2) via Discord", "named 'default', the server's first story")
    ]
    assert log(harbour.id) == [
        ("story create", "ana", "named 'harbour'"),
        ("story rename", "bo", "'harbour' -> 'quay'"),
        ("story archive", "bo", ""),
        ("story unarchive", "unknown", ""),
    ]


def add_story(bot, name: str, text_id: str) -> int:
    record = bot.stories.create(name)
    other = bot.in_story(record)
    Corpus(other.corpus.directory).write(
        Source(id=text_id, title=text_id.title(), text=TEXTS[text_id])
    )
    return record.id


def test_stories_load_on_their_first_question_and_unload_beyond_the_budget(make_bot):
    bot = make_bot(config={"stories": {"max_loaded": 2}, "semantic": {"enabled": False}})
    ids = [add_story(bot, name, name) for name in TEXTS]
    stories = {i: bot.in_story(i) for i in ids}
    assert not any(s.open_story.story.is_loaded for s in stories.values())
    assert stories[ids[0]].ask("When does the ferry run?").answered
    assert stories[ids[1]].ask("When did the bridge open?").answered
    loaded = {s.id for s in bot.registry.loaded()}
    # The default story (loaded by make_bot) was asked least recently: it made room.
    assert loaded == {ids[0], ids[1]}
    assert stories[ids[2]].ask("Where is the fish market?").answered
    assert {s.id for s in bot.registry.loaded()} == {ids[1], ids[2]}
    # An unloaded story answers again (from its caches) and each answers only from its own.
    again = stories[ids[0]].ask("When does the ferry run?")
    assert again.answered and {e.source.id for e in again.excerpts} == {"ferry"}
    assert not stories[ids[1]].ask("When does the ferry run?").answered
    assert len(bot.registry.loaded()) == 2


def test_a_story_lists_and_logs_without_loading_its_index(make_bot):
    bot = make_bot(config={"semantic": {"enabled": False}})
    story_id = add_story(bot, "harbour", "ferry")
    other = bot.in_story(story_id)
    assert [s.id for s in other.sources] == ["ferry"]
    assert [e.action for e in other.audit_entries()] == ["story create"]
    assert other.feeds_list() == []
    assert not other.open_story.story.is_loaded
    other.remove_source("ferry", removed_by="test")
    assert not other.open_story.story.is_loaded  # a removal prepares nothing
    assert [e.action for e in other.audit_entries()] == ["remove", "story create"]
    assert bot.audit_entries() == []  # the default story's log is its own


def test_questions_from_threads_while_the_budget_swaps_stories_in_and_out(make_bot):
    """max_loaded = 1 and two stories asked from four threads at once: each question is
    answered from its own story while the other is unloaded and loaded again."""
    from concurrent.futures import ThreadPoolExecutor

    bot = make_bot(config={"stories": {"max_loaded": 1}, "semantic": {"enabled": False}})
    ferry = bot.in_story(add_story(bot, "harbour", "ferry"))
    bridge = bot.in_story(add_story(bot, "bridges", "bridge"))
    asks = [(ferry, "When does the ferry run?", "ferry"), (bridge, "When did the bridge open?",
            "bridge")] * 12  # fmt: skip

    def ask(job) -> set[str]:
        story, question, _ = job
        return {e.source.id for e in story.ask(question).excerpts}

    with ThreadPoolExecutor(4) as pool:
        quoted = list(pool.map(ask, asks))
    assert quoted == [{expected} for _, _, expected in asks]
