"""Members ask: ``/ask``, a mention of the bot, or a question in a Q&A channel; and ``/help``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.embeds import Reply, answer_reply, help_embed
from bot.discord.errors import SORRY
from bot.discord.logs import log_handled
from bot.discord.stories import STORY_OPTION, several_stories, story_choices, story_for, with_story
from bot.discord.views import answer_view
from bot.search.retrieval import MAX_QUESTION_CHARS, Answer, QuestionError, clean_or_refuse

if TYPE_CHECKING:
    from bot.discord.client import StoryDiscordBot
    from bot.engine import StoryBot

log = logging.getLogger("bot.discord")

MENTION_HINT = "Ask me a question after the mention, e.g. “@storybot who directed the film?”"
SLASH_EXAMPLE = "For example: /ask question: Who directed the film?"
COOLDOWN_NOTICE_SECONDS = 10.0
QUESTION_WORDS = frozenset(
    "who whom whose what when where why how which is are was were do does did can could "
    "will would should has have had".split()
)


# Discord syntax carries no words to look up: user, role and channel mentions, custom emoji,
# timestamps, command links. Left in, "<@123456789012345678>" would count as an unknown word of
# the question and make a mention of another member turn an answerable question into a refusal.
DISCORD_SYNTAX = re.compile(r"<(?:@[!&]?\d+|#\d+|a?:\w+:\d+|t:-?\d+(?::[tTdDfFR])?|/[\w -]+:\d+)>")


def without_discord_syntax(text: str) -> str:
    """``text`` without mentions and other ``<...>`` Discord syntax, spaces collapsed."""
    return " ".join(DISCORD_SYNTAX.sub(" ", text).split())


def cooldown_message(wait: float) -> str:
    return f"You're asking quickly: please wait {max(1, round(wait))} s before the next question."


def looks_like_question(text: str) -> bool:
    """In a Q&A channel, answer questions, not every "thanks!" or chat line."""
    words = text.split()
    return bool(words) and ("?" in text or words[0].lower().strip(",:") in QUESTION_WORDS)


class AskCog(commands.Cog):
    def __init__(self, bot: StoryDiscordBot) -> None:
        self.bot = bot

    # -- shared ------------------------------------------------------------------------------

    async def answer(
        self, question: str, guild_id: int | None, storybot: StoryBot | None = None
    ) -> Answer:
        """The answer of ``storybot`` (default: the engine's story), recorded in the question
        log. Runs in a thread: the event loop keeps serving other members meanwhile."""
        storybot = storybot or self.bot.storybot
        return await asyncio.to_thread(
            storybot.ask, question, record=True, server=str(guild_id or "")
        )

    async def buttons_for(
        self,
        answer: Answer,
        asker_id: int,
        *,
        via_interaction: bool,
        storybot: StoryBot | None = None,
    ) -> dict[str, discord.ui.View]:
        """``view=`` with the answer's persistent buttons, or nothing if the answer could not
        be stored for them (it is posted anyway)."""
        storybot = storybot or self.bot.storybot
        stored = await asyncio.to_thread(
            storybot.remember_answer, answer, asker_id, via_interaction=via_interaction
        )
        return {} if stored is None else {"view": answer_view(stored)}

    async def named_reply(self, reply: Reply, storybot: StoryBot, guild_id: int | None) -> Reply:
        """The reply, naming its story when the server has more than one."""
        if await asyncio.to_thread(several_stories, storybot, guild_id):
            return with_story(reply, storybot.story)
        return reply

    # -- /ask --------------------------------------------------------------------------------

    @app_commands.command(name="ask", description="Ask about the story; I answer with quotes.")
    @app_commands.describe(
        question="Your question, e.g. Who directed the film?", story=STORY_OPTION
    )
    @app_commands.guild_only()
    async def ask(
        self,
        interaction: discord.Interaction,
        question: app_commands.Range[str, 1, MAX_QUESTION_CHARS],
        story: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        started = time.perf_counter()
        question = without_discord_syntax(question)
        wait = self.bot.cooldowns.hit(interaction.user.id)
        if wait is not None:
            await interaction.response.send_message(
                cooldown_message(wait),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            log_handled("/ask", interaction.user.id, started, "cooldown")
            return
        try:
            clean_or_refuse(question)
        except QuestionError as exc:
            await interaction.response.send_message(
                f"{exc} {SLASH_EXAMPLE}" if exc.empty else str(exc),
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            log_handled("/ask", interaction.user.id, started, "bad question")
            return
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel, story)
        await interaction.response.defer(thinking=True)
        answer = await self.answer(question, interaction.guild_id, storybot)
        reply = answer_reply(answer, show_question=True)
        reply = await self.named_reply(reply, storybot, interaction.guild_id)
        buttons = await self.buttons_for(
            answer, interaction.user.id, via_interaction=True, storybot=storybot
        )
        await interaction.followup.send(**reply.kwargs(), **buttons)
        log_handled("/ask", interaction.user.id, started, _outcome(answer))

    # -- mentions and Q&A channels -----------------------------------------------------------

    def question_in(self, message: discord.Message) -> str | None:
        """The question a message asks the bot, '' for a bare mention, None if it asks nothing."""
        me = self.bot.user
        if me is None or message.author.bot or message.webhook_id is not None:
            return None
        # A mention typed in the text, not the author ping of a reply to the bot ("thanks!"),
        # which Discord also lists in message.mentions.
        if re.search(rf"<@!?{me.id}>", message.content):
            return without_discord_syntax(message.content)
        channel_ids = self.bot.settings.qa_channel_ids
        channel = message.channel
        in_qa_channel = channel.id in channel_ids or (
            getattr(channel, "parent_id", None) in channel_ids  # a thread of a Q&A channel
        )
        if message.guild is not None and in_qa_channel:
            text = without_discord_syntax(message.content)
            return text if looks_like_question(text) else None
        return None

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        question = self.question_in(message)
        if question is None:
            return
        started = time.perf_counter()
        try:
            await self._answer_message(message, question, started)
        except Exception:
            log.exception("answering message %s failed", message.id)
            with contextlib.suppress(discord.HTTPException):  # e.g. no permission to reply
                await _reply(message, Reply(content=SORRY))

    async def _answer_message(self, message: discord.Message, question: str, started) -> None:
        if not question:
            await _reply(message, Reply(content=MENTION_HINT))
            log_handled("message", message.author.id, started, "no question")
            return
        wait = self.bot.cooldowns.hit(message.author.id)
        if wait is not None:
            await _reply(message, Reply(content=cooldown_message(wait)), COOLDOWN_NOTICE_SECONDS)
            log_handled("message", message.author.id, started, "cooldown")
            return
        try:
            clean_or_refuse(question)
        except QuestionError as exc:
            await _reply(message, Reply(content=f"{exc} {MENTION_HINT}" if exc.empty else str(exc)))
            return
        storybot = await story_for(self.bot, message.guild.id, message.channel)
        async with message.channel.typing():
            answer = await self.answer(question, message.guild.id, storybot)
        buttons = await self.buttons_for(
            answer, message.author.id, via_interaction=False, storybot=storybot
        )
        reply = await self.named_reply(answer_reply(answer), storybot, message.guild.id)
        await _reply(message, reply, **buttons)
        log_handled("message", message.author.id, started, _outcome(answer))

    @ask.autocomplete("story")
    async def ask_story_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await story_choices(self.bot, interaction, current)

    # -- /help -------------------------------------------------------------------------------

    @app_commands.command(name="help", description="What this bot does and how to ask.")
    @app_commands.guild_only()
    async def help(self, interaction: discord.Interaction) -> None:
        started = time.perf_counter()
        await interaction.response.send_message(
            embed=help_embed(self.bot.storybot.config.retrieval.top_k),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        log_handled("/help", interaction.user.id, started, "ok")


async def _reply(
    message: discord.Message,
    reply: Reply,
    delete_after: float | None = None,
    view: discord.ui.View | None = None,
) -> discord.Message:
    kwargs = reply.kwargs()
    if view is not None:
        kwargs["view"] = view
    return await message.reply(**kwargs, mention_author=False, delete_after=delete_after)


def _outcome(answer: Answer) -> str:
    if answer.answered:
        return f"answered with {len(answer.excerpts)} excerpt(s)"
    return f"no answer ({answer.reason})"


async def setup(bot: StoryDiscordBot) -> None:
    await bot.add_cog(AskCog(bot))
