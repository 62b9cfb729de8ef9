"""The double must refuse what Discord would refuse (limits, deadlines, expired tokens, channel
access): otherwise the end-to-end suite would pass what Discord rejects."""

from __future__ import annotations

import aiohttp
import pytest

from .discord_limits import (
    autocomplete_problems,
    command_problems,
    message_problems,
)

NONE = {"parse": []}
CHOICES = [{"name": f"choice {i:02}" + "x" * 10, "value": f"value {i:02}"} for i in range(25)]


def command(**fields) -> dict:
    base = {"name": "ask", "description": "Ask.", "type": 1, "options": []}
    base.update(fields)
    return base


def option(name: str, required: bool = False, kind: int = 3, **fields) -> dict:
    return {"name": name, "description": "d", "type": kind, "required": required, **fields}


def test_valid_commands_pass():
    group = command(
        name="source",
        options=[
            option("add", kind=1, options=[option("url", True), option("title")]),
            option("remove", kind=1, options=[option("id", True, autocomplete=True)]),
        ],
    )
    assert command_problems([command(default_member_permissions="8192"), group]) == []


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (command(name="Ask"), "lowercase"),
        (command(name="a" * 33), "invalid name"),
        (command(name="two words"), "invalid name"),
        (command(description=""), "description"),
        (command(description="d" * 101), "description"),
        (command(options=[option("a"), option("b", True)]), "required option after"),
        (command(options=[option(f"o{i}") for i in range(26)]), "26 options"),
        (command(options=[option("a"), option("a")]), "duplicate"),
        (command(options=[option("a", kind=1), option("b")]), "mixed"),
        (command(options=[option("a", choices=[{"name": "x", "value": "x"}] * 26)]), "choices"),
        (
            command(options=[option("a", autocomplete=True, choices=[{"name": "x", "value": 1}])]),
            "autocomplete",
        ),
        (command(options=[option("a", max_length=6001)]), "max_length"),
        (command(default_member_permissions="manage"), "bit set"),
        (command(contexts=[0, 5]), "contexts"),
        (command(options=[option(f"o{i}", choices=CHOICES) for i in range(10)]), "4000"),
    ],
)
def test_command_rules_are_enforced(bad, why):
    problems = command_problems([bad])
    assert any(why in p for p in problems), problems


def test_duplicate_and_too_many_commands():
    assert command_problems([command(), command()])
    assert command_problems([command(name=f"c{i}") for i in range(101)])


def embed(**fields) -> dict:
    return {"title": "t", "description": "d", **fields}


def test_a_valid_message_passes():
    button = {"type": 2, "style": 1, "label": "More", "custom_id": "sb:answer:more:1"}
    payload = {
        "content": "hi",
        "embeds": [embed(fields=[{"name": "n", "value": "v"}], footer={"text": "f"})],
        "components": [{"type": 1, "components": [button]}],
        "allowed_mentions": NONE,
    }
    assert message_problems(payload, creates=True) == []


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"content": "x" * 2001, "allowed_mentions": NONE}, "content"),
        ({"content": "hi"}, "allowed_mentions"),
        ({"content": "hi", "allowed_mentions": {"parse": ["everyone"]}}, "parse"),
        ({"content": "hi", "allowed_mentions": {"parse": [], "replied_user": True}}, "pinged"),
        ({"allowed_mentions": NONE}, "empty"),
        ({"embeds": [embed()] * 11, "allowed_mentions": NONE}, "11 embeds"),
        ({"embeds": [embed(title="t" * 257)], "allowed_mentions": NONE}, "title"),
        ({"embeds": [embed(description="d" * 4097)], "allowed_mentions": NONE}, "description"),
        ({"embeds": [embed(description="d" * 3000)] * 3, "allowed_mentions": NONE}, "6000"),
        (
            {"embeds": [embed(fields=[{"name": "", "value": "v"}])], "allowed_mentions": NONE},
            "field name",
        ),
        (
            {
                "embeds": [embed(fields=[{"name": "n", "value": "v" * 1025}])],
                "allowed_mentions": NONE,
            },
            "field value",
        ),
        (
            {
                "embeds": [embed(fields=[{"name": "n", "value": "v"}] * 26)],
                "allowed_mentions": NONE,
            },
            "26 fields",
        ),
        ({"embeds": [embed(author={"name": ""})], "allowed_mentions": NONE}, "author"),
        ({"embeds": [embed(url="ftp://x")], "allowed_mentions": NONE}, "http"),
    ],
)
def test_message_rules_are_enforced(payload, why):
    problems = message_problems(payload, creates=True)
    assert any(why in p for p in problems), problems


