"""Passages, retrieval and abstention on the shipped story and on small corpora."""

import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from bot.presentation import answer_record, excerpt_link, text_fragment_url
from bot.search.passages import split
from bot.search.retrieval import MAX_QUESTION_CHARS, QuestionError
from helpers import source

HERE = Path(__file__).parents[1] / "data"


def questions(name):
    return [json.loads(line) for line in (HERE / name).read_text().splitlines() if line.strip()]


ALL_QUESTIONS = questions("dev-questions.jsonl") + questions("more-questions.jsonl")


def test_passages_are_exact_slices_within_one_paragraph(make_bot, analyzer):
    bot = make_bot()
    story = bot.sources[0]
    passages = split(story, analyzer, window=2)
    assert len(passages) > 10
    for p in passages:
        text = story.text[p.start : p.end]
        assert text == text.strip() and text
        assert "\n\n" not in text
        assert p.sentence_starts[0] == p.start
    assert not any("Tiger King" in story.text[p.start : p.end] for p in passages)
    assert "Check these out" not in story.text[: max(p.end for p in passages)]


@pytest.mark.parametrize("item", ALL_QUESTIONS, ids=lambda item: item["q"])
def test_every_excerpt_is_a_slice_of_its_source(make_bot, item):
    bot = make_bot()
    answer = bot.ask(item["q"], 5)
    for excerpt in answer.excerpts:
        assert excerpt.text == excerpt.source.text[excerpt.start : excerpt.end]
        assert excerpt.text
        for a, b in excerpt.highlights:
            assert 0 <= a < b <= len(excerpt.text)


def test_overlapping_windows_are_merged(make_bot):
    bot = make_bot()
    answer = bot.ask("Who tweeted a clip of the girls dancing?", 5)
    spans = [(e.source.id, e.start, e.end) for e in answer.excerpts]
    for i, (sid, a, b) in enumerate(spans):
        for sid2, a2, b2 in spans[i + 1 :]:
            assert sid != sid2 or b <= a2 or b2 <= a, "excerpts of one source overlap"
    scores = [e.score for e in answer.excerpts]
    assert scores == sorted(scores, reverse=True)


def test_highlights_mark_question_words(make_bot):
    answer = make_bot().ask("How many people signed the petition?")
    top = answer.excerpts[0]
    marked = {top.text[a:b].lower() for a, b in top.highlights}
    assert {"signed", "petition", "people"} <= marked


def test_unanswerable_questions_abstain_with_a_reason(make_bot):
    bot = make_bot()
    for question in ["Who won the 2019 World Series?", "What is the weather in Paris?"]:
        answer = bot.ask(question)
        assert not answer.answered
        assert answer.excerpts == []
        assert answer.reason == "off_topic" and answer.kind == "nothing"
    assert bot.ask("Who is it that they were?").reason == "no_terms"


LEXICAL = {"semantic": {"enabled": False}}


def test_min_coverage_zero_never_abstains_and_one_needs_every_word(make_bot):
    lenient = make_bot(config={"retrieval": {"min_coverage": 0.0}, **LEXICAL})
    assert lenient.ask("Who won the 2019 World Series?").answered
    strict = make_bot(config={"retrieval": {"min_coverage": 1.0}, **LEXICAL})
    assert strict.ask("How did Netflix defend Cuties?").answered
    assert not strict.ask("What rating did NME give the film?").answered


def test_aliases_expand_questions(make_bot):
    # The source says only "Cuties", the question only "Mignonnes": the alias group
    # ["Cuties", "Mignonnes"] is the only thing that can connect them.
    film = source(
        "film",
        "Cuties was directed by Maïmouna Doucouré and premiered at the Sundance Film Festival "
        "in January 2020.",
    )
    question = "Who directed Mignonnes?"
    with_alias = make_bot(film, seed=False).ask(question)
    assert (with_alias.excerpts or with_alias.closest)[0].source.id == "film"
    assert {"mignonnes", "cuties"} <= set(with_alias.terms)
    no_alias = make_bot(seed=False, config={"aliases": {"groups": []}}).ask(question)
    assert "cuties" not in no_alias.terms
    assert not no_alias.answered


