"""The semantic layer inside retrieval: vectors per passage and sentence, cached per source;
fused ranking; the evidence rule; closest passages on a refusal; short, relevant excerpts."""

from __future__ import annotations

import numpy as np
import pytest

from bot.search.semantic import sentence_spans
from helpers import source

FERRY = source(
    "ferry",
    "The harbour ferry stops running in December because the operator lost money. "
    "Ferry tickets were already twice as expensive as the bus.\n\n"
    "The kiosk at the pier sells ferry tickets, maps and postcards. It opens at nine.",
)
ZOO = source(
    "zoo",
    "The zoo's new giraffe house opened on Saturday. Keepers fed the giraffes lettuce.\n\n"
    "Visitors queued for an hour to see the animals.",
)
LEXICAL = {"semantic": {"enabled": False}}


def test_every_window_and_sentence_gets_a_vector_and_sentences_are_exact_slices(make_bot):
    bot = make_bot(FERRY, ZOO, seed=False)
    for s in bot.sources:
        passages = [p for p in bot.passages if p.source_id == s.id]
        spans, members = sentence_spans(s.text, passages)
        assert len(members) == len(passages)
        for p, member in zip(passages, members, strict=True):
            # A window's sentences, in order, are exactly the window's text.
            starts = [spans[i][0] for i in member]
            assert starts == list(p.sentence_starts)
            assert spans[member[-1]][1] == p.end
            for i in member:
                a, b = spans[i]
                assert s.text[a:b] == s.text[a:b].strip() and p.start <= a < b <= p.end


def test_vectors_are_cached_per_source_and_only_changes_are_embedded(make_bot, tmp_path):
    bot = make_bot(FERRY, seed=False)
    vectors = tmp_path / "state" / "stories" / "1" / "cache" / "vectors"
    assert sorted(p.name for p in vectors.glob("*.npz")) == ["ferry.npz"]
    again = make_bot(seed=False)  # a new engine over the same state
    assert again.vector_builds == 0
    again.add_source(ZOO.text, "Zoo")
    assert again.vector_builds == 1  # only the new source
    (vectors / "ferry.npz").write_bytes(b"not a zip file")
    damaged = make_bot(seed=False)
    assert damaged.vector_builds == 1  # the damaged file is ignored, the source embedded again
    answer = damaged.ask("Why is the harbour ferry stopping?")
    assert "operator lost money" in (answer.excerpts or answer.closest)[0].text
    assert np.load(vectors / "ferry.npz")["windows"].shape[1] == 384
    bot.remove_source("ferry")
    assert not (vectors / "ferry.npz").exists()


def test_a_paraphrase_finds_its_passage_where_bm25_finds_nothing(make_bot):
    question = "Why will the boat service end?"  # no word of it is in the corpus
    lexical = make_bot(FERRY, ZOO, seed=False, config=LEXICAL).ask(question)
    assert not lexical.answered and lexical.reason == "off_topic" and lexical.closest == []
    # The same corpus; min_about 0: whatever the evidence, show the nearest passage (with the
    # shipped threshold this paraphrase, sharing no word, is judged not about the sources).
    semantic = make_bot(seed=False, config={"retrieval": {"min_about": 0.0}}).ask(question)
    nearest = (semantic.excerpts or semantic.closest)[0]
    assert "operator lost money" in nearest.text


def test_the_evidence_threshold_decides_without_the_judge(make_bot):
    question = "When does the giraffe house open?"
    rules = {"judge": False, "min_about": 0.0}
    always = make_bot(FERRY, ZOO, seed=False, config={"retrieval": rules | {"min_evidence": 0.0}})
    assert always.ask(question).answered
    never = make_bot(seed=False, config={"retrieval": rules | {"min_evidence": 3.0}})
    refused = never.ask(question)
    assert not refused.answered and refused.reason == "not_sure" and refused.kind == "closest"
    # A refusal still offers the nearest passages, verbatim, best first.
    assert "giraffe house opened" in refused.closest[0].text
    for e in refused.closest:
        assert e.source.text[e.start : e.end] == e.text
    assert [e.score for e in refused.closest] == sorted(
        (e.score for e in refused.closest), reverse=True
    )


