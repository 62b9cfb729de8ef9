"""Retriever.match: any text scored by the answer rule's own number (feed relevance)."""

from __future__ import annotations

import pytest

from bot.search.retrieval import MAX_QUESTION_CHARS

ON_TOPIC = (
    "Texas grand jury indicts Netflix over Cuties. The streaming service faces a charge over "
    "the French film by Maïmouna Doucouré that critics said sexualized young girls."
)
OFF_TOPIC = (
    "Council approves harbour bridge after nine-hour debate. Councillors voted seven to two "
    "in favour of the plan, according to the published minutes."
)


@pytest.mark.parametrize("semantic", [True, False])
def test_on_topic_text_scores_above_the_feed_threshold_and_off_topic_below(make_bot, semantic):
    bot = make_bot(config={"semantic": {"enabled": semantic}})
    settings = bot.config.feeds
    threshold = settings.min_relevance if semantic else settings.min_relevance_lexical

    on, off = bot.match(ON_TOPIC), bot.match(OFF_TOPIC)

    assert on.semantic is semantic and off.semantic is semantic
    assert on.evidence >= threshold > off.evidence
    assert {"netflix", "cuties"} <= set(on.terms)
    excerpt = on.excerpt
    assert excerpt.text == excerpt.source.text[excerpt.start : excerpt.end]
    assert excerpt.highlights  # the shared words, for showing why it matched


def test_long_and_empty_texts(make_bot):
    bot = make_bot()
    long = ON_TOPIC + " " + "word " * MAX_QUESTION_CHARS
    assert bot.match(long).evidence > 0  # cut at a word boundary, not refused
    assert bot.match("").evidence == 0.0 and bot.match("").excerpt is None
    assert bot.match("!!! ???").evidence == 0.0
