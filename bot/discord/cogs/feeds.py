"""Following the story on Discord: ``/feed`` for moderators, ``/whatsnew`` for members, and the
background work of a connected bot.

The background starts once the bot is connected (``on_ready``, once per process: never for
``storybot sync``, which only logs in) and stops when the client closes:

- a feed watcher per story (``StoryBot.watch_feeds``), started once the story has a feed to
  watch, polls its due feeds; fetching, extraction and scoring run in worker threads, so
  questions are answered meanwhile. Every story's feeds are polled and its candidates queued;
- a loop, every ``background_seconds`` and at once when there is news (new candidates, an add
  made by this process, a channel set), posts what is waiting, each story's to its own
  server's channels (``/feed channels``, else the configured ``[discord] review_channel_id`` /
  ``announce_channel_id`` of that server: ``bot.stories.channels.routes``; never another
  server's): candidates not posted yet (also those ``storybot feeds check`` found, or a
  restart missed), each marked as posted with its message (``mark_candidate_posted``), and
  announcements of sources added by any path, each marked after its post
  (``mark_announced``). A post that fails (no such channel, no permission) is retried at the
  next round: nothing is marked before it is posted, so nothing is lost or posted twice;
- the same loop redraws review messages of candidates decided elsewhere (``storybot feeds
  accept|ignore``, another process): their buttons go and the message says who decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.checks import (
    FEEDS_REFUSAL,
    added_by,
    moderator_default_permissions,
    moderator_only,
)
from bot.discord.embeds import announcement_embed, excerpt_embeds
from bot.discord.errors import tell
from bot.discord.logs import log_handled
from bot.discord.markdown import (
    AUTOCOMPLETE_LIMIT,
    URL_SHOWN_LIMIT,
    escape,
    link,
    no_preview,
    safe_trim,
)
from bot.discord.review import review_message
from bot.discord.stories import story_for
from bot.insights.announcements import Announcement
from bot.sources.feeds.items import FeedError, NotAFeed
from bot.sources.feeds.store import Candidate, Feed, FeedStoreError
from bot.sources.feeds.watcher import FeedWatcher
from bot.sources.web.fetch import FetchError
from bot.sources.web.urlguard import UrlRefused
from bot.stories.channels import ANNOUNCE, REVIEW, routes

if TYPE_CHECKING:
    from bot.discord.client import StoryDiscordBot
    from bot.engine import StoryBot

log = logging.getLogger("bot.discord")
T = TypeVar("T")

# Candidates posted per round (a long queue is posted a batch a round, oldest first).
REVIEW_BATCH = 25
# Feeds shown by /feed list (one embed field each, within the 6000 characters of an embed).
FEEDS_SHOWN = 15
NOTHING_NEW = "No sources yet."


class ChannelOption(app_commands.Transformer):
    """A text or announcement channel option, as its id: the command looks the channel up
    itself (whose server it is, what the bot may do there) rather than in the server the
    command came from."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news]

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> int:
        return int(value.id)


