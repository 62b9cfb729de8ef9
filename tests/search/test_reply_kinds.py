"""The three kinds of reply (answer, closest passage, nothing), the answer judge, typo matching
and headlines as metadata.

Answers about the shipped story depend on the shipped models: these are regression pins of
behaviour measured on data the models never saw (README, "Answer quality"), not tuned here.
"""

from pathlib import Path

import pytest

from bot.presentation import NO_TERMS, NOT_SURE, NOTHING, answer_record, reply_line
from bot.search.passages import is_headline, is_link_list, split
from bot.search.retrieval import ANSWER, CLOSEST
from bot.search.retrieval import NOTHING as NOTHING_KIND
from bot.sources.corpus import Link
from helpers import source

OFF_TOPIC = ["How do I bake sourdough bread?", "asdfgh qwerty", "What is the capital of Peru?"]


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_and_gibberish_get_nothing_and_no_passage(make_bot, question):
    answer = make_bot().ask(question)
    assert answer.kind == NOTHING_KIND and not answer.answered
    assert answer.closest == [] and answer.excerpts == []
    record = answer_record(answer)
    assert record["answered"] is False and record["closest"] == [] and record["kind"] == "nothing"
    assert reply_line(answer) in (NOTHING, NO_TERMS)
    assert "share" not in reply_line(answer)  # no claim of shared words


def test_a_question_without_words_to_look_up_says_so(make_bot):
    answer = make_bot().ask("what is it?")
    assert answer.kind == NOTHING_KIND and reply_line(answer) == NO_TERMS


def test_an_answerable_question_is_answered_with_the_passage(make_bot):
    answer = make_bot().ask("How many people signed the petition?")
    assert answer.kind == ANSWER and answer.answered
    assert "300,000" in answer.excerpts[0].text


def test_a_question_about_the_story_it_does_not_answer_shows_the_closest_passage(make_bot):
    """On-topic, not answered by the story (its director's age is never given)."""
    answer = make_bot().ask("How old is the director of Cuties?")
    assert answer.kind == CLOSEST and not answer.answered
    assert 1 <= len(answer.closest) <= 2 and answer.excerpts == []
    for excerpt in answer.closest:
        assert excerpt.text == excerpt.source.text[excerpt.start : excerpt.end]
    record = answer_record(answer)
    assert record["answered"] is False and record["closest"] and record["kind"] == "closest"
    assert reply_line(answer).startswith(NOT_SURE.split(".")[0])


def test_kind_follows_from_answered_and_closest_when_not_given(make_bot):
    from bot.search.retrieval import Answer

    assert Answer("q", True).kind == ANSWER
    assert Answer("q", False).kind == NOTHING_KIND
    excerpt = make_bot().ask("Who directed Cuties?").excerpts[0]
    assert Answer("q", False, closest=[excerpt]).kind == CLOSEST


def test_a_typo_is_read_as_the_nearest_corpus_word(make_bot):
    bot = make_bot()
    answer = bot.ask("how many peple signed the petiton")
    assert answer.answered and "300,000" in answer.excerpts[0].text
    assert "petition" in answer.terms and "petiton" not in answer.terms


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("petiton", "petition"),  # 7 letters: one edit
        ("spokesprsn", "spokesperson"),  # 10 letters: up to two edits
        ("pxtxtxon", None),  # 8 letters, three edits: too far
        ("filn", None),  # 4 letters: never matched by spelling
        ("xetition", None),  # the first letter must match
    ],
)
def test_typo_matching_limits(make_bot, word, expected):
    retriever = make_bot().retriever
    assert retriever._nearest_word(word) == expected


def test_a_headline_first_line_is_not_a_passage(make_bot, analyzer):
    text = (
        "Cuties director defends film at Berlin panel\n\n"
        "The director of Cuties spoke at a panel in Berlin on Friday. She said the film "
        "criticises the sexualisation of children rather than endorsing it.\n"
    )
    s = source("berlin", text, title="Cuties director defends film at Berlin panel")
    passages = split(s, analyzer)
    assert passages and all(p.start > len("Cuties director defends") for p in passages)
    bot = make_bot(s)
    answer = bot.ask("What did the Cuties director say at the Berlin panel?")
    shown = answer.excerpts or answer.closest
    assert shown and not any(e.text.startswith("Cuties director defends") for e in shown)


