"""``storybot run`` and ``storybot sync``: start the bot, or only register its slash commands."""

from __future__ import annotations

import asyncio
import logging

import discord

from bot.discord.client import StoryDiscordBot
from bot.engine import StoryBot


class StartError(Exception):
    """Discord refused to start the bot; the message says what to fix."""


def _log_setup(verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in root.handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # discord.py's own INFO lines (gateway sessions) only with -v.
    logging.getLogger("discord").setLevel(logging.INFO if verbose else logging.WARNING)
    # The bot never joins voice: no warnings about missing voice libraries.
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


def _unreachable(exc: BaseException) -> StartError:
    return StartError(f"cannot reach Discord ({exc.__class__.__name__}: {exc})")


def run(storybot: StoryBot, token: str, verbose: bool = False) -> None:
    """Connect and serve until interrupted. Commands sync once, in ``setup_hook``."""
    _log_setup(verbose)
    client = StoryDiscordBot(storybot)
    try:
        client.run(token, log_handler=None)
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
    except (OSError, discord.HTTPException, discord.GatewayNotFound) as exc:
        raise _unreachable(exc) from exc


def sync(storybot: StoryBot, token: str, verbose: bool = False) -> list[str]:
    """Register the slash commands now, without connecting to the gateway."""
    _log_setup(verbose)

    async def main() -> list[str]:
        client = StoryDiscordBot(storybot, sync_on_setup=False)
        async with client:
            try:
                await client.login(token)  # runs setup_hook: adds the cogs
            except discord.LoginFailure as exc:
                raise StartError("Discord rejected the token in DISCORD_TOKEN") from exc
            return await client.sync_commands()

    try:
        return asyncio.run(main())
    except (OSError, discord.HTTPException) as exc:
        raise _unreachable(exc) from exc