def test_unknown_word_finds_its_family_in_the_corpus(make_bot):
    bot = make_bot(
        source("crit", "Critics voiced strong criticism of the casting decision."), seed=False
    )
    answer = bot.ask("Who criticized the casting?")
    assert answer.answered
    assert "criticism" in answer.terms


def test_empty_corpus_answers_nothing_without_crashing(make_bot):
    bot = make_bot(seed=False)
    answer = bot.ask("Who directed Cuties?")
    assert not answer.answered and answer.excerpts == []


def test_corpus_of_passages_without_terms(make_bot):
    bot = make_bot(source("dots", "... !!! ???"), seed=False)
    assert not bot.ask("Anything there?").answered


@pytest.mark.parametrize("question", ["", "   \n\t ", "x" * 10_000])
def test_bad_questions_raise_clear_errors(make_bot, question):
    bot = make_bot()
    with pytest.raises(QuestionError) as err:
        bot.ask(question)
    assert "question" in str(err.value).lower()
    if len(question) > MAX_QUESTION_CHARS:
        assert "10,000" in str(err.value)


def test_long_question_under_the_limit_is_answered(make_bot):
    question = "How many people signed the petition to remove Cuties? " * 15
    assert len(question) < MAX_QUESTION_CHARS
    answer = make_bot().ask(question)
    assert answer.kind != "nothing" and "300,000" in (answer.excerpts or answer.closest)[0].text


def test_a_new_source_is_answerable_and_removal_forgets_it(make_bot):
    bot = make_bot()
    question = "Which streaming rival bid for the zebra documentary?"
    assert not bot.ask(question).answered
    added = bot.add_source(
        "Hulu bid for the zebra documentary in March.",
        "Zebra documentary rights",
        publisher="Example Times",
        url="https://example.org/zebra",
    )
    answer = bot.ask(question)
    assert answer.answered and answer.excerpts[0].source.id == added.id
    bot.remove_source(added.id)
    assert not bot.ask(question).answered


def test_text_fragment_links():
    url = text_fragment_url("https://example.org/a#old", "Netflix said, in a self-defence - no.")
    assert url.startswith("https://example.org/a#:~:text=")
    fragment = url.split("#:~:text=", 1)[1]
    assert "," not in fragment and "-" not in fragment and " " not in fragment
    assert unquote(fragment) == "Netflix said, in a self-defence - no."
    long = text_fragment_url("https://x.org/", " ".join(f"w{i}" for i in range(20)))
    start, end = long.split("#:~:text=", 1)[1].split(",")
    assert unquote(start) == "w0 w1 w2 w3" and unquote(end) == "w16 w17 w18 w19"
    assert text_fragment_url("", "text") == ""


def test_excerpt_link_points_at_the_first_quoted_sentence(make_bot):
    bot = make_bot(
        source(
            "paper",
            "The council met on Monday. It voted to ban the zebra parade.",
            url="https://paper.example/story",
        ),
        seed=False,
    )
    excerpt = bot.ask("Did the council ban the zebra parade?").excerpts[0]
    link = excerpt_link(excerpt)
    assert unquote(link.split("#:~:text=")[1]).startswith(excerpt.text.split(".")[0])


def test_json_record_shape(make_bot):
    record = answer_record(make_bot().ask("How many people signed the petition?"))
    assert set(record) == {"question", "kind", "answered", "excerpts", "closest", "message"}
    for e in record["excerpts"]:
        assert set(e) == {"text", "score", "start", "end", "source"}
        assert set(e["source"]) == {"id", "title", "publisher", "url", "published"}