class FeedsCog(commands.Cog):
    feed = app_commands.Group(
        name="feed", description="Moderators: watch news feeds for new coverage.", guild_only=True
    )

    def __init__(self, bot: StoryDiscordBot) -> None:
        self.bot = bot
        self.feed.default_permissions = moderator_default_permissions(bot.settings)
        self.watchers: dict[int, FeedWatcher] = {}  # story id -> its feeds' watcher
        self.rounds = 0  # background rounds completed (for tests and status)
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._posting = asyncio.Lock()
        self._failing: set[str] = set()  # posts failing now (logged once until they work)

    # -- the background ----------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Start the background, once per process (``on_ready`` fires again after a
        reconnect)."""
        if self._task is not None or self._stopping:
            return
        self._task = asyncio.create_task(self._run(), name="storybot-background")
        for key in ("review_channel_id", "announce_channel_id"):
            self._check_channel(f"[discord] {key}", getattr(self.bot.settings, key))
        for purpose in (REVIEW, ANNOUNCE):
            try:
                set_here = await asyncio.to_thread(self.bot.storybot.server_channels.all, purpose)
            except Exception:
                log.exception("could not read the servers' channels")
                return
            for guild, channel_id in set_here.items():
                self._check_channel(f"server {guild}'s {purpose} channel", int(channel_id))

    async def cog_unload(self) -> None:
        """Stop cleanly when the client closes: the poll under way and the posts under way
        end (each bounded by its timeouts); nothing new starts."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        for watcher in list(self.watchers.values()):
            await watcher.stop()

    @property
    def watcher(self) -> FeedWatcher | None:
        """The watcher of the bot's own story's feeds, once started."""
        return self.watchers.get(self.bot.storybot.story.id)

    def wake(self) -> None:
        """Post what is waiting now rather than at the next round."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            await self.watch_if_feeds()
            await self.post_candidates()
            await self.redraw_decided()
            await self.post_announcements()
            self.rounds += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.bot.background_seconds)

    async def watch_if_feeds(self) -> None:
        """Start a story's feed watcher once it has a feed to watch (added here, or by
        ``storybot feeds add`` while the bot runs); a bot without feeds polls nothing, an
        archived story's feeds are not polled."""
        if self._stopping:
            return
        storybot = self.bot.storybot
        try:
            story_ids = await asyncio.to_thread(storybot.feed_store.story_ids)
        except Exception:
            log.exception("could not read the watched feeds")
            return
        for story_id in story_ids:
            if story_id in self.watchers or self._stopping:
                continue
            try:
                story = await asyncio.to_thread(storybot.stories.get, story_id)
            except Exception:
                log.exception("could not read story %s", story_id)
                continue
            if story.archived:
                continue
            engine = storybot if story_id == storybot.story.id else storybot.in_story(story)
            watcher = self.watchers[story_id] = engine.watch_feeds(self.candidates_found)
            watcher.start()
            log.info("watching the feeds of story %s in the background", story.name)

    async def candidates_found(self, candidates: list[Candidate]) -> None:
        """The watcher's callback: post the new candidates (and any older unposted ones)."""
        await self.post_candidates()

    async def post_candidates(self) -> None:
        """Post every candidate not posted yet to its story's review channel (its own
        server's), one message each (each message's buttons name its story)."""
        async with self._posting:  # the watcher and the loop never post one candidate twice
            routes = await asyncio.to_thread(self._routes, REVIEW)
            for channel_id, stories in routes.items():
                for storybot in stories:

                    def mark(
                        candidate: Candidate, message: discord.Message, bot=storybot, to=channel_id
                    ) -> None:
                        bot.mark_candidate_posted(candidate.id, f"{to}/{message.id}")

                    def waiting(bot=storybot) -> list[Candidate]:
                        return bot.review_queue(REVIEW_BATCH, unposted=True)

                    await self._post_each("candidate", channel_id, waiting, review_message, mark)

    def _configured(self, purpose: str) -> tuple[str, str | None]:
        """The configured channel for ``purpose`` (``[discord] review_channel_id`` or
        ``announce_channel_id``) and the id of its server (None: not one of the bot's)."""
        channel_id = getattr(self.bot.settings, f"{purpose}_channel_id")
        if not channel_id:
            return "", None
        guild = getattr(getattr(self.bot.get_channel(channel_id), "guild", None), "id", None)
        return str(channel_id), None if guild is None else str(guild)

    def _routes(self, purpose: str) -> dict[int, list[StoryBot]]:
        """Channel -> the stories whose candidates (``review``) or announcements
        (``announce``) go there (blocking): each story's to its own server's channel, set
        with ``/feed channels`` or configured (``bot.stories.channels.routes``), never to
        another server's."""
        storybot = self.bot.storybot
        set_here = storybot.server_channels.all(purpose)
        configured, configured_guild = self._configured(purpose)
        if not set_here and not configured:
            return {}
        servers = {*set_here, *([configured_guild] if configured_guild else [])}
        own = storybot.story.id
        # As the database has them (another process may have claimed or archived one).
        records = [r for r in storybot.stories.all() if r.guild in servers or r.id == own]
        if purpose == REVIEW:
            watching = set(storybot.feed_store.story_ids())
            records = [r for r in records if r.id in watching or r.id == own]
        records.sort(key=lambda r: r.id != own)  # the bot's own first
        out: dict[int, list[StoryBot]] = {}
        for channel, stories in routes(
            records, set_here, configured, configured_guild, own=own
        ).items():
            if not self._in_servers_of(int(channel), {s.guild for s in stories}):
                continue
            out[int(channel)] = [storybot if s.id == own else storybot.in_story(s) for s in stories]
        return out

    def _in_servers_of(self, channel_id: int, guilds: set[str]) -> bool:
        """Whether a channel may show posts of stories of ``guilds``: not if it is known to
        be another server's (a setting written around ``/feed channels``); logged once."""
        channel = self.bot.get_channel(channel_id)
        guild = getattr(getattr(channel, "guild", None), "id", None)
        if guild is None or guilds <= {"", str(guild)}:
            return True
        key = f"elsewhere:{channel_id}"
        if key not in self._failing:
            log.warning("not posting to channel %s: it is another server's", channel_id)
            self._failing.add(key)
        return False

    async def redraw_decided(self) -> None:
        """Redraw the review messages of candidates decided elsewhere (no more buttons; who
        decided and what became of it), of every story whose candidates are posted."""
        routes = await asyncio.to_thread(self._routes, REVIEW)
        stories = {s.story.id: s for group in routes.values() for s in group}
        stories.setdefault(self.bot.storybot.story.id, self.bot.storybot)
        for storybot in stories.values():
            await self._redraw_decided(storybot)

    async def _redraw_decided(self, storybot: StoryBot) -> None:
        try:
            outdated = await asyncio.to_thread(storybot.outdated_review_posts, REVIEW_BATCH)
            for candidate in outdated:
                channel_id, _, message_id = candidate.posted.partition("/")
                if channel_id.isdigit() and message_id.isdigit():
                    channel = self.bot.get_partial_messageable(int(channel_id))
                    message = channel.get_partial_message(int(message_id))
                    shown = review_message(candidate)
                    try:
                        await message.edit(**shown)
                    except discord.NotFound:
                        pass  # deleted: nothing left to redraw
                    except discord.HTTPException as exc:
                        log.warning("could not redraw candidate %s: %s", candidate.id, exc)
                        return  # tried again at the next round
                await asyncio.to_thread(
                    storybot.mark_candidate_shown, candidate.id, candidate.status
                )
        except Exception:
            log.exception("redrawing decided candidates failed")

    async def post_announcements(self) -> None:
        """Announce the sources added since the last announcement, oldest first, each
        story's in its own server's announcement channel."""

        def render(note: Announcement) -> dict[str, Any]:
            none = discord.AllowedMentions.none()
            return {"embed": announcement_embed(note), "allowed_mentions": none}

        routes = await asyncio.to_thread(self._routes, ANNOUNCE)
        for channel_id, stories in routes.items():
            for storybot in stories:

                def mark(note: Announcement, _: discord.Message, bot=storybot) -> None:
                    bot.mark_announced(note.audit_id)

                await self._post_each(
                    "announcement", channel_id, storybot.pending_announcements, render, mark
                )

    async def _post_each(
        self,
        what: str,
        channel_id: int,
        waiting: Callable[[], Sequence[T]],
        render: Callable[[T], dict[str, Any]],
        mark: Callable[[T, discord.Message], None],
    ) -> None:
        """Post what ``waiting()`` returns, in order, each marked (``mark``) once Discord has
        it; the first post Discord refuses ends the round (the rest wait for the next one).
        The database calls run in worker threads."""
        try:
            for item in await asyncio.to_thread(waiting):
                message = await self._send(what, channel_id, **render(item))
                if message is None:
                    return
                await asyncio.to_thread(mark, item, message)
                log.info("%s posted to channel %s (message %s)", what, channel_id, message.id)
        except Exception:
            log.exception("posting the waiting %ss failed", what)

    async def _send(self, what: str, channel_id: int, **kwargs: Any) -> discord.Message | None:
        """Post to a channel by id; None if Discord refused (logged once until it works)."""
        channel = self.bot.get_partial_messageable(channel_id)
        key = f"{what}:{channel_id}"
        try:
            message = await channel.send(**kwargs)
        except discord.HTTPException as exc:
            if key not in self._failing:
                log.warning("could not post the %s to channel %s: %s", what, channel_id, exc)
                self._failing.add(key)
            return None
        self._failing.discard(key)
        return message

    def _channel_of(self, storybot: StoryBot, purpose: str) -> int | None:
        """The channel a story's candidates (``review``) or announcements go to (blocking)."""
        for channel_id, stories in self._routes(purpose).items():
            if any(s.story.id == storybot.story.id for s in stories):
                return channel_id
        return None

    def _check_channel(self, key: str, channel_id: int) -> None:
        """Say in the log at start-up when a configured channel can't be posted to."""
        if not channel_id:
            return
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
            log.warning("%s %s: no such channel in the bot's servers", key, channel_id)
            return
        can = channel.permissions_for(channel.guild.me)
        if not (can.view_channel and can.send_messages and can.embed_links):
            log.warning(
                "%s %s: the bot needs View Channel, Send Messages and Embed Links there",
                key,
                channel_id,
            )

    # -- /feed -------------------------------------------------------------------------------

    @feed.command(name="add", description="Watch an RSS/Atom feed or a topic page for coverage.")
    @app_commands.describe(
        url="The feed's or the page's address (http or https)",
        kind="feed: RSS or Atom (default); page: a publisher's topic page",
    )
    @moderator_only(FEEDS_REFUSAL)
    async def add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2000],
        kind: Literal["feed", "page"] = "feed",
    ) -> None:
        started = time.perf_counter()
        # The feed is fetched once before it is watched (a trial): longer than the 3 s an
        # interaction may wait for its first answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        try:
            feed = await asyncio.to_thread(
                storybot.feeds_add,
                url.strip(),
                kind=kind,
                added_by=added_by(interaction.user),
            )
        except NotAFeed as exc:
            fix = f" Its own feed: {no_preview(exc.feed_url)}; or" if exc.feed_url else ""
            await tell(
                interaction,
                f"Not watched: {safe_trim(str(exc), 500)}.{fix} watch its headline links with "
                "`/feed add` and `kind: page`.",
            )
            log_handled("/feed add", interaction.user.id, started, "rejected")
            return
        except (FeedStoreError, UrlRefused, FetchError, FeedError) as exc:
            await tell(interaction, f"Not watched: {safe_trim(str(exc), 500)}")
            log_handled("/feed add", interaction.user.id, started, "rejected")
            return
        watcher = self.watchers.get(storybot.story.id)
        if watcher is not None:
            watcher.wake()  # poll it now
        else:
            self.wake()  # the background starts the watcher
        review = await asyncio.to_thread(self._channel_of, storybot, REVIEW)
        story = storybot.story
        named = (
            ""
            if story.id == self.bot.storybot.story.id
            else f" for the story **{discord.utils.escape_markdown(safe_trim(story.name, 40))}**"
        )
        where = (
            f"Candidates about the story go to <#{review}>."
            if review
            else "This server has no review channel yet: `/feed channels review:` sets one "
            f"(meanwhile `storybot --story {story.id} feeds queue` lists the candidates)."
        )
        await tell(
            interaction,
            f"Watching feed {feed.id}{named}: {no_preview(feed.url)} ({feed.kind}). It is polled "
            f"now and every {storybot.config.feeds.poll_minutes} minutes. {where}",
        )
        log_handled("/feed add", interaction.user.id, started, f"feed {feed.id}")

    @feed.command(
        name="channels",
        description="This server's review and announcement channels: show, set or clear them.",
    )
    @app_commands.describe(
        review="Where candidates from the watched feeds are posted for review",
        announce="Where new sources of this server's stories are announced",
        clear="Unset a channel (the bot's configured one applies again if it is this server's)",
    )
    @moderator_only(FEEDS_REFUSAL)
    async def channels(
        self,
        interaction: discord.Interaction,
        review: app_commands.Transform[int, ChannelOption] | None = None,
        announce: app_commands.Transform[int, ChannelOption] | None = None,
        clear: Literal["review", "announce", "both"] | None = None,
    ) -> None:
        started = time.perf_counter()
        guild = str(interaction.guild_id)
        given = {REVIEW: review, ANNOUNCE: announce}
        cleared = {REVIEW, ANNOUNCE} if clear == "both" else {clear} if clear else set()
        both = [p for p in cleared if given[p] is not None]
        if both:
            await tell(
                interaction, f"Not changed: set the {both[0]} channel or clear it, not both."
            )
            log_handled("/feed channels", interaction.user.id, started, "refused")
            return
        for channel_id in filter(None, given.values()):
            refusal = self._refusal(interaction, channel_id)
            if refusal:
                await tell(interaction, f"Not changed: {refusal}")
                log_handled("/feed channels", interaction.user.id, started, "refused")
                return
        changes = {p: str(c) for p, c in given.items() if c is not None} | dict.fromkeys(
            cleared, ""
        )
        store = self.bot.storybot.server_channels
        if changes:
            await asyncio.to_thread(store.set, guild, **changes, by=added_by(interaction.user))
            self.wake()  # post what waits for the new channels now
        lines = await asyncio.to_thread(self._channel_lines, guild)
        head = "This server's channels are now:" if changes else "This server's channels:"
        await tell(interaction, "\n".join([head, *lines]))
        log_handled(
            "/feed channels", interaction.user.id, started, "changed" if changes else "shown"
        )

    def _refusal(self, interaction: discord.Interaction, channel_id: int) -> str | None:
        """Why the channel can't be this server's review or announcement channel, if so."""
        channel = self.bot.get_channel(channel_id)
        if getattr(getattr(channel, "guild", None), "id", None) != interaction.guild_id:
            return f"channel {channel_id} is not one of this server's channels."
        if not isinstance(channel, discord.TextChannel):
            return f"<#{channel_id}> is not a text or announcement channel."
        can = channel.permissions_for(channel.guild.me)
        needed = {
            "View Channel": can.view_channel,
            "Send Messages": can.send_messages,
            "Embed Links": can.embed_links,
        }
        missing = [name for name, ok in needed.items() if not ok]
        if missing:
            return f"I can't post in <#{channel_id}>: I need {', '.join(missing)} there."
        return None

    def _channel_lines(self, guild: str) -> list[str]:
        """What the server's review and announcement channels are, and where they come from
        (blocking: the database)."""
        setting = self.bot.storybot.server_channels.get(guild)
        lines = []
        for purpose, what in ((REVIEW, "Review of feed candidates"), (ANNOUNCE, "New sources")):
            configured, configured_guild = self._configured(purpose)
            if setting.of(purpose):
                shown = f"<#{setting.of(purpose)}>"
            elif configured and configured_guild == guild:
                shown = f"<#{configured}> (the bot's configured channel)"
            else:
                shown = f"none (`/feed channels {purpose}:` sets one)"
            lines.append(f"• {what}: {shown}")
        return lines

    @feed.command(name="list", description="The watched feeds: last poll, status, next poll.")
    @moderator_only(FEEDS_REFUSAL)
    async def list_feeds(self, interaction: discord.Interaction) -> None:
        started = time.perf_counter()
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        feeds = await asyncio.to_thread(storybot.feeds_list)
        await interaction.response.send_message(
            embed=feeds_embed(feeds),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        log_handled("/feed list", interaction.user.id, started, f"{len(feeds)} feed(s)")

    @feed.command(name="remove", description="Stop watching a feed (see /feed list for ids).")
    @app_commands.rename(feed_id="id")
    @app_commands.describe(feed_id="The feed's id, as /feed list shows it")
    @moderator_only(FEEDS_REFUSAL)
    async def remove(
        self, interaction: discord.Interaction, feed_id: app_commands.Range[int, 1, 2**53]
    ) -> None:
        started = time.perf_counter()
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        try:
            feed = await asyncio.to_thread(
                storybot.feeds_remove, feed_id, removed_by=added_by(interaction.user)
            )
        except FeedStoreError as exc:
            await tell(interaction, f"Not removed: {safe_trim(str(exc), 300)}")
            log_handled("/feed remove", interaction.user.id, started, "unknown id")
            return
        await tell(
            interaction,
            f"Stopped watching feed {feed.id}: {no_preview(feed.url)}. Decisions on its items "
            "are kept.",
        )
        log_handled("/feed remove", interaction.user.id, started, f"removed {feed.id}")

    @remove.autocomplete("feed_id")
    async def feed_id_choices(
        self, interaction: discord.Interaction, current: Any
    ) -> list[app_commands.Choice[int]]:
        wanted = str(current or "").lower()
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        feeds = await asyncio.to_thread(storybot.feeds_list)
        return [
            app_commands.Choice(name=f"{f.id} — {f.title or f.url}"[:100], value=f.id)
            for f in feeds
            if wanted in str(f.id) or wanted in f.title.lower() or wanted in f.url.lower()
        ][:AUTOCOMPLETE_LIMIT]

    # -- /whatsnew ---------------------------------------------------------------------------

    @app_commands.command(name="whatsnew", description="The latest sources, each with a quote.")
    @app_commands.describe(count="How many sources (default 5)")
    @app_commands.guild_only()
    async def whatsnew(
        self, interaction: discord.Interaction, count: app_commands.Range[int, 1, 10] = 5
    ) -> None:
        started = time.perf_counter()
        await interaction.response.defer(ephemeral=True, thinking=True)
        storybot = await story_for(self.bot, interaction.guild_id, interaction.channel)
        excerpts = await asyncio.to_thread(storybot.whats_new, count)
        if not excerpts:
            await tell(interaction, NOTHING_NEW)
            log_handled("/whatsnew", interaction.user.id, started, "nothing")
            return
        await interaction.followup.send(
            content=f"**The latest {len(excerpts)} source(s)**, newest first, with their openings:",
            embeds=excerpt_embeds(excerpts),
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        log_handled("/whatsnew", interaction.user.id, started, f"{len(excerpts)} source(s)")


def feeds_embed(feeds: list[Feed]) -> discord.Embed:
    """/feed list: one field per feed (the first FEEDS_SHOWN)."""
    embed = discord.Embed(
        title=f"Watched feeds ({len(feeds)})",
        colour=discord.Colour.blurple(),
        description=None if feeds else "None yet: `/feed add url:` watches one.",
    )
    for feed in feeds[:FEEDS_SHOWN]:
        name = safe_trim(f"{feed.id} · {feed.title or feed.host or feed.url}", 100)
        embed.add_field(name=name or str(feed.id), value=_feed_line(feed), inline=False)
    if len(feeds) > FEEDS_SHOWN:
        embed.set_footer(
            text=f"The first {FEEDS_SHOWN} of {len(feeds)}; storybot feeds list shows all."
        )
    return embed


def _feed_line(feed: Feed) -> str:
    target = link(feed.url)
    host = escape(feed.host) or "link"
    where = f"[{host}]({target})" if target and len(target) <= URL_SHOWN_LIMIT else host
    polled = feed.last_polled_at[:16].replace("T", " ")
    status = safe_trim(feed.last_status, 100)
    line = f"{feed.kind} · {where}\n" + (
        f"last poll {polled} UTC: {status}" if polled else "not polled yet"
    )
    if feed.failures:
        line += f" ({feed.failures} failure(s) in a row)"
    following = feed.next_poll_at[:16].replace("T", " ")
    return line + (f" · next {following} UTC" if following else " · next: now")


async def setup(bot: StoryDiscordBot) -> None:
    await bot.add_cog(FeedsCog(bot))
