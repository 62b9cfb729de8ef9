"""Passage cache and incremental updates: only what changed is run through spaCy again, a
damaged cache is ignored, and an incrementally updated bot equals one built from scratch."""

from __future__ import annotations

import numpy as np
import pytest

import bot.search.cache
from bot.config import config_from_dict
from bot.engine import StoryBot
from helpers import source

A = source(
    "alpha-report",
    "The festival jury praised the young director.\n\n"
    "Critics said the dance scenes were carefully staged. The studio issued a statement.",
)
B = source(
    "beta-report",
    "A petition against the streaming service gathered many signatures.\n\n"
    "Lawmakers in Texas asked prosecutors to review the film.",
)
NEW_TEXT = (
    "The harbour committee voted to rebuild the lighthouse.\n\n"
    "Fishermen welcomed the lighthouse decision. The mayor promised funding by spring."
)
QUERIES = (["lighthouse"], ["film", "dance"], ["petition", "signature"], ["director"], ["zzz"])


@pytest.fixture
def processed(monkeypatch) -> list[str]:
    """Ids of the sources run through spaCy (a spy on the splitter the cache calls)."""
    seen: list[str] = []
    real = bot.search.cache.split

    def spy(src, analyzer, window=2):
        seen.append(src.id)
        return real(src, analyzer, window)

    monkeypatch.setattr(bot.search.cache, "split", spy)
    return seen


def restart(bot_: StoryBot, **nlp) -> StoryBot:
    """A new StoryBot (a new process, as far as the cache can tell) on the same files."""
    data = dict(bot_.config.raw)
    data["nlp"] = {**data.get("nlp", {}), **nlp}
    base = bot_.config.state_dir.parent
    return StoryBot(config_from_dict(data, base=base), analyzer=bot_.analyzer)


def passages(bot_: StoryBot) -> list:
    return bot_.passages


def assert_same_index(left: StoryBot, right: StoryBot) -> None:
    assert passages(left) == passages(right)
    for query in QUERIES:
        li, ri = left.retriever.index, right.retriever.index
        assert np.array_equal(li.scores(query), ri.scores(query))
        assert li.top(query, 5) == ri.top(query, 5)


def test_restart_reuses_every_source(make_bot, processed):
    first = make_bot(A, B)
    assert sorted(processed) == ["alpha-report", "beta-report", "seed-story"]
    processed.clear()
    second = restart(first)
    assert processed == []
    assert_same_index(first, second)


def test_changed_source_or_setting_invalidates_only_what_it_must(make_bot, processed):
    first = make_bot(A, B)
    processed.clear()
    first.corpus.write(
        source("beta-report", B.text + "\n\nA court hearing is set."), overwrite=True
    )
    first.reload()
    assert processed == ["beta-report"]
    processed.clear()
    assert restart(first).passage_count == first.passage_count
    assert processed == []
    wider = restart(first, window_sentences=3)
    assert sorted(processed) == ["alpha-report", "beta-report", "seed-story"]
    assert wider.passage_count != first.passage_count


def test_a_sources_links_are_part_of_its_key_only_when_it_has_some(tmp_path, analyzer):
    """Which paragraphs are passages depends on the links (lists of links are not), so a
    source's links are in its key; a source without links keeps the key it always had."""
    from bot.sources.corpus import Link

    cache = bot.search.cache.PassageCache(tmp_path, analyzer, 2)
    plain = source("gamma", "The ferry stops in December.")
    linked = source("gamma", plain.text, links=(Link("ferry timetable", "https://x.test/t"),))
    other = source("gamma", plain.text, links=(Link("winter timetable", "https://x.test/t"),))
    assert len({cache.key(plain), cache.key(linked), cache.key(other)}) == 3
    assert cache.key(plain) == cache.key(source("gamma", plain.text, title="Another title"))


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"not a zip file at all",
        "truncate",
        "inconsistent",
        "compressed",
        "negative",
    ],
)
def test_damaged_cache_entry_is_ignored_and_rebuilt(make_bot, processed, damage):
    first = make_bot(A, B)
    path = first.config.state_dir / "stories" / "1" / "cache" / "passages" / "alpha-report.npz"
    assert path.is_file()
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:100])
    elif damage in ("inconsistent", "compressed", "negative"):
        with np.load(path) as data:
            arrays = dict(data)
        if damage == "inconsistent":
            arrays["term_ids"] = arrays["term_ids"] + 10_000  # points past the vocabulary
        elif damage == "negative":
            arrays["bounds"][0, 0] = -5  # an offset before the text
        with path.open("wb") as handle:
            # Deflated: refused unread (a small file could expand into gigabytes).
            (np.savez_compressed if damage == "compressed" else np.savez)(handle, **arrays)
    else:
        path.write_bytes(damage)
    processed.clear()
    second = restart(first)
    assert processed == ["alpha-report"]
    assert_same_index(first, second)
    # The rewritten entry is good again.
    processed.clear()
    restart(first)
    assert processed == []