def test_changes_by_another_process_are_picked_up(make_bot, monkeypatch):
    import bot.stories.story
    from bot.sources.corpus import Corpus

    monkeypatch.setattr(bot.stories.story, "REFRESH_SECONDS", 0.0)
    running = make_bot()
    question = "Which streaming rival bid for the zebra documentary?"
    assert not running.ask(question).answered
    # The CLI, in another process, writes to the same corpus directory.
    Corpus(running.config.corpus_dir).write(
        source("zebra", "Hulu bid for the zebra documentary in March.")
    )
    running.ask(question)  # sees the change: the new snapshot is built in the background
    running.refresh_if_changed(wait=True)
    answer = running.ask(question)
    assert answer.answered and answer.excerpts[0].source.id == "zebra"
    Corpus(running.config.corpus_dir).remove("zebra")
    running.ask(question)
    running.refresh_if_changed(wait=True)
    assert not running.ask(question).answered


def test_questions_never_wait_for_a_reload_of_another_process_s_change(make_bot, monkeypatch):
    """While the snapshot with another process's new source is being built (held here until
    released), questions are answered at once from the current one; then it is swapped in."""
    import threading

    import bot.stories.story
    from bot.search.snapshot import Segments
    from bot.sources.corpus import Corpus

    monkeypatch.setattr(bot.stories.story, "REFRESH_SECONDS", 0.0)
    running = make_bot()
    building, release = threading.Event(), threading.Event()
    real_build = Segments.build

    def held_build(self, *args, **kwargs):
        if threading.current_thread().name == "storybot-reload":
            building.set()
            assert release.wait(10)
        return real_build(self, *args, **kwargs)

    monkeypatch.setattr(Segments, "build", held_build)
    question = "Which streaming rival bid for the zebra documentary?"
    Corpus(running.config.corpus_dir).write(
        source("zebra", "Hulu bid for the zebra documentary in March.")
    )
    assert not running.ask(question).answered  # starts the reload, answers from the old one
    assert building.wait(10)
    for _ in range(3):  # the reload is held: every question is answered from the old snapshot
        assert not running.ask(question).answered
    assert "zebra" not in {s.id for s in running.sources}
    release.set()
    running.refresh_if_changed(wait=True)
    assert running.ask(question).answered
    assert "zebra" in {s.id for s in running.sources}


def test_refresh_is_rate_limited(make_bot, analyzer):
    from bot.engine import REFRESH_SECONDS, StoryBot

    now = [100.0]
    running = StoryBot(make_bot().config, analyzer=analyzer, clock=lambda: now[0])
    Corpus = type(running.corpus)
    Corpus(running.config.corpus_dir).write(source("zebra", "Hulu bid for the zebra film."))
    # Within REFRESH_SECONDS of the last check, questions are answered from the snapshot.
    now[0] += REFRESH_SECONDS * 0.99
    assert not running.refresh_if_changed()
    assert "zebra" not in {s.id for s in running.sources}
    # Then the next check sees the change.
    now[0] += REFRESH_SECONDS * 0.02
    assert running.refresh_if_changed(wait=True)
    assert "zebra" in {s.id for s in running.sources}


def test_an_answer_always_quotes_a_passage_that_passes_the_threshold(make_bot):
    """Without the semantic layer (its rule has no per-passage threshold)."""
    bot = make_bot(config=LEXICAL)
    minimum = bot.config.retrieval.min_coverage
    for item in ALL_QUESTIONS:
        for k in (1, 2, 3):
            answer = bot.ask(item["q"], k)
            if answer.answered:
                assert len(answer.excerpts) <= k
                assert max(e.coverage for e in answer.excerpts) >= minimum, (item["q"], k)
    answer = bot.ask("What did NME say about Cuties?", 1)
    assert "NME" in answer.excerpts[0].text


def test_no_sentence_is_quoted_twice_in_one_answer(make_bot):
    import itertools
    import random

    bot = make_bot(config={"retrieval": {"min_coverage": 0.0}})
    words = sorted({w.strip('.,"') for w in bot.sources[0].text.split() if len(w) > 3})
    rng = random.Random(7)
    for _ in range(400):
        answer = bot.ask(" ".join(rng.sample(words, 5)), 5)
        spans = sorted((e.source.id, e.start, e.end) for e in answer.excerpts)
        for (s1, _, end1), (s2, start2, _) in itertools.pairwise(spans):
            assert s1 != s2 or end1 <= start2, answer.question


