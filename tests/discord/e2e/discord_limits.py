"""Discord's documented rules for what a bot sends, as checks the local double runs on every
payload. Each check returns a list of problems (empty: Discord would accept it).

Sources: developer documentation, "Application Commands" (names, descriptions, options,
4000-character total), "Message Resource" (content, embed limits), "Message Components" (action
rows, buttons, custom_id), "Receiving and Responding" (callback types, autocomplete). Our own
house rule on top: everything with content says ``allowed_mentions: {"parse": []}``.
"""

from __future__ import annotations

import re
from typing import Any

# Application commands.
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")  # \w in Python is Unicode letters and digits
MAX_COMMANDS = 100  # chat-input commands per scope
MAX_OPTIONS = 25
MAX_CHOICES = 25
COMMAND_TEXT_LIMIT = 4000  # name + description + options' names, descriptions and choices
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
OPTION_TYPES = range(1, 12)
CONTEXTS = {0, 1, 2}
INTEGRATION_TYPES = {0, 1}
MAX_SAFE_INTEGER = 2**53

# Messages.
CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TOTAL = 6000
EMBED_LIMITS = {"title": 256, "description": 4096}
FIELDS_LIMIT = 25
FIELD_NAME, FIELD_VALUE = 256, 1024
FOOTER_TEXT, AUTHOR_NAME = 2048, 256
ACTION_ROWS = 5
ROW_WIDTH = 5
CUSTOM_ID_LIMIT = 100
BUTTON_LABEL = 80
BUTTON_STYLES = {1, 2, 3, 4, 5, 6}
LINK_STYLE = 5
EPHEMERAL = 1 << 6

# Interaction callbacks.
AUTOCOMPLETE_CHOICE_NAME = 100
AUTOCOMPLETE_CHOICE_VALUE = 100


def command_problems(commands: list[dict[str, Any]]) -> list[str]:
    """Problems with a bulk overwrite of application commands (one scope)."""
    problems: list[str] = []
    if not isinstance(commands, list):
        return ["the body of a bulk overwrite must be a list of commands"]
    chat = [c for c in commands if c.get("type", 1) == 1]
    if len(chat) > MAX_COMMANDS:
        problems.append(f"{len(chat)} chat-input commands (at most {MAX_COMMANDS})")
    seen: set[tuple[int, str]] = set()
    for command in commands:
        name = command.get("name", "")
        key = (command.get("type", 1), name)
        if key in seen:
            problems.append(f"two commands named {name!r}")
        seen.add(key)
        problems += [f"/{name}: {p}" for p in _command_problems(command)]
    return problems


def _command_problems(command: dict[str, Any]) -> list[str]:
    problems = []
    kind = command.get("type", 1)
    if kind not in (1, 2, 3, 4):
        problems.append(f"unknown command type {kind}")
    problems += _name_problems(command.get("name"), lowercase=kind == 1)
    description = command.get("description", "")
    if kind == 1:
        problems += _description_problems(description)
    elif description:
        problems.append("user and message commands have an empty description")
    # A permission bit set: documented as a string; Discord takes a number too (discord.py
    # sends one).
    permissions = command.get("default_member_permissions")
    if permissions is not None and not str(permissions).isdigit():
        problems.append(f"default_member_permissions must be a bit set: {permissions!r}")
    contexts = command.get("contexts")
    if contexts is not None and not set(contexts) <= CONTEXTS:
        problems.append(f"unknown contexts {contexts}")
    installs = command.get("integration_types")
    if installs is not None and not set(installs) <= INTEGRATION_TYPES:
        problems.append(f"unknown integration_types {installs}")
    options = command.get("options") or []
    if kind != 1 and options:
        problems.append("only chat-input commands have options")
    problems += _options_problems(options, depth=0)
    total = _text_length(command)
    if total > COMMAND_TEXT_LIMIT:
        problems.append(f"{total} characters of names and descriptions (at most 4000)")
    return problems


def _name_problems(name: Any, *, lowercase: bool) -> list[str]:
    if not isinstance(name, str) or not COMMAND_NAME.match(name):
        return [f"invalid name {name!r} (1-32 letters, digits, - _ ')"]
    if lowercase and name != name.lower():
        return [f"name {name!r} must be lowercase"]
    return []


