"""A small local double of Discord (REST API and gateway) on 127.0.0.1, for the real client.

It speaks the wire protocol discord.py speaks to Discord, so ``storybot run`` runs unchanged
against it (the test points ``discord.http.Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY`` here):

- gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats ACKed after ~30 ms (an
  instant ACK makes discord.py warn that it can't keep up), RESUME (missed events replayed,
  then RESUMED), RECONNECT, INVALID_SESSION, close codes (4004 bad token, 4014 privileged
  intent not enabled); MESSAGE_CREATE content withheld without the Message Content intent
  unless the bot is mentioned, as Discord does;
- REST: login, application info, command bulk overwrite (per scope), interaction callbacks,
  webhook follow-ups and edits and deletes (``@original`` included), channel messages, typing,
  and attachment downloads.

Discord's rules are modelled where the bot could break them: every payload is checked against
the documented limits (``discord_limits``) and refused with 50035 like Discord would, besides
being recorded in ``violations`` (the fixture fails the test on any); an interaction must be
answered within 3 s (10062), once (40060); its token works for 15 minutes (then 401, 50027);
a channel the bot can't view refuses the channel routes (403, 50001). Time is the double's
clock: ``advance()`` moves it on without sleeping.

The test drives it as members would: ``slash``, ``click``, ``autocomplete``, ``say``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .discord_limits import (
    EPHEMERAL,
    autocomplete_problems,
    command_problems,
    message_problems,
)

API = "/api/v10"
TOKEN_LIFETIME = 15 * 60.0  # an interaction token's life, in seconds
RESPONSE_DEADLINE = 3.0  # seconds to answer an interaction
HEARTBEAT_ACK_DELAY = 0.03
POLL_SECONDS = 0.02
LOADING = 1 << 7  # the "is thinking..." placeholder of a deferred response
MESSAGE_CONTENT_INTENT = 1 << 15
GUILD_MESSAGES_INTENT = 1 << 9

# Permission bits used here.
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
READ_HISTORY = 1 << 16
USE_COMMANDS = 1 << 31
ADMINISTRATOR = 1 << 3
MEMBER_BASICS = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | READ_HISTORY | USE_COMMANDS

_snowflakes = itertools.count(1_400_000_000_000_000_000)


def snowflake() -> int:
    return next(_snowflakes)


def iso_now() -> str:
    return "2026-11-25T12:00:00.000000+00:00"


@dataclass
class Role:
    id: int
    name: str
    permissions: int = 0
    guild_id: int | None = None  # None: the double's first server

    def json(self, position: int) -> dict:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": position,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class User:
    id: int
    name: str
    roles: list[int] = field(default_factory=list)
    bot: bool = False

    def json(self) -> dict:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    def member_json(self, permissions: int | None = None) -> dict:
        data = {
            "user": self.json(),
            "roles": [str(r) for r in self.roles],
            "joined_at": iso_now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class Channel:
    id: int
    name: str
    bot_can_view: bool = True
    parent_id: int | None = None  # a thread's channel
    guild_id: int | None = None  # None: the double's first server

    def json(self, guild_id: int) -> dict:
        data: dict[str, Any] = {
            "id": str(self.id),
            "guild_id": str(guild_id),
            "name": self.name,
            "type": 0,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }
        if not self.bot_can_view:
            # Private: hidden from @everyone (the bot has no role that shows it).
            data["permission_overwrites"] = [
                {"id": str(guild_id), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)}
            ]
        if self.parent_id is not None:
            data.update(
                type=11,
                parent_id=str(self.parent_id),
                owner_id="1",
                member_count=1,
                message_count=0,
                thread_metadata={
                    "archived": False,
                    "auto_archive_duration": 1440,
                    "archive_timestamp": iso_now(),
                    "locked": False,
                },
            )
        return data


@dataclass
class Message:
    id: int
    channel_id: int
    author: User
    content: str = ""
    embeds: list = field(default_factory=list)
    components: list = field(default_factory=list)
    flags: int = 0
    mentions: list[User] = field(default_factory=list)
    attachments: list = field(default_factory=list)
    reference: int | None = None
    interaction_id: int | None = None  # the interaction whose response or follow-up it is
    visible_to: int | None = None  # ephemeral: the one member who sees it
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    def buttons(self) -> list[dict]:
        return [c for row in self.components for c in row.get("components", [])]

    def button(self, label: str) -> dict:
        found = [b for b in self.buttons() if b.get("label") == label]
        assert len(found) == 1, f"no single {label!r} button on {self.labels()}"
        return found[0]

    def labels(self) -> list[str]:
        return [b.get("label", "") for b in self.buttons()]

    def text(self) -> str:
        """Everything the message shows as text."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            parts += [(embed.get("author") or {}).get("name", "")]
            parts += [(embed.get("footer") or {}).get("text", "")]
            for f in embed.get("fields", []):
                parts += [f["name"], f["value"]]
        return "\n".join(p for p in parts if p)

    def json(self, guild_id: int, application_id: int) -> dict:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "guild_id": str(guild_id),
            "author": self.author.json(),
            "content": self.content,
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [u.json() for u in self.mentions],
            "mention_roles": [],
            "attachments": self.attachments,
            "embeds": self.embeds,
            "pinned": False,
            "type": 19 if self.reference else 0,
            "flags": self.flags,
            "components": self.components,
        }
        if self.interaction_id is not None:
            data["webhook_id"] = str(application_id)
            data["application_id"] = str(application_id)
        if self.reference is not None:
            data["message_reference"] = {
                "message_id": str(self.reference),
                "channel_id": str(self.channel_id),
                "guild_id": str(guild_id),
            }
        return data