def test_add_checks_see_sources_another_process_added(make_bot):
    from bot.sources.corpus import Corpus

    running = make_bot()  # REFRESH_SECONDS not lowered: no question refreshes the snapshot
    Corpus(running.config.corpus_dir).write(
        source("bridge", "The bridge opened.", url="https://x.org/b")
    )
    seen: list[str] = []
    running.add_source(
        "The tunnel opened.", "Tunnel", check=lambda ss: seen.extend(s.id for s in ss)
    )
    assert "bridge" in seen


def test_an_opening_quotation_mark_starts_the_sentence_it_opens(make_bot, analyzer):
    text = 'The council spoke. "We will build it," the mayor said. Work starts in May.'
    story = source("quoted", text)
    passages = split(story, analyzer, window=1)
    quoted = [text[p.start : p.end] for p in passages]
    assert quoted == [
        "The council spoke.",
        '"We will build it," the mayor said.',
        "Work starts in May.",
    ]


def test_a_failed_background_reload_keeps_the_current_snapshot(make_bot, monkeypatch, caplog):
    import bot.stories.story
    from bot.search.snapshot import Segments
    from bot.sources.corpus import Corpus

    monkeypatch.setattr(bot.stories.story, "REFRESH_SECONDS", 0.0)
    running = make_bot()
    before = running.ask("Who directed Cuties?")
    real_build = Segments.build

    def broken(self, *args, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(Segments, "build", broken)
    Corpus(running.config.corpus_dir).write(source("zebra", "Hulu bid for the zebra film."))
    running.ask("Who directed Cuties?")
    running.refresh_if_changed(wait=True)
    assert running.open_story.story.loaded().reloader.failures >= 1
    assert "reloading the corpus in the background failed" in caplog.text
    answer = running.ask("Who directed Cuties?")  # still answered, from the old snapshot
    assert answer.excerpts == before.excerpts
    monkeypatch.setattr(Segments, "build", real_build)
    running.ask("Who directed Cuties?")  # the next check tries again
    running.refresh_if_changed(wait=True)
    assert "zebra" in {s.id for s in running.sources}


def curly(text: str) -> str:
    return text.replace('"', "\u201c")


def joined(text: str) -> str:
    return text.replace("\n\n", " ", 1)


@pytest.mark.parametrize("copy", [str, curly, joined], ids=["exact", "curly-quotes", "joined"])
def test_a_near_duplicate_source_is_not_quoted_twice(make_bot, copy):
    """A syndicated copy (the same sentences in another source: retyped quotes, paragraphs
    joined) does not take a second excerpt's place."""
    import re

    bot = make_bot(config={"retrieval": {"judge": False}})
    seed = bot.sources[0]
    bot.add_source(copy(seed.text), "Syndicated copy", publisher="Wire")
    for question in ("What did Netflix say about Cuties and the petition?", "What did NME say?"):
        for k in (3, 5):
            excerpts = bot.ask(question, k).excerpts
            sentences = [
                {" ".join(re.findall(r"\w+", s.lower())) for s in re.split(r"(?<=[.!?])\s", e.text)}
                for e in excerpts
            ]
            for a in range(len(excerpts)):
                for b in range(a + 1, len(excerpts)):
                    if excerpts[a].source.id != excerpts[b].source.id:
                        shared = sentences[a] & sentences[b] - {""}
                        assert not shared, (question, k, shared)


def test_k_caps_the_closest_passages_too(make_bot):
    bot = make_bot()
    question = "How old is the director of Cuties?"  # on-topic, not answered by the story
    assert len(bot.ask(question).closest) == 2
    assert len(bot.ask(question, 1).closest) == 1