def _description_problems(description: Any) -> list[str]:
    if not isinstance(description, str) or not 1 <= len(description) <= 100:
        return [f"description must be 1-100 characters: {description!r}"]
    return []


def _options_problems(options: list[dict[str, Any]], depth: int) -> list[str]:
    problems = []
    if len(options) > MAX_OPTIONS:
        problems.append(f"{len(options)} options (at most {MAX_OPTIONS})")
    kinds = {o.get("type") for o in options}
    nested = kinds & {SUB_COMMAND, SUB_COMMAND_GROUP}
    if nested and kinds - nested:
        problems.append("subcommands and plain options cannot be mixed at one level")
    names = [o.get("name") for o in options]
    if len(set(names)) != len(names):
        problems.append(f"duplicate option names {names}")
    optional_seen = False
    for option in options:
        name = option.get("name")
        kind = option.get("type")
        where = f"option {name!r}"
        if kind not in OPTION_TYPES:
            problems.append(f"{where}: unknown type {kind}")
        problems += [f"{where}: {p}" for p in _name_problems(name, lowercase=True)]
        problems += [f"{where}: {p}" for p in _description_problems(option.get("description"))]
        if kind == SUB_COMMAND_GROUP:
            if depth > 0:
                problems.append(f"{where}: a group can only be at the top level")
            if {o.get("type") for o in option.get("options", [])} - {SUB_COMMAND}:
                problems.append(f"{where}: a group holds only subcommands")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            if depth > 1:
                problems.append(f"{where}: nested too deep")
            problems += _options_problems(option.get("options") or [], depth + 1)
            continue
        if option.get("required"):
            if optional_seen:
                problems.append(f"{where}: a required option after an optional one")
        else:
            optional_seen = True
        choices = option.get("choices") or []
        if len(choices) > MAX_CHOICES:
            problems.append(f"{where}: {len(choices)} choices (at most 25)")
        if choices and option.get("autocomplete"):
            problems.append(f"{where}: choices and autocomplete together")
        for key, low, high in (("min_length", 0, 6000), ("max_length", 1, 6000)):
            if key in option and not low <= option[key] <= high:
                problems.append(f"{where}: {key} {option[key]} outside {low}-{high}")
        for key in ("min_value", "max_value"):
            if key in option and abs(option[key]) > MAX_SAFE_INTEGER:
                problems.append(f"{where}: {key} beyond 2^53")
    return problems


def _text_length(command: dict[str, Any]) -> int:
    total = len(command.get("name", "")) + len(command.get("description", ""))
    for option in command.get("options") or []:
        total += _text_length(option)
        for choice in option.get("choices") or []:
            total += len(str(choice.get("name", ""))) + len(str(choice.get("value", "")))
    return total


def message_problems(payload: dict[str, Any], *, creates: bool) -> list[str]:
    """Problems with a message body: a new message (``creates``) or an edit."""
    problems = []
    content = payload.get("content")
    if content is not None and len(content) > CONTENT_LIMIT:
        problems.append(f"content of {len(content)} characters (at most {CONTENT_LIMIT})")
    embeds = payload.get("embeds") or []
    problems += embeds_problems(embeds)
    problems += components_problems(payload.get("components") or [])
    if creates and not (content or embeds or payload.get("components") or payload.get("poll")):
        problems.append("an empty message (no content, embeds or components)")
    if content or creates:
        problems += allowed_mentions_problems(payload.get("allowed_mentions"))
    return problems


def allowed_mentions_problems(allowed: Any) -> list[str]:
    """House rule: nothing we send may ping, so every message says so explicitly."""
    if not isinstance(allowed, dict):
        return ["no allowed_mentions (must be {'parse': []})"]
    problems = []
    if allowed.get("parse") != []:
        problems.append(f"allowed_mentions parse is {allowed.get('parse')!r}, not []")
    if allowed.get("users") or allowed.get("roles") or allowed.get("replied_user"):
        problems.append(f"allowed_mentions lets someone be pinged: {allowed}")
    return problems