def test_incremental_add_and_remove_equal_a_full_rebuild(make_bot, processed, tmp_path):
    bot_ = make_bot(A, B)
    processed.clear()
    added = bot_.add_source(NEW_TEXT, "Harbour news", publisher="Gazette")
    assert processed == [added.id]
    answer = bot_.ask("Why was the lighthouse rebuilt?")
    assert answer.answered and answer.excerpts[0].source.id == added.id

    scratch_state = tmp_path / "scratch"
    data = {**bot_.config.raw, "corpus": {"dir": "corpus", "state_dir": str(scratch_state)}}
    scratch = StoryBot(config_from_dict(data, base=tmp_path), analyzer=bot_.analyzer)
    assert_same_index(bot_, scratch)

    processed.clear()
    bot_.remove_source("beta-report")
    assert processed == []
    assert not (
        bot_.config.state_dir / "stories" / "1" / "cache" / "passages" / "beta-report.npz"
    ).exists()
    assert all(p.source_id != "beta-report" for p in passages(bot_))
    assert_same_index(bot_, restart(bot_))


def test_empty_corpus_never_crashes(make_bot):
    bot_ = make_bot(seed=False)
    assert bot_.passage_count == 0
    answer = bot_.ask("Who directed the film?")
    assert not answer.answered
    added = bot_.add_source(NEW_TEXT, "Harbour news")
    assert bot_.ask("Why was the lighthouse rebuilt?").answered
    bot_.remove_source(added.id)
    assert bot_.passage_count == 0
    assert not bot_.ask("Why was the lighthouse rebuilt?").answered


@pytest.mark.parametrize("variant", ["BM25L", "BM25Plus", "BM25Okapi"])
def test_the_index_built_from_the_cache_s_arrays_equals_one_built_from_passages(make_bot, variant):
    """The engine's index reads each passage's terms as vocabulary ids the cache keeps (no
    pass over every term in Python); it must be exactly the index built from the passages,
    vocabulary order (BM25Okapi's mean idf is summed in it) and every score included, also
    after sources come and go (the cache's vocabulary then holds terms no passage has)."""
    from bot.search.cache import PassageList
    from bot.search.index import Index

    bot_ = make_bot(A, B, config={"retrieval": {"variant": variant}})
    bot_.remove_source("beta-report")
    bot_.add_source(NEW_TEXT, "Harbour news")
    fast = bot_.retriever.index
    segments = bot_.open_story.story.loaded().segments
    assert isinstance(segments.passages.passages(bot_.sources), PassageList)
    slow = Index(list(bot_.passages), bot_.config.retrieval)
    assert list(fast._vocab.items()) == list(slow._vocab.items())
    assert list(fast.doc_freq.items()) == list(slow.doc_freq.items())
    assert np.array_equal(fast._rows, slow._rows)
    for name in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(fast._matrix, name), getattr(slow._matrix, name))
    assert np.array_equal(fast._idf, slow._idf)
    for query in (*QUERIES, ["lighthouse", "lighthouse", "film"], ["beta", "petition"]):
        assert np.array_equal(fast.scores(query), slow.scores(query))
        assert fast.top(query, 5) == slow.top(query, 5)


def test_passages_read_from_the_cache_are_the_ones_split_makes(make_bot):
    """After a restart each passage is made from its cache file's arrays when it is read (no
    list of them all): every way of reading them gives exactly ``split``'s passages."""
    from bot.search.passages import split

    first = make_bot(A, B)
    expected = [p for s in first.sources for p in split(s, first.analyzer)]
    second = restart(first)
    read = second.passages
    assert not isinstance(read, list)
    assert read == expected and expected == read
    assert list(read) == expected
    assert [read[i] for i in range(len(read))] == expected
    assert [read[i] for i in range(-len(read), 0)] == expected
    assert read[1:4] == expected[1:4]
    with pytest.raises(IndexError):
        read[len(read)]
    by_source = read.by_source()
    assert list(by_source) == [s.id for s in second.sources]
    for s in second.sources:
        assert list(by_source[s.id]) == [p for p in expected if p.source_id == s.id]
    # The same strings as the index's vocabulary (one object per term).
    vocab = {t: t for t in second.retriever.index._vocab}
    assert all(vocab[t] is t for p in read for t in p.terms)


def test_a_stale_cache_file_that_cannot_be_removed_costs_only_disk(make_bot, monkeypatch, caplog):
    """A read-only state directory (a mount; root here can write anywhere, so the refusal is
    simulated): the cache file of a removed source stays, and the bot answers as before."""
    from pathlib import Path

    bot = make_bot(A, B, seed=False)
    real = Path.unlink

    def read_only(path, missing_ok=False):
        if path.suffix == ".npz":
            raise OSError(30, "Read-only file system", str(path))
        return real(path, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only)
    bot.remove_source("beta-report", removed_by="test")
    answer = bot.ask("What did the festival jury praise?")
    shown = [*answer.excerpts, *answer.closest]
    assert shown and {e.source.id for e in shown} == {"alpha-report"}
    assert "cannot remove" in caplog.text and "beta-report" in caplog.text