@pytest.mark.parametrize(
    ("paragraph", "title", "headline"),
    [
        ("Cuties director defends film", "Cuties director defends film", True),
        ("# Cuties director defends film.", "cuties director  defends film", True),
        ("A headline the moderator retitled", "Another title", True),
        ("Netflix defended the film as social commentary.", "Netflix defended the film", False),
        ("One sentence.\nAnother line without a stop", "x", False),
        (" ".join(["word"] * 31), "x", False),
    ],
)
def test_what_counts_as_a_headline(paragraph, title, headline):
    assert is_headline(paragraph, title) is headline


@pytest.mark.parametrize(
    ("paragraph", "link_list"),
    [
        ("Also today: The ten best pizza places in town.", True),
        ("Read more: Director Doucouré on the poster and\nThe ten best pizza places in town", True),
        ("The council met on Tuesday; see the minutes for the vote on the harbour bridge.", False),
        (
            "The ten best pizza places in town were ranked by a critic who ate at forty places.",
            False,
        ),
    ],
)
def test_a_paragraph_mostly_of_link_text_is_a_list_of_links(paragraph, link_list):
    anchors = ("The ten best pizza places in town", "Director Doucouré on the poster", "minutes")
    assert is_link_list(paragraph, anchors) is link_list


def test_a_list_of_links_is_not_a_passage_but_the_rest_is(analyzer):
    body = "The council approved the harbour bridge on Tuesday after a long debate."
    text = f"{body}\n\nAlso today: The ten best pizza places in town."
    linked = source(
        "roundup", text, links=(Link("The ten best pizza places in town", "https://x.test/p"),)
    )
    assert [text[p.start : p.end] for p in split(linked, analyzer)] == [body]
    assert len(split(source("roundup", text), analyzer)) == 2  # without links: two paragraphs


def test_the_shipped_story_keeps_its_first_sentence(make_bot, analyzer):
    story = make_bot().sources[0]
    assert split(story, analyzer)[0].start == 0


def test_the_judge_reorders_by_what_the_question_type_asks_for():
    from bot.search.judge import answer_type_cue

    assert answer_type_cue("Who directed it?", "It was made by Maïmouna Doucouré.") == 1.0
    assert answer_type_cue("Who directed it?", "it was made in a hurry.") == 0.0
    assert answer_type_cue("How many people signed?", "over 300,000 people") == 1.0
    assert answer_type_cue("When did it premiere?", "It premiered at Sundance in 2020.") == 1.0
    assert answer_type_cue("When did it premiere?", "It premiered at Sundance.") == 0.0
    assert answer_type_cue("Why did they object?", "anything") == 0.5


def test_a_window_that_holds_the_asked_type_outranks_one_that_does_not():
    from bot.search import judge

    def score(cue):
        features = judge.window_features(0.5, 0.5, 0.5, 0.5, 0.5, cue, 0.5)
        return judge.logit(judge.WINDOW_WEIGHTS, features)

    assert score(1.0) > score(0.5) > score(0.0)


def test_judge_off_uses_the_evidence_rule(make_bot):
    bot = make_bot(config={"retrieval": {"judge": False}})
    assert bot.retriever.settings.judge is False
    answer = bot.ask("How many people signed the petition?")
    assert answer.answered and "300,000" in answer.excerpts[0].text
    assert bot.ask("How do I bake sourdough bread?").kind == NOTHING_KIND


@pytest.mark.parametrize(
    "bad", [{"min_about": 3.5}, {"min_answer": -11.0}, {"judge": "yes"}, {"min_answer": "x"}]
)
def test_answer_rule_settings_are_checked(tmp_path, bad):
    from bot.config import ConfigError, config_from_dict

    with pytest.raises(ConfigError, match=r"\[retrieval\]"):
        config_from_dict({"retrieval": bad}, base=Path(tmp_path))


def test_feed_relevance_does_not_read_words_as_typos(make_bot):
    """match() judges whether a feed item is about the story; an unknown word there is a new
    word, not a typo (the relevance threshold was calibrated without typo matching)."""
    bot = make_bot()
    assert "petition" in bot.ask("how many peple signed the petiton").terms
    assert "petition" not in bot.match("petiton drive for a new skatepark").terms