def embeds_problems(embeds: list[dict[str, Any]]) -> list[str]:
    problems = []
    if len(embeds) > EMBEDS_LIMIT:
        problems.append(f"{len(embeds)} embeds (at most {EMBEDS_LIMIT})")
    total = 0
    for n, embed in enumerate(embeds, 1):
        where = f"embed {n}"
        for key, limit in EMBED_LIMITS.items():
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > limit:
                problems.append(f"{where}: {key} of {len(value)} characters (at most {limit})")
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_LIMIT:
            problems.append(f"{where}: {len(fields)} fields (at most {FIELDS_LIMIT})")
        for field in fields:
            name, value = field.get("name", ""), field.get("value", "")
            total += len(name) + len(value)
            if not name.strip() or len(name) > FIELD_NAME:
                problems.append(f"{where}: field name must be 1-{FIELD_NAME} characters")
            if not value.strip() or len(value) > FIELD_VALUE:
                problems.append(f"{where}: field value must be 1-{FIELD_VALUE} characters")
        footer = (embed.get("footer") or {}).get("text", "")
        author = embed.get("author")
        total += len(footer)
        if len(footer) > FOOTER_TEXT:
            problems.append(f"{where}: footer of {len(footer)} characters")
        if author is not None:
            name = author.get("name", "")
            total += len(name)
            if not name.strip() or len(name) > AUTHOR_NAME:
                problems.append(f"{where}: author name must be 1-{AUTHOR_NAME} characters")
        for key in ("url",):
            url = embed.get(key)
            if url is not None and not re.match(r"https?://", url):
                problems.append(f"{where}: {key} {url!r} is not http(s)")
        colour = embed.get("color")
        if colour is not None and not 0 <= colour <= 0xFFFFFF:
            problems.append(f"{where}: color {colour} out of range")
    if total > EMBED_TOTAL:
        problems.append(f"embeds total {total} characters (at most {EMBED_TOTAL})")
    return problems


def components_problems(rows: list[dict[str, Any]]) -> list[str]:
    problems = []
    if len(rows) > ACTION_ROWS:
        problems.append(f"{len(rows)} action rows (at most {ACTION_ROWS})")
    custom_ids = []
    for row in rows:
        if row.get("type") != 1:
            problems.append(f"a top-level component of type {row.get('type')} (not a row)")
            continue
        items = row.get("components") or []
        if not 1 <= len(items) <= ROW_WIDTH:
            problems.append(f"an action row with {len(items)} components (1-{ROW_WIDTH})")
        for item in items:
            problems += _button_problems(item)
            if "custom_id" in item:
                custom_ids.append(item["custom_id"])
    if len(set(custom_ids)) != len(custom_ids):
        problems.append(f"duplicate custom_ids in one message: {custom_ids}")
    return problems


def _button_problems(item: dict[str, Any]) -> list[str]:
    if item.get("type") != 2:
        return [f"unexpected component type {item.get('type')}"]
    problems = []
    style = item.get("style")
    if style not in BUTTON_STYLES:
        problems.append(f"button style {style}")
    label = item.get("label") or ""
    if len(label) > BUTTON_LABEL:
        problems.append(f"button label of {len(label)} characters (at most {BUTTON_LABEL})")
    if style == LINK_STYLE:
        if "custom_id" in item or not item.get("url"):
            problems.append("a link button has a url and no custom_id")
        return problems
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_LIMIT:
        problems.append(f"custom_id must be 1-{CUSTOM_ID_LIMIT} characters: {custom_id!r}")
    return problems


def autocomplete_problems(data: dict[str, Any]) -> list[str]:
    choices = data.get("choices")
    if not isinstance(choices, list):
        return ["an autocomplete response needs a list of choices"]
    problems = []
    if len(choices) > MAX_CHOICES:
        problems.append(f"{len(choices)} autocomplete choices (at most {MAX_CHOICES})")
    for choice in choices:
        name, value = choice.get("name", ""), choice.get("value")
        if not 1 <= len(name) <= AUTOCOMPLETE_CHOICE_NAME:
            problems.append(f"choice name must be 1-100 characters: {name!r}")
        if isinstance(value, str) and len(value) > AUTOCOMPLETE_CHOICE_VALUE:
            problems.append(f"choice value over 100 characters: {value!r}")
    return problems
