"""Each server's review and announcement channels (``server_channels``), and where each story's
candidates and announcements go (``routes``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.insights.database import database_path
from bot.stories.channels import ANNOUNCE, REVIEW, ChannelError, ChannelStore, routes
from bot.stories.store import ARCHIVED, StoryRecord


@pytest.fixture
def channels(tmp_path: Path) -> ChannelStore:
    return ChannelStore(database_path(tmp_path))


def test_reading_before_anything_is_set_writes_nothing(channels, tmp_path):
    assert channels.get("111").review == "" and channels.get(111).announce == ""
    assert channels.all(REVIEW) == {}
    assert not database_path(tmp_path).exists()


def test_each_server_keeps_its_own_channels(channels):
    channels.set("111", review="501", announce=502, by="mo (7) via Discord")
    channels.set("222", review="601")
    a, b = channels.get("111"), channels.get("222")
    assert (a.review, a.announce, a.updated_by) == ("501", "502", "mo (7) via Discord")
    assert (b.review, b.announce) == ("601", "")
    assert channels.all(REVIEW) == {"111": "501", "222": "601"}
    assert channels.all(ANNOUNCE) == {"111": "502"}
    # Setting one leaves the other as it is; another store on the same file sees it all.
    channels.set("111", announce="503")
    again = ChannelStore(channels.path).get("111")
    assert (again.review, again.announce, again.of(ANNOUNCE)) == ("501", "503", "503")


def test_clearing_removes_the_setting_and_the_empty_row(channels):
    channels.set("111", review="501", announce="502")
    assert channels.clear("111", REVIEW).review == ""
    assert channels.all(REVIEW) == {} and channels.all(ANNOUNCE) == {"111": "502"}
    channels.clear("111", ANNOUNCE)
    with sqlite3.connect(channels.path) as db:
        assert db.execute("SELECT COUNT(*) FROM server_channels").fetchone() == (0,)
    with pytest.raises(ChannelError, match="'everything' is not one of review, announce"):
        channels.clear("111", "everything")


def test_ids_that_are_not_ids_are_refused_and_nothing_is_written(channels):
    for bad in ("", "0", "abc", "<#501>", "1" * 21, "-5"):
        with pytest.raises(ChannelError, match="is not a server id"):
            channels.set(bad, review="501")
    for bad in ("0", "abc", "<#501>", "1" * 21):
        with pytest.raises(ChannelError, match="is not a channel id"):
            channels.set("111", review=bad)
    assert channels.all(REVIEW) == {}


def record(story_id: int, guild: str = "", status: str = "active") -> StoryRecord:
    return StoryRecord(story_id, f"s{story_id}", guild, status)


def test_each_story_goes_to_its_own_servers_channel_never_anothers():
    own, a2, b, b_archived, nobody = (
        record(1, "A"),
        record(2, "A"),
        record(3, "B"),
        record(4, "B", ARCHIVED),
        record(5, ""),
    )
    stories = [own, a2, b, b_archived, nobody]
    # The configured channel (in server A) serves A; B has set its own.
    assert routes(stories, {"B": "900"}, "100", "A", own=1) == {"100": [own, a2], "900": [b]}
    # B without a channel of its own: its stories are posted nowhere (never to A's).
    assert routes(stories, {}, "100", "A", own=1) == {"100": [own, a2]}
    # A's own setting overrides the configured channel for A.
    assert routes(stories, {"A": "200"}, "100", "A", own=1) == {"200": [own, a2]}
    # No configured channel: only the servers' own.
    assert routes(stories, {"B": "900"}, own=1) == {"900": [b]}


def test_the_unclaimed_default_story_goes_to_the_configured_channel():
    own, b = record(1, ""), record(3, "B")
    assert routes([own, b], {}, "100", "A", own=1) == {"100": [own]}
    # The configured channel's server unknown (not in the bot's servers): as before, the
    # deployment's own story only.
    claimed = record(1, "A")
    assert routes([claimed, b], {}, "100", None, own=1) == {"100": [claimed]}
    # Another story of no server never goes there.
    assert routes([record(7, "")], {}, "100", "A", own=1) == {}
