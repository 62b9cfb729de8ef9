"""Every failure becomes a short private message for the user and a logged traceback."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.discord.checks import NotModerator
from bot.discord.markdown import CONTENT_LIMIT, no_previews, trim
from bot.stories.store import StoryError

log = logging.getLogger("bot.discord")

SORRY = "Sorry, something went wrong on my side. It has been logged; please try again later."


async def tell(interaction: discord.Interaction, text: str) -> None:
    """A private message to whoever caused ``interaction``, whether or not it was answered.
    Callers keep messages short; a longer one (e.g. a huge URL echoed back) is trimmed rather
    than refused by Discord after the work it reports has been done. Links get no preview."""
    text = trim(no_previews(text), CONTENT_LIMIT)
    kwargs = {"ephemeral": True, "allowed_mentions": discord.AllowedMentions.none()}
    if interaction.response.is_done():
        await interaction.followup.send(text, **kwargs)
    else:
        await interaction.response.send_message(text, **kwargs)


def user_message(error: Exception) -> str | None:
    """What to tell the user for expected errors; None for bugs (logged with traceback)."""
    if isinstance(error, NotModerator | StoryError):
        return str(error)
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "That command works in a server, not in direct messages."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use that command here."
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand the value {error.value!r}."
    return None


async def on_app_command_error(
    interaction: discord.Interaction, error: app_commands.AppCommandError
) -> None:
    """The command tree's error handler: the bot keeps running whatever a command raises."""
    original = getattr(error, "original", error)
    message = user_message(original)
    name = interaction.command.qualified_name if interaction.command else "?"
    if message is None:
        log.error("/%s failed for user %s", name, interaction.user.id, exc_info=original)
        message = SORRY
    elif isinstance(original, NotModerator):
        log.info("/%s user=%s refused (not a moderator)", name, interaction.user.id)
    else:
        log.info("/%s refused for user %s: %s", name, interaction.user.id, message)
    try:
        await tell(interaction, message)
    except discord.HTTPException:
        log.warning("could not tell user %s about the error", interaction.user.id)