def test_off_topic_questions_are_refused_and_on_topic_ones_answered(make_bot):
    bot = make_bot(FERRY, ZOO, seed=False)
    assert bot.ask("Why is the harbour ferry stopping in December?").answered
    for question in ("Who won the 2019 World Series?", "What is the capital of Mongolia?"):
        answer = bot.ask(question)
        assert not answer.answered, question


def test_supporting_excerpts_must_be_relevant_on_their_own(make_bot):
    """Slot 1 answers; the kiosk passage only shares "ferry" with the question and is not shown,
    although three excerpts were asked for. Without the semantic layer it fills a slot."""
    question = "Why is the harbour ferry stopping in December?"
    answer = make_bot(FERRY, ZOO, seed=False).ask(question, 3)
    assert answer.answered and len(answer.excerpts) == 1
    assert "operator lost money" in answer.excerpts[0].text
    lexical = make_bot(seed=False, config=LEXICAL).ask(question, 3)
    assert any("kiosk" in e.text for e in lexical.excerpts[1:])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_semantic_excerpts_stay_short(make_bot, k):
    long_paragraph = " ".join(
        f"Sentence {n} of the harbour report describes ferry timetable number {n} in detail."
        for n in range(40)
    )
    bot = make_bot(source("report", long_paragraph), seed=False)
    answer = bot.ask("What does the harbour report say about ferry timetables?", k)
    passages = {(p.start, p.end) for p in bot.passages}
    for e in answer.excerpts or answer.closest:
        # At most 600 characters, unless a single window is longer on its own.
        assert len(e.text) <= 600 or (e.start, e.end) in passages


def test_the_cache_holds_each_source_s_vectors_once_as_views_of_the_index(
    make_bot, tmp_path, monkeypatch
):
    """After a build, the per-source vectors the cache keeps (for incremental rebuilds) are
    views into the stacked index, not a second copy of every vector; a rebuild after an add
    reuses the blocks of the sources that did not change and gives the same cosines as an
    index built from scratch."""
    import bot.search.semantic as semantic
    from bot.search.cache import PassageCache
    from bot.search.embeddings import embedder_for
    from bot.search.semantic import SemanticIndex, VectorCache

    monkeypatch.setattr(semantic, "BLOCK_VECTORS", 8)  # one block per source here
    bot = make_bot(FERRY, ZOO, seed=False)
    cache = VectorCache(tmp_path / "vectors", embedder_for(bot.config.semantic))
    keys = PassageCache(None, bot.analyzer, bot.config.nlp.window_sentences)

    def per_source(b):
        return [(s, keys.key(s), [p for p in b.passages if p.source_id == s.id]) for s in b.sources]

    index = cache.index(per_source(bot))
    kept = cache.vectors(per_source(bot))  # unchanged sources: what the cache holds
    assert cache.embedded == 2  # embedded once, by the first call
    for held, view in zip(kept, index.per_source(), strict=True):
        assert np.shares_memory(held.windows, view.windows)
        assert np.shares_memory(held.sentences, view.sentences)
        assert np.array_equal(held.windows, view.windows)
    assert all(v.windows.base is not None for v in kept)  # views, not copies
    bot.add_source("The museum reopens in May after a new roof was built.", "Museum")
    again = cache.index(per_source(bot))
    assert cache.embedded == 3
    # Both old blocks are reused as they are; only the new source's vectors were stacked.
    assert len(again._blocks) == 3
    assert all(any(old is new for new in again._blocks) for old in index._blocks)
    scratch = SemanticIndex(cache.vectors(per_source(bot)), cache.embedder)
    question = cache.embedder.embed(["When does the museum reopen?"])[0]
    for mine, theirs in zip(
        vars(again.cosines(question)).values(),
        vars(scratch.cosines(question)).values(),
        strict=True,
    ):
        assert np.array_equal(mine, theirs)


