"""Which bindings a channel looks at (thread, channel, category, server), and what
``/story use where:`` binds."""

from __future__ import annotations

from unittest.mock import MagicMock

import discord
import pytest

from bot.discord.stories import bind_scope, scopes_of
from bot.stories.store import StoryError


def text_channel(channel_id: int, category_id: int | None) -> MagicMock:
    channel = MagicMock(spec=discord.TextChannel)
    channel.id, channel.category_id = channel_id, category_id
    return channel


def thread_in(parent: MagicMock, thread_id: int) -> MagicMock:
    thread = MagicMock(spec=discord.Thread)
    thread.id, thread.parent_id, thread.parent = thread_id, parent.id, parent
    return thread


def test_a_thread_looks_at_itself_its_channel_its_category_then_the_server():
    channel = text_channel(20, 10)
    assert scopes_of(channel) == ("20", "10", "guild")
    assert scopes_of(thread_in(channel, 30)) == ("30", "20", "10", "guild")
    assert scopes_of(text_channel(21, None)) == ("21", "guild")


def test_use_binds_the_channel_its_category_or_the_server():
    channel = text_channel(20, 10)
    thread = thread_in(channel, 30)
    assert bind_scope(thread, "channel") == "30"
    assert bind_scope(thread, "category") == "10"
    assert bind_scope(channel, "server") == "guild"
    with pytest.raises(StoryError, match="no category"):
        bind_scope(text_channel(21, None), "category")