@dataclass
class Interaction:
    id: int
    token: str
    type: int  # 2 command, 3 component, 4 autocomplete
    user: User
    channel_id: int
    created: float  # the double's clock
    payload: dict
    component_message: Message | None = None
    callbacks: list[dict] = field(default_factory=list)
    original: Message | None = None
    followups: list[Message] = field(default_factory=list)
    choices: list[dict] | None = None  # an autocomplete's answer

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)

    @property
    def callback_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    def shown(self) -> list[Message]:
        """The messages this interaction showed (loaded original first, then follow-ups)."""
        shown = [m for m in self.followups if m is not self.original]
        original = self.original
        # The original response, once loaded (for a button: not the message it sits on).
        if original is not None and not original.loading and original.interaction_id == self.id:
            shown.insert(0, original)
        return shown


@dataclass
class Server:
    """A second (third...) server the bot is in: its id, owner, moderator role, channel."""

    id: int
    name: str
    owner: User
    mods: Role
    general: Channel


@dataclass
class Session:
    id: str
    intents: int
    ws: web.WebSocketResponse | None = None
    seq: int = 0
    events: list[dict] = field(default_factory=list)
    alive: bool = True


@dataclass
class Request:
    method: str
    path: str
    body: Any
    status: int = 0


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class DiscordDouble:
    def __init__(self, token: str, *, message_content_enabled: bool = True) -> None:
        self.token = token
        self.message_content_enabled = message_content_enabled
        self.heartbeat_interval_ms = 41_250
        self.skew = 0.0
        self.application_id = snowflake()
        self.me = User(self.application_id, "storybot", bot=True)
        self.guild_id = snowflake()
        self.owner = User(snowflake(), "owner")
        everyone = Role(self.guild_id, "@everyone", MEMBER_BASICS)
        self.mods = Role(snowflake(), "Mods", MANAGE_MESSAGES)
        self.editors = Role(snowflake(), "Editors")
        self.roles = [everyone, self.mods, self.editors]
        self.channels: dict[int, Channel] = {}
        self.general = self.add_channel("general")
        self.private = self.add_channel("private", bot_can_view=False)
        self.qa = self.add_channel("questions")
        self.qa_thread = self.add_channel("a-thread", parent_id=self.qa.id)
        self.users: dict[int, User] = {self.me.id: self.me, self.owner.id: self.owner}
        # Every server the bot is in: id -> (name, owner); the first is ``guild_id``.
        self.servers: dict[int, tuple[str, User]] = {self.guild_id: ("Newsroom", self.owner)}
        self.messages: dict[int, Message] = {}
        self.interactions: dict[int, Interaction] = {}
        self.commands: dict[int | None, list[dict]] = {}  # scope (guild id or None) -> commands
        self.command_syncs: list[tuple[int | None, list[dict]]] = []
        self.attachments: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.requests: list[Request] = []
        self.violations: list[str] = []
        self.sessions: dict[str, Session] = {}
        self.connections: list[tuple[str, str]] = []  # (path, "IDENTIFY" or "RESUME")
        self.heartbeats: list[float] = []
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Future] = set()
        self._closed_by_us: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- the world -----------------------------------------------------------------------------

    def now(self) -> float:
        return time.monotonic() + self.skew

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on Discord's side (token lifetimes), without sleeping."""
        self.skew += seconds

    def add_channel(
        self,
        name: str,
        *,
        bot_can_view: bool = True,
        parent_id: int | None = None,
        guild_id: int | None = None,
    ) -> Channel:
        channel = Channel(snowflake(), name, bot_can_view, parent_id, guild_id)
        self.channels[channel.id] = channel
        return channel

    def add_server(self, name: str) -> Server:
        """Another server the bot is in (before it connects: GUILD_CREATE is sent at start),
        with its own owner, @everyone, a "Mods" role (Manage Messages) and a #general."""
        guild_id = snowflake()
        owner = User(snowflake(), f"{name}-owner")
        self.users[owner.id] = owner
        self.servers[guild_id] = (name, owner)
        mods = Role(snowflake(), "Mods", MANAGE_MESSAGES, guild_id)
        self.roles += [Role(guild_id, "@everyone", MEMBER_BASICS, guild_id), mods]
        general = self.add_channel("general", guild_id=guild_id)
        return Server(guild_id, name, owner, mods, general)

    def guild_of(self, channel: Channel | None) -> int:
        return self.guild_id if channel is None or channel.guild_id is None else channel.guild_id

    def member(self, name: str, *roles: Role, bot: bool = False) -> User:
        user = User(snowflake(), name, [r.id for r in roles], bot=bot)
        self.users[user.id] = user
        return user

    def permissions(self, user: User, channel: Channel | None = None) -> int:
        guild = self.guild_of(channel)
        if user.id == self.servers[guild][1].id:
            return (1 << 53) - 1
        value = 0
        for role in self.roles:
            if (role.guild_id or self.guild_id) != guild:
                continue  # another server's role
            if role.id == guild or role.id in user.roles:
                value |= role.permissions
        if value & ADMINISTRATOR:
            return (1 << 53) - 1
        if channel is not None and not channel.bot_can_view and user.bot:
            value &= ~VIEW_CHANNEL
        return value

    # -- server --------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base + API

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway/"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/gateway/", self._gateway)
        app.router.add_get("/resume/", self._gateway)
        app.router.add_get("/attachments/{channel}/{id}/{name}", self._attachment)
        app.router.add_route("*", API + "/{tail:.*}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for session in self.sessions.values():
            if session.ws is not None and not session.ws.closed:
                await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except DiscordError as exc:
            return json_response({"code": exc.code, "message": exc.message}, status=exc.status)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def poke(self) -> None:
        """Have ``wait_for`` look again (e.g. when something outside the double changed)."""
        task = asyncio.ensure_future(self._notify())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Wait until ``predicate()`` is truthy: checked on every request and gateway frame,
        and every few milliseconds (for what the bot does after its last request)."""

        async def wait() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), POLL_SECONDS)
                return result

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            last = self.requests[-5:]
            raise AssertionError(f"timed out waiting; last requests: {last}") from None

    # -- REST ----------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        record = Request(request.method, path, body)
        self.requests.append(record)
        try:
            response = await self._route(request, request.method, path.split("/")[1:], body)
        except DiscordError as exc:
            record.status = exc.status
            await self._notify()
            raise
        record.status = response.status
        await self._notify()
        return response

    def _refuse(self, where: str, problems: list[str]) -> None:
        if problems:
            self.violations += [f"{where}: {p}" for p in problems]
            raise DiscordError(400, 50035, "Invalid Form Body: " + "; ".join(problems))

    def _check_bot_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordError(401, 0, "401: Unauthorized")

    async def _route(self, request, method: str, parts: list[str], body) -> web.StreamResponse:
        ok = json_response
        match method, parts:
            case "GET", ["users", "@me"]:
                self._check_bot_auth(request)
                return ok(self.me.json())
            case "GET", ["oauth2", "applications", "@me"]:
                self._check_bot_auth(request)
                return ok(self._application())
            case "PUT", ["applications", app, "commands"]:
                self._check_bot_auth(request)
                return ok(self._overwrite_commands(app, None, body))
            case "PUT", ["applications", app, "guilds", guild, "commands"]:
                self._check_bot_auth(request)
                return ok(self._overwrite_commands(app, int(guild), body))
            case "GET", ["applications", _, "commands"]:
                self._check_bot_auth(request)
                return ok(self.commands.get(None, []))
            case "POST", ["interactions", interaction_id, token, "callback"]:
                return ok(self._callback(int(interaction_id), token, body))
            case "POST", ["webhooks", app, token]:
                return ok(self._followup(app, token, body))
            case (("GET" | "PATCH" | "DELETE"), ["webhooks", app, token, "messages", message]):
                return self._webhook_message(method, app, token, message, body)
            case "POST", ["channels", channel, "messages"]:
                self._check_bot_auth(request)
                return ok(self._channel_post(int(channel), body))
            case (("PATCH" | "DELETE"), ["channels", channel, "messages", message]):
                self._check_bot_auth(request)
                return self._channel_message(method, int(channel), int(message), body)
            case "POST", ["channels", channel, "typing"]:
                self._check_bot_auth(request)
                self._visible_channel(int(channel))
                return web.Response(status=204)
        self.violations.append(f"unexpected route {method} /{'/'.join(parts)}")
        raise DiscordError(404, 0, "404: Not Found")

    def _application(self) -> dict:
        return {
            "id": str(self.application_id),
            "name": "storybot",
            "icon": None,
            "description": "",
            "summary": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner.json(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "interactions_endpoint_url": None,
        }

    def _overwrite_commands(self, app: str, guild: int | None, body: Any) -> list[dict]:
        if int(app) != self.application_id:
            raise DiscordError(403, 50001, "Missing Access")
        if guild is not None and guild != self.guild_id:
            raise DiscordError(403, 50001, "Missing Access")
        self._refuse(f"commands for {guild or 'global'}", command_problems(body))
        stored = []
        old = {c["name"]: c["id"] for c in self.commands.get(guild, [])}
        for command in body:
            registered = dict(command)
            registered.update(
                id=old.get(command["name"], str(snowflake())),
                application_id=str(self.application_id),
                version=str(snowflake()),
            )
            registered.setdefault("type", 1)
            if guild is not None:
                registered["guild_id"] = str(guild)
            stored.append(registered)
        self.commands[guild] = stored
        self.command_syncs.append((guild, body))
        return stored

    # -- interactions: callbacks and webhooks --------------------------------------------------

    def _interaction(self, interaction_id: int, token: str) -> Interaction:
        found = self.interactions.get(interaction_id)
        if found is None or found.token != token:
            raise DiscordError(404, 10062, "Unknown interaction")
        return found

    def _callback(self, interaction_id: int, token: str, body: dict) -> dict:
        interaction = self._interaction(interaction_id, token)
        if self.now() - interaction.created > RESPONSE_DEADLINE:
            self.violations.append(f"interaction {interaction_id} answered after 3 s")
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.acknowledged:
            self.violations.append(f"interaction {interaction_id} answered twice")
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        kind, data = body.get("type"), body.get("data") or {}
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}}[interaction.type]
        if kind not in allowed:
            self._refuse("callback", [f"type {kind} for an interaction of type {interaction.type}"])
        message = None
        if kind == 4:
            self._refuse("callback", message_problems(data, creates=True))
            message = self._new_message(interaction, data)
        elif kind == 5:
            flags = LOADING | (data.get("flags", 0) & EPHEMERAL)
            message = self._new_message(interaction, {"flags": flags})
        elif kind in (6, 7):
            message = interaction.component_message
            if kind == 7:
                self._refuse("update", message_problems(data, creates=False))
                self._edit(message, data)
        elif kind == 8:
            self._refuse("autocomplete", autocomplete_problems(data))
            interaction.choices = data["choices"]
        interaction.callbacks.append(body)
        interaction.original = message
        response: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(message and message.ephemeral),
            }
        }
        if message is not None:
            response["interaction"]["response_message_id"] = str(message.id)
            response["resource"] = {"type": kind, "message": self._json(message)}
        return response

    def _webhook_interaction(self, app: str, token: str) -> Interaction:
        if int(app) != self.application_id:
            raise DiscordError(404, 10015, "Unknown Webhook")
        found = next((i for i in self.interactions.values() if i.token == token), None)
        if found is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if self.now() - found.created > TOKEN_LIFETIME:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if not found.acknowledged:
            self.violations.append(f"a follow-up before interaction {found.id} was answered")
            raise DiscordError(404, 10015, "Unknown Webhook")
        return found

    def _followup(self, app: str, token: str, body: dict) -> dict:
        interaction = self._webhook_interaction(app, token)
        self._refuse("follow-up", message_problems(body, creates=True))
        original = interaction.original
        if original is not None and original.loading:
            # The first follow-up after a deferred response fills in the "thinking" message,
            # keeping the ephemerality chosen when deferring.
            self._edit(original, body)
            original.flags &= ~LOADING
            return self._json(original)
        message = self._new_message(interaction, body)
        interaction.followups.append(message)
        return self._json(message)

    def _webhook_message(self, method: str, app: str, token: str, which: str, body):
        interaction = self._webhook_interaction(app, token)
        if which == "@original":
            message = interaction.original
        else:
            message = next((m for m in interaction.followups if m.id == int(which)), None)
        if message is None or message.deleted:
            raise DiscordError(404, 10008, "Unknown Message")
        if method == "GET":
            return json_response(self._json(message))
        if method == "DELETE":
            message.deleted = True
            return web.Response(status=204)
        self._refuse("webhook edit", message_problems(body, creates=False))
        self._edit(message, body)
        if message.loading:
            message.flags &= ~LOADING
        return json_response(self._json(message))

    # -- channels ------------------------------------------------------------------------------

    def _visible_channel(self, channel_id: int) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        if not channel.bot_can_view:
            raise DiscordError(403, 50001, "Missing Access")
        return channel

    def _channel_post(self, channel_id: int, body: dict) -> dict:
        channel = self._visible_channel(channel_id)
        self._refuse("channel message", message_problems(body, creates=True))
        reference = body.get("message_reference")
        if reference is not None:
            target = self.messages.get(int(reference["message_id"]))
            if target is None or target.channel_id != channel.id or target.deleted:
                raise DiscordError(400, 50035, "Invalid Form Body: unknown message_reference")
            if body.get("allowed_mentions", {}).get("replied_user"):
                self.violations.append("a reply that pings its author")
        reference_id = int(reference["message_id"]) if reference else None
        return self._json(self._bot_message(channel.id, body, reference=reference_id))

    def _channel_message(self, method: str, channel_id: int, message_id: int, body):
        self._visible_channel(channel_id)
        message = self.messages.get(message_id)
        if message is None or message.deleted or message.ephemeral:
            raise DiscordError(404, 10008, "Unknown Message")
        if message.author is not self.me and (
            method == "PATCH" or not self._bot_manages(self.channels[channel_id])
        ):
            raise DiscordError(403, 50013, "Missing Permissions")
        if method == "DELETE":
            message.deleted = True
            return web.Response(status=204)
        self._refuse("channel edit", message_problems(body, creates=False))
        self._edit(message, body)
        return json_response(self._json(message))

    def _bot_manages(self, channel: Channel | None = None) -> bool:
        return bool(self.permissions(self.me, channel) & MANAGE_MESSAGES)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["id"]
        self.downloads.append(key)
        await self._notify()
        if key not in self.attachments:
            return web.Response(status=404)
        return web.Response(body=self.attachments[key], content_type="application/octet-stream")

    # -- messages ------------------------------------------------------------------------------

    def _new_message(self, interaction: Interaction, data: dict) -> Message:
        """A message an interaction creates (ephemeral ones are seen by its member only)."""
        message = self._bot_message(interaction.channel_id, data, interaction_id=interaction.id)
        if message.ephemeral:
            message.visible_to = interaction.user.id
        return message

    def _bot_message(self, channel_id: int, data: dict, **fields: Any) -> Message:
        message = Message(snowflake(), channel_id, self.me, flags=data.get("flags", 0), **fields)
        self._edit(message, data)
        self.messages[message.id] = message
        return message

    def _edit(self, message: Message | None, data: dict) -> None:
        assert message is not None
        if "content" in data:
            message.content = data["content"] or ""
        if "embeds" in data:
            message.embeds = data["embeds"] or []
        if "components" in data:
            message.components = data["components"] or []

    def _json(self, message: Message) -> dict:
        guild = self.guild_of(self.channels.get(message.channel_id))
        return message.json(guild, self.application_id)

    # -- gateway -------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoclose=True)
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        session: Session | None = None
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                op, data = payload.get("op"), payload.get("d")
                if op == 1:
                    self.heartbeats.append(self.now())
                    asyncio.get_running_loop().call_later(HEARTBEAT_ACK_DELAY, self._ack, ws)
                elif op == 2:
                    session = await self._identify(ws, request.path, data)
                elif op == 6:
                    session = await self._resume(ws, request.path, data)
                await self._notify()
        finally:
            if session is not None and session.ws is ws:
                session.ws = None
                # A close by the client with 1000/1001 ends the session (no resume).
                if ws.close_code in (1000, 1001) and ws not in self._closed_by_us:
                    session.alive = False
            await self._notify()
        return ws

    def _ack(self, ws: web.WebSocketResponse) -> None:
        task = asyncio.ensure_future(_send(ws, {"op": 11}))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _identify(self, ws, path: str, data: dict) -> Session | None:
        self.connections.append((path, "IDENTIFY"))
        if data.get("token") != self.token:
            self._closed_by_us.add(ws)
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(data.get("intents", 0))
        if intents & MESSAGE_CONTENT_INTENT and not self.message_content_enabled:
            self._closed_by_us.add(ws)
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        for old in self.sessions.values():
            old.alive = False
        session = Session(f"session-{snowflake()}", intents, ws)
        self.sessions[session.id] = session
        await self._dispatch_to(session, "READY", self._ready(session))
        for guild_id in self.servers:
            await self._dispatch_to(session, "GUILD_CREATE", self._guild(guild_id))
        return session

    async def _resume(self, ws, path: str, data: dict) -> Session | None:
        self.connections.append((path, "RESUME"))
        session = self.sessions.get(data.get("session_id", ""))
        if session is None or not session.alive or data.get("token") != self.token:
            await _send(ws, {"op": 9, "d": False})
            return None
        session.ws = ws
        for event in session.events:
            if event["s"] > (data.get("seq") or 0):
                await _send(ws, event)
        await self._dispatch_to(session, "RESUMED", {})
        return session

    def _ready(self, session: Session) -> dict:
        return {
            "v": 10,
            "user": self.me.json(),
            "guilds": [{"id": str(g), "unavailable": True} for g in self.servers],
            "session_id": session.id,
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/resume/",
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
        }

    def _guild(self, guild_id: int) -> dict:
        bot_role = Role(snowflake(), "storybot", MEMBER_BASICS)
        name, owner = self.servers[guild_id]
        roles = [r for r in self.roles if (r.guild_id or self.guild_id) == guild_id]
        channels = [c for c in self.channels.values() if self.guild_of(c) == guild_id]
        return {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "owner_id": str(owner.id),
            "roles": [r.json(i) for i, r in enumerate([*roles, bot_role])],
            "channels": [c.json(guild_id) for c in channels if c.parent_id is None],
            "threads": [c.json(guild_id) for c in channels if c.parent_id is not None],
            "members": [self.me.member_json() | {"roles": [str(bot_role.id)]}],
            "member_count": len(self.users),
            "features": [],
            "emojis": [],
            "stickers": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "large": False,
            "unavailable": False,
            "joined_at": iso_now(),
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "afk_timeout": 300,
        }

    @property
    def session(self) -> Session:
        """The bot's gateway session (connected, or away and resumable)."""
        live = self.live_session()
        assert live is not None, "no live gateway session"
        return live

    def live_session(self) -> Session | None:
        live = [s for s in self.sessions.values() if s.alive]
        assert len(live) <= 1, f"{len(live)} live gateway sessions"
        return live[0] if live else None

    async def _dispatch_to(self, session: Session, event: str, data: dict) -> None:
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        if session.ws is not None and not session.ws.closed:
            await _send(session.ws, payload)

    async def dispatch(self, event: str, data: dict) -> None:
        """Send an event to the bot (kept for a RESUME if it is disconnected)."""
        await self._dispatch_to(self.session, event, data)

    async def connected(self) -> Session:
        """Wait until the bot has a live, connected gateway session."""
        return await self.wait_for(
            lambda: (live := self.live_session()) is not None and live.ws is not None and live
        )

    async def invalidate_session(self) -> None:
        """Discord ends the session (op 9, not resumable): the bot must identify again."""
        session = self.session
        session.alive = False
        assert session.ws is not None
        await _send(session.ws, {"op": 9, "d": False})

    async def send_op(self, op: int, data: Any = None) -> None:
        ws = self.session.ws
        assert ws is not None
        await _send(ws, {"op": op, "d": data})

    async def drop_connection(self, code: int = 4000) -> None:
        """Close the bot's gateway socket from Discord's side (with 4000: it should resume)."""
        ws = self.session.ws
        assert ws is not None
        self._closed_by_us.add(ws)
        await ws.close(code=code)

    # -- what members do -----------------------------------------------------------------------

    def registered(self, name: str) -> dict:
        """The command as the bot registered it: for this server if any there, else global."""
        for scope in (self.guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return command
        raise AssertionError(f"/{name} is not registered ({list(self.commands)})")

    def can_see(self, user: User, name: str, channel: Channel | None = None) -> bool:
        """Whether Discord shows the command to this member (default_member_permissions)."""
        needed = self.registered(name).get("default_member_permissions")
        if needed is None:
            return True
        have = self.permissions(user, channel)
        return have & int(needed) == int(needed)

    def new_interaction(self, kind: int, user: User, channel: Channel, data: dict) -> Interaction:
        """An interaction as Discord creates it (not sent to the bot: see ``slash``...)."""
        interaction_id = snowflake()
        token = f"token-{interaction_id}-{snowflake()}"
        guild = self.guild_of(channel)
        payload = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild),
            "guild": {"id": str(guild), "locale": "en-US", "features": []},
            "channel_id": str(channel.id),
            "channel": channel.json(guild) | {"permissions": str(self.permissions(user, channel))},
            "member": user.member_json(self.permissions(user, channel)),
            "token": token,
            "version": 1,
            "app_permissions": str(self.permissions(self.me, channel)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        interaction = Interaction(
            interaction_id, token, kind, user, channel.id, self.now(), payload
        )
        self.interactions[interaction_id] = interaction
        return interaction

    async def slash(
        self, user: User, command: str, channel: Channel | None = None, **options: Any
    ) -> Interaction:
        """A member runs ``/command`` (e.g. "source add") with options as Discord sends them:
        checked against the registered command like Discord's client does."""
        channel = channel or self.general
        names = command.split()
        registered = self.registered(names[0])
        assert self.can_see(user, names[0], channel), f"/{names[0]} is hidden from {user.name}"
        assert 0 in (registered.get("contexts") or [0]), f"/{names[0]} is not for servers"
        data: dict[str, Any] = {
            "id": registered["id"],
            "name": names[0],
            "type": 1,
            "options": self._options(registered, names[1:], options, focused=None),
        }
        if "guild_id" in registered:
            data["guild_id"] = registered["guild_id"]
        resolved = self._resolved(options, user)
        if resolved:
            data["resolved"] = resolved
        interaction = self.new_interaction(2, user, channel, data)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def autocomplete(
        self,
        user: User,
        command: str,
        focused: str,
        value: str,
        channel: Channel | None = None,
        **options: Any,
    ) -> Interaction:
        names = command.split()
        registered = self.registered(names[0])
        data = {
            "id": registered["id"],
            "name": names[0],
            "type": 1,
            "options": self._options(registered, names[1:], {**options, focused: value}, focused),
        }
        interaction = self.new_interaction(4, user, channel or self.general, data)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    def _options(self, node: dict, path: list[str], given: dict, focused: str | None) -> list:
        schema = node.get("options") or []
        if path:
            sub = next((o for o in schema if o["name"] == path[0]), None)
            assert sub is not None and sub["type"] in (1, 2), f"no subcommand {path[0]!r}"
            inner = self._options(sub, path[1:], given, focused)
            return [{"name": sub["name"], "type": sub["type"], "options": inner}]
        out = []
        known = {o["name"]: o for o in schema}
        assert set(given) <= set(known), f"unknown options {set(given) - set(known)}"
        for name, option in known.items():
            if name not in given:
                assert not option.get("required") or focused, f"missing required {name!r}"
                continue
            value = given[name]
            if option["type"] == 11:  # attachment: the id; the file is in "resolved"
                value = str(value["id"])
            elif option["type"] == 7:  # channel: the id; the channel is in "resolved"
                assert isinstance(value, Channel), f"{name}: give a Channel"
                kinds = option.get("channel_types")
                assert not kinds or value.json(0)["type"] in kinds, f"{name}: channel type"
                value = str(value.id)
            else:
                _check_value(option, value, partial=name == focused)
            entry: dict[str, Any] = {"name": name, "type": option["type"], "value": value}
            if name == focused:
                entry["focused"] = True
            out.append(entry)
        return out

    def _resolved(self, options: dict, user: User) -> dict:
        """The attachments and channels the options name, as Discord sends them. A channel
        of another server is sent as it is (a modified client could): the bot must refuse it."""
        resolved: dict[str, dict] = {}
        attachments = {str(v["id"]): v for v in options.values() if isinstance(v, dict)}
        if attachments:
            resolved["attachments"] = attachments
        channels = [v for v in options.values() if isinstance(v, Channel)]
        if channels:
            resolved["channels"] = {
                str(c.id): {
                    key: c.json(self.guild_of(c))[key]
                    for key in ("id", "name", "type", "parent_id", "flags")
                }
                | {"permissions": str(self.permissions(user, c))}
                for c in channels
            }
        return resolved

    def attachment(self, filename: str, data: bytes, *, size: int | None = None) -> dict:
        """An uploaded file as an attachment option (``size``: what Discord declares)."""
        attachment_id = str(snowflake())
        self.attachments[attachment_id] = data
        url = f"{self.base}/attachments/{self.general.id}/{attachment_id}/{filename}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": url,
            "proxy_url": url,
            "content_type": "text/plain; charset=utf-8",
        }

    async def click(self, user: User, message: Message, label: str) -> Interaction:
        """A member presses the button ``label`` under ``message``."""
        assert not message.deleted, "the message was deleted"
        assert message.visible_to in (None, user.id), "an ephemeral message of someone else"
        button = message.button(label)
        assert not button.get("disabled"), f"{label!r} is disabled"
        data = {"custom_id": button["custom_id"], "component_type": 2}
        channel = self.channels[message.channel_id]
        interaction = self.new_interaction(3, user, channel, data)
        interaction.component_message = message
        interaction.payload["message"] = self._json(message)
        await self.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def say(
        self,
        user: User,
        content: str,
        channel: Channel | None = None,
        *,
        mention: bool = False,
        mentions: tuple[User, ...] = (),
    ) -> Message:
        """A member posts ``content`` (``mention``: with an @mention of the bot in front;
        ``mentions``: users Discord lists as mentioned, e.g. the author of a replied-to
        message)."""
        channel = channel or self.general
        mentioned = list(mentions)
        if mention:
            content = f"<@{self.me.id}> {content}"
            mentioned.append(self.me)
        message = Message(snowflake(), channel.id, user, content, mentions=mentioned)
        self.messages[message.id] = message
        if channel.bot_can_view and self.session.intents & GUILD_MESSAGES_INTENT:
            data = self._json(message) | {"member": user.member_json()}
            if not self.session.intents & MESSAGE_CONTENT_INTENT and self.me not in mentioned:
                data["content"] = ""  # Discord withholds it without the intent
            await self.dispatch("MESSAGE_CREATE", data)
        return message

    # -- reading what the bot did --------------------------------------------------------------

    async def reply(self, interaction: Interaction, count: int = 1) -> Message:
        """Wait until the interaction has shown ``count`` messages; the last of them."""
        shown = await self.wait_for(lambda: len(s := interaction.shown()) >= count and s)
        return shown[count - 1]

    async def replies_to(self, message: Message, count: int = 1) -> list[Message]:
        """Wait until the bot has replied ``count`` times to ``message``."""
        return await self.wait_for(lambda: len(r := self.replies(message)) >= count and r)

    def replies(self, message: Message) -> list[Message]:
        return [m for m in self.messages.values() if m.reference == message.id]


def _check_value(option: dict, value: Any, *, partial: bool) -> None:
    """What Discord's client enforces before sending an option (a test bug if violated)."""
    kind = option["type"]
    if kind == 3:
        assert isinstance(value, str)
        if not partial:
            assert option.get("min_length", 0) <= len(value) <= option.get("max_length", 6000)
    elif kind == 4:
        assert isinstance(value, int)
        assert option.get("min_value", -(2**53)) <= value <= option.get("max_value", 2**53)


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON as Discord sends it: discord.py parses a body only if its Content-Type is exactly
    ``application/json`` (aiohttp's own json_response appends a charset)."""
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


async def _send(ws: web.WebSocketResponse, payload: dict) -> None:
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        if not ws.closed:
            await ws.send_str(json.dumps(payload))