@pytest.mark.parametrize("damage", ["nan", "compressed", "rows", "truncated", "objects", "key"])
def test_a_damaged_vector_file_is_refused_and_that_source_embedded_again(make_bot, damage):
    """Cache contents are checked, not trusted once the key matches (issue 20, item 14):
    non-finite vectors, a deflated file (it could expand into gigabytes), rows out of range,
    a size that does not match the declared shape, object arrays (pickle): each is refused
    before use, and only that source is embedded again, with the same answers."""
    bot = make_bot(FERRY, ZOO, seed=False)
    question = "Why will the boat service end?"
    before = bot.ask(question)
    path = bot.open_story.story.cache_dir / "vectors" / "ferry.npz"
    with np.load(path) as data:
        arrays = dict(data)
    if damage == "nan":
        arrays["windows"][0, 0] = np.nan
    elif damage == "rows":
        arrays["sentence_first"][-1] = len(arrays["sentences"])
    elif damage == "objects":
        arrays["sentence_count"] = np.array([object()] * len(arrays["sentence_count"]))
    elif damage == "key":
        arrays["key"] = np.array("another key")
    if damage == "compressed":
        np.savez_compressed(path, **arrays)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-200])
    else:
        np.savez(path, **arrays)
    again = make_bot(seed=False)
    assert again.vector_builds == 1  # ferry only; zoo came from its file
    after = again.ask(question)
    assert [(e.source.id, e.start, e.end, e.score) for e in after.excerpts or after.closest] == [
        (e.source.id, e.start, e.end, e.score) for e in before.excerpts or before.closest
    ]
    with np.load(path) as data:  # rewritten, good again
        assert np.isfinite(data["windows"]).all() and str(data["key"]) != "another key"


def test_another_process_s_vectors_are_reused_not_embedded_again(make_bot, tmp_path):
    """The CLI adds a source in another process (here: another engine over the same state):
    the running bot reloads in the background and reads the vectors the CLI wrote."""
    running = make_bot(FERRY, seed=False)
    cli = make_bot(seed=False)
    cli.add_source(ZOO.text, "Zoo news")
    assert cli.vector_builds == 1
    running.reload()
    assert running.vector_builds == 1  # ferry, at its start; the zoo was read, not embedded
    assert "zoo-news" in {s.id for s in running.sources}


def test_derived_windows_embed_sentences_only(make_bot, monkeypatch):
    """``[semantic] windows = "derived"``: only sentences go through the model; each window's
    vector is the normalised mean of its sentences' (so the embedding work is about halved)."""
    from bot.search.embeddings import Embedder
    from bot.search.semantic import derive_windows

    embedded: list[str] = []
    real = Embedder.embed

    def spy(self, texts, *args, **kwargs):
        embedded.extend(texts)
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(Embedder, "embed", spy)
    bot = make_bot(
        FERRY,
        seed=False,
        config={"semantic": {"windows": "derived"}, "retrieval": {"min_about": 0.0}},
    )
    spans, _ = sentence_spans(FERRY.text, bot.passages)
    assert embedded == [FERRY.text[a:b] for a, b in spans]  # no window text
    index = bot.retriever.semantic
    (vectors,) = index.per_source()
    expected = derive_windows(vectors.sentences, vectors.sentence_first, vectors.sentence_count)
    assert np.allclose(vectors.windows, expected)
    assert np.allclose(np.linalg.norm(vectors.windows, axis=1), 1.0, atol=1e-5)
    assert (
        "operator lost money"
        in (
            bot.ask("Why will the boat service end?").closest
            or bot.ask("Why will the boat service end?").excerpts
        )[0].text
    )
