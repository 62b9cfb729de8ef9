"""The persistent buttons' custom_ids, the moderator commands' default visibility, servers-only
commands, and links without previews: the small rules under the end-to-end tests."""

from __future__ import annotations

import re

import pytest
from discord import app_commands
from discord_mocks import mock_interaction

from bot.config import DiscordSettings
from bot.discord.checks import moderator_default_permissions
from bot.discord.client import ServerOnlyTree
from bot.discord.markdown import no_previews
from bot.discord.views import (
    ANSWER_ACTIONS,
    ANSWER_TEMPLATE,
    CUSTOM_ID_LIMIT,
    SOURCES_TEMPLATE,
    AnswerButton,
    answer_view,
    sources_message,
)
from bot.insights.answers import StoredAnswer
from helpers import source

BIGGEST_ID = 2**63 - 1  # SQLite's largest rowid


def stored(answered: bool = True, answer_id: int = BIGGEST_ID) -> StoredAnswer:
    return StoredAnswer(answer_id, "2026-11-25T12:00:00+00:00", "Q?", 3, answered, 1, "t", True)


def test_answer_buttons_fit_discord_and_parse_back():
    view = answer_view(stored())
    assert [item.item.label for item in view.children] == [
        "More",
        "Helpful",
        "Not helpful",
        "Delete",
    ]
    for item in [*view.children, AnswerButton(ANSWER_ACTIONS[0], BIGGEST_ID, 30)]:
        custom_id = item.custom_id
        assert len(custom_id) <= CUSTOM_ID_LIMIT
        match = re.fullmatch(ANSWER_TEMPLATE, custom_id)
        assert match and int(match["answer"]) == BIGGEST_ID
    assert len({item.custom_id for item in view.children}) == 4


def test_a_reply_that_is_no_answer_has_no_more_and_no_closest_button():
    """Its closest passages (if any) are in the reply itself; the "Show closest passages"
    button is only kept registered for replies posted before."""
    labels = [item.item.label for item in answer_view(stored(answered=False)).children]
    assert labels == ["Helpful", "Not helpful", "Delete"]
    assert "closest" in {action.name for action in ANSWER_ACTIONS}


def test_action_names_fit_the_template():
    for action in ANSWER_ACTIONS:
        assert re.fullmatch(r"[a-z-]{1,20}", action.name), action.name


async def test_a_custom_id_becomes_the_same_button_again():
    button = AnswerButton(ANSWER_ACTIONS[0], 42, 7)
    match = re.fullmatch(ANSWER_TEMPLATE, button.custom_id)
    again = await AnswerButton.from_custom_id(mock_interaction(), button.item, match)
    assert (again.action, again.answer_id, again.arg) == (ANSWER_ACTIONS[0], 42, 7)


def test_source_list_buttons_are_clamped_and_unique():
    sources = [source(f"s-{i:02d}", "t") for i in range(15)]
    embed, view, page = sources_message(sources, 99)
    assert page == 2 and embed.footer.text == "Page 3 of 3"
    ids = [item.custom_id for item in view.children]
    assert ids == ["sb:sources:prev:1", "sb:sources:next:2"]
    assert all(re.fullmatch(SOURCES_TEMPLATE, i) for i in ids)
    assert [item.item.disabled for item in view.children] == [False, True]


def test_moderator_commands_are_hidden_by_default_only_without_moderator_roles():
    assert moderator_default_permissions(DiscordSettings()).manage_messages
    assert moderator_default_permissions(DiscordSettings(moderator_roles=("Editors",))) is None


async def test_commands_from_outside_a_server_are_refused():
    tree = ServerOnlyTree.__new__(ServerOnlyTree)  # the check needs no client
    in_dm = mock_interaction()
    in_dm.guild_id = None
    with pytest.raises(app_commands.NoPrivateMessage):
        await tree.interaction_check(in_dm)
    assert await tree.interaction_check(mock_interaction())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fetching https://a.example/x?y=1", "Fetching <https://a.example/x?y=1>"),
        ("Added (<https://a.example/>)", "Added (<https://a.example/>)"),
        (
            "two http://a.example and https://b.example.",
            "two <http://a.example> and <https://b.example>.",
        ),
        ("(see https://a.example/a_b), then", "(see <https://a.example/a_b>), then"),
        ("no link here", "no link here"),
    ],
)
def test_links_get_no_preview(text, expected):
    assert no_previews(text) == expected
