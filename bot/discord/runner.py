"""``storybot run`` and ``storybot sync``: start the bot, or only register its slash commands."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import discord

from bot.discord.client import StoryDiscordBot
from bot.engine import StoryBot

# Gateway close codes that end the session for good (Discord's documentation).
AUTHENTICATION_FAILED = 4004


class StartError(Exception):
    """Discord refused to start (or keep running) the bot; the message says what to fix."""


def _log_setup(verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in root.handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # discord.py's own INFO lines (gateway sessions) only with -v.
    logging.getLogger("discord").setLevel(logging.INFO if verbose else logging.WARNING)
    # The bot never joins voice: no warnings about missing voice libraries.
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


@contextlib.contextmanager
def _start_errors() -> Iterator[None]:
    """Discord's refusals as StartError with what to do about them."""
    try:
        yield
    except discord.LoginFailure as exc:
        raise StartError(
            "Discord rejected the token in DISCORD_TOKEN; copy it again from the "
            "Developer Portal (Bot > Reset Token)"
        ) from exc
    except discord.PrivilegedIntentsRequired as exc:
        raise StartError(
            "Q&A channels need the Message Content intent: enable it in the Developer Portal "
            "(Bot > Privileged Gateway Intents) or empty [discord] qa_channel_ids"
        ) from exc
    except discord.ConnectionClosed as exc:
        if exc.code == AUTHENTICATION_FAILED:
            raise StartError(
                "Discord closed the connection: the token in DISCORD_TOKEN is no longer valid "
                "(reset in the Developer Portal?)"
            ) from exc
        raise StartError(f"Discord closed the connection (code {exc.code}: {exc.reason})") from exc
    except (OSError, discord.HTTPException, discord.GatewayNotFound) as exc:
        raise StartError(f"cannot reach Discord ({exc.__class__.__name__}: {exc})") from exc


async def serve(client: StoryDiscordBot, token: str) -> None:
    """Log in (``setup_hook`` loads the cogs, registers the buttons and syncs the commands if
    they changed), connect, and serve until the client is closed. Raises StartError."""
    with _start_errors():
        async with client:
            await client.start(token)


def run(storybot: StoryBot, token: str, verbose: bool = False) -> None:
    """Connect and serve until interrupted (Ctrl-C)."""
    _log_setup(verbose)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(StoryDiscordBot(storybot), token))


async def register(client: StoryDiscordBot, token: str, *, clear_global: bool = False) -> list[str]:
    """Log in without connecting to the gateway and register the commands now (even if
    unchanged); with ``clear_global``, also remove the global ones. Raises StartError."""
    if clear_global and not client.settings.guild_ids:
        raise StartError(
            "--clear-global removes the global commands after registering them per server: "
            "set [discord] guild_ids first"
        )
    with _start_errors():
        async with client:
            await client.login(token)  # runs setup_hook: adds the cogs (no sync: see below)
            targets = await client.sync_commands(force=True)
            if clear_global:
                await client.clear_global_commands()
            return targets


def sync(
    storybot: StoryBot, token: str, verbose: bool = False, *, clear_global: bool = False
) -> list[str]:
    """``storybot sync``: register the slash commands now, then return where."""
    _log_setup(verbose)
    client = StoryDiscordBot(storybot, sync_on_setup=False)
    return asyncio.run(register(client, token, clear_global=clear_global))
