"""The review message and the announcement, rendered from hostile and oversized data: escaped,
no live mention, within Discord's limits (checked by the end-to-end double's own rules).

The flows (posting, every button, announcements) are tested end to end in
``e2e/test_e2e_feeds.py``; here are the payloads no feed server would serve politely."""

from __future__ import annotations

import re

import pytest
from e2e.discord_limits import message_problems
from test_embeds import HOSTILE

from bot.discord.embeds import announcement_embed
from bot.discord.review import REVIEW_TEMPLATE, review_message
from bot.insights.announcements import Announcement
from bot.sources.feeds.store import Candidate
from helpers import source


def candidate(**fields) -> Candidate:
    values = dict(
        id=7,
        url="https://news.example/cuties",
        title="Texas indicts Netflix",
        summary="",
        publisher="",
        published="2020-10-01T12:00:00+00:00",
        feed_id=1,
        feed_title="Film desk",
        status="pending",
        score=1.37,
        terms=("netflix", "cuties"),
        match_source="seed-story",
        match_start=0,
        match_end=10,
        match_text="Netflix defended the film.",
        reason="",
        attempts=0,
        found_at="2020-10-01T12:00:00+00:00",
        decided_by="",
        decided_at="",
        source_id="",
    )
    return Candidate(**(values | fields))


def payload(kwargs: dict) -> dict:
    """What discord.py sends for these ``send`` keyword arguments."""
    view = kwargs.get("view")
    return {
        "content": kwargs["content"],
        "embeds": [kwargs["embed"].to_dict()],
        "components": view.to_components() if view is not None else [],
        "allowed_mentions": kwargs["allowed_mentions"].to_dict(),
    }


def rendered(sent: dict) -> str:
    """Everything Discord renders as markdown (an embed's author line is plain text)."""
    parts = [sent.get("content", "")]
    for embed in sent["embeds"]:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f['name']} {f['value']}" for f in embed.get("fields", [])]
    return "\n".join(parts)


HUGE = dict(
    url="https://news.example/" + "a" * 3000,
    title=HOSTILE * 20,
    summary=HOSTILE * 200,
    publisher="<@123> **Daily** @everyone " * 40,
    feed_title=HOSTILE * 10,
    terms=tuple(f"**w{n}** @here" for n in range(300)),
    match_source="odd`id",
    match_text=HOSTILE * 300,
)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        HUGE,
        HUGE | {"status": "accepted", "decided_by": HOSTILE * 5, "source_id": "x" * 300},
        HUGE | {"status": "known", "reason": HOSTILE * 50},
    ],
)
def test_a_review_message_stays_within_limits_whatever_the_item_says(fields):
    kwargs = review_message(candidate(**fields), note=None)
    sent = payload(kwargs)

    assert message_problems(sent, creates=True) == []
    text = rendered(sent)
    assert "@everyone" not in text and "@here" not in text
    assert not re.search(r"(?<!\\)<@123>", text)
    assert "**Bold claim**" not in text
    assert sent["allowed_mentions"] == {"parse": []}


def test_buttons_only_while_waiting_with_short_custom_ids():
    waiting = payload(review_message(candidate(id=2**53)))
    (row,) = waiting["components"]
    ids = [b["custom_id"] for b in row["components"]]
    assert [b["label"] for b in row["components"]] == ["Add", "Add and follow links", "Ignore"]
    assert ids == [f"sb:feed:{a}:{2**53}:1" for a in ("add", "follow", "ignore")]  # story 1
    assert all(re.fullmatch(REVIEW_TEMPLATE, i) and len(i) <= 100 for i in ids)
    for status in ("accepting", "accepted", "ignored", "known", "failed"):
        assert payload(review_message(candidate(status=status)))["components"] == []


def test_the_link_has_no_preview_and_a_long_one_is_left_out_of_the_text():
    short = payload(review_message(candidate()))
    assert "<https://news.example/cuties>" in short["content"]
    assert short["embeds"][0]["url"] == "https://news.example/cuties"
    long = payload(review_message(candidate(url=HUGE["url"])))
    assert "news.example" not in long["content"] and "url" not in long["embeds"][0]


def test_an_announcement_stays_within_limits_and_never_pings():
    hostile = source(
        "hostile",
        "text",
        title=HOSTILE * 20,
        publisher=HOSTILE,
        url="https://gazette.example/" + "b" * 3000,
    )
    note = Announcement(1, hostile, "mod", "", tuple(HOSTILE * 5 for _ in range(30)))

    embed = announcement_embed(note)
    sent = {"embeds": [embed.to_dict()], "allowed_mentions": {"parse": []}}

    assert message_problems(sent, creates=True) == []
    (field,) = embed.fields
    assert field.value.count("\n• ") == 4 and field.value.endswith("… and 25 more")
    assert "@everyone" not in rendered(sent) and embed.url is None