def row(*buttons) -> dict:
    return {"type": 1, "components": list(buttons)}


def button(custom_id: str = "a", **fields) -> dict:
    return {"type": 2, "style": 1, "label": "L", "custom_id": custom_id, **fields}


@pytest.mark.parametrize(
    ("components", "why"),
    [
        ([row(button("x" * 101))], "custom_id"),
        ([row(button(""))], "custom_id"),
        ([row(button("a"), button("a"))], "duplicate"),
        ([row(*[button(str(i)) for i in range(6)])], "6 components"),
        ([row(button(str(i))) for i in range(6)], "6 action rows"),
        ([row(button(label="L" * 81))], "label"),
        ([row({"type": 2, "style": 5, "label": "L", "custom_id": "a"})], "link button"),
        ([button()], "not a row"),
    ],
)
def test_component_rules_are_enforced(components, why):
    payload = {"content": "x", "components": components, "allowed_mentions": NONE}
    problems = message_problems(payload, creates=True)
    assert any(why in p for p in problems), problems


def test_autocomplete_rules_are_enforced():
    assert autocomplete_problems({"choices": [{"name": "a", "value": "a"}]}) == []
    assert autocomplete_problems({"choices": [{"name": "a", "value": "a"}] * 26})
    assert autocomplete_problems({"choices": [{"name": "a" * 101, "value": "a"}]})
    assert autocomplete_problems({"choices": [{"name": "a", "value": "a" * 101}]})


async def test_the_double_refuses_like_discord_and_records_it(double):
    """A message Discord would refuse gets 400 50035 from the double, and is a violation."""
    async with aiohttp.ClientSession() as session:
        url = f"{double.api_base}/channels/{double.general.id}/messages"
        headers = {"Authorization": f"Bot {double.token}"}
        async with session.post(url, json={"content": "x" * 2001}, headers=headers) as response:
            assert response.status == 400
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["code"] == 50035
        async with session.post(url, json={"content": "hi"}, headers={}) as response:
            assert response.status == 401
    assert len(double.violations) == 2  # too long, and no allowed_mentions
    double.violations.clear()


async def test_the_double_models_deadlines_token_expiry_and_channel_access(double):
    ana = double.member("ana")
    interaction = double.new_interaction(2, ana, double.general, {})
    api, token = double.api_base, interaction.token
    callback = f"{api}/interactions/{interaction.id}/{token}/callback"
    original = f"{api}/webhooks/{double.application_id}/{token}/messages/@original"
    edit = {"content": "hi", "allowed_mentions": NONE}

    async def status(method: str, url: str, body=None) -> tuple[int, int | None]:
        async with session.request(method, url, json=body, headers=headers) as response:
            data = await response.json() if response.status != 204 else {}
            return response.status, data.get("code")

    headers = {"Authorization": f"Bot {double.token}"}
    async with aiohttp.ClientSession() as session:
        assert await status("POST", callback, {"type": 5}) == (200, None)
        assert await status("POST", callback, {"type": 5}) == (400, 40060)  # answered twice
        assert await status("PATCH", original, edit) == (200, None)
        double.advance(15 * 60 + 1)
        assert await status("PATCH", original, edit) == (401, 50027)  # the token expired
        late = double.new_interaction(2, ana, double.general, {})
        double.advance(3.5)
        late_callback = f"{api}/interactions/{late.id}/{late.token}/callback"
        assert await status("POST", late_callback, {"type": 5}) == (404, 10062)
        private = f"{api}/channels/{double.private.id}/messages"
        assert await status("POST", private, edit) == (403, 50001)
    assert len(double.violations) == 2  # the second answer and the late one
    double.violations.clear()
