"""Following the story end to end: a real feed server on 127.0.0.1 and the real client against
the Discord double. Candidates posted to the review channel with their buttons, every button
pressed by moderators and members (at once, after a failed add, after a restart), the /feed
commands, announcements of sources added through the review queue and from another process,
and /whatsnew."""

from __future__ import annotations

import logging
import re

import pytest
from feed_server import (
    CUTIES_SENTENCES,
    CUTIES_TITLE,
    add_feed_pages,
    bridge_item,
    cuties_item,
    rss,
    serve_feed,
)
from web_server import Route, linked_html, serve

from bot.discord.checks import FEEDS_REFUSAL, REFUSAL
from bot.engine import StoryBot
from bot.sources.feeds.store import STATUSES

from .discord_double import EPHEMERAL

web = pytest.fixture(serve)
BUTTONS = ["Add", "Add and follow links", "Ignore"]
# Unanswered by the test corpus; the indictment article (a candidate) answers it.
INDICTMENT_QUESTION = "Which county indicted Netflix?"
SCORE_QUESTION = "Which orchestra recorded the soundtrack?"
SCORE = (
    b"# The score\n\nThe Lyon Philharmonic orchestra recorded the soundtrack in 2019.\n\n"
    b"The composer wrote most of the music in Dakar over one winter, mixing traditional "
    b"Senegalese songs with modern pop beats; the album came out a week before the film.\n"
)
PETITION = [
    "A petition asking Netflix to remove Cuties gathered hundreds of thousands of signatures "
    "within days of the film's release on the streaming service.",
    "Its organisers said the film sexualized young girls, which director Maïmouna Doucouré "
    "denied, calling Cuties a critique of that very sexualization.",
]


class Newsroom:
    """The bot with a review channel and an announcement channel, watching one feed that
    lists an article about the story (a candidate) and one that is not (off topic)."""

    def __init__(self, double, harness, web) -> None:
        self.double, self.harness, self.web = double, harness, web
        self.review = double.add_channel("review")
        self.news = double.add_channel("news")
        self.mod = double.member("mo", double.mods)
        self.editor = double.member("ed", double.editors)
        self.member = double.member("ana")
        add_feed_pages(web)
        serve_feed(web, "/feed", rss([cuties_item(web), bridge_item(web)]))
        # Rounds every 50 ms: an add by another process is announced without a minute's wait.
        harness.client_options = {"background_seconds": 0.05}
        self.process = None

    def engine(self, **discord) -> StoryBot:
        channels = {"review_channel_id": self.review.id, "announce_channel_id": self.news.id}
        return self.harness.engine(discord=channels | discord, feeds={"host_interval_seconds": 0.0})

    async def start(self, storybot: StoryBot | None = None, *, watch: bool = True):
        storybot = storybot or self.engine()
        if watch:
            storybot.feeds_add(self.web.url("/feed"), added_by="setup")
        self.process = await self.harness.start(storybot)
        return self.process

    @property
    def storybot(self) -> StoryBot:
        return self.process.storybot

    def cog(self, process=None):
        return (process or self.process).client.get_cog("FeedsCog")

    async def rounds(self, more: int = 1, process=None) -> None:
        """Wait until the background has done ``more`` rounds from now."""
        cog = self.cog(process)
        target = cog.rounds + more
        await self.double.wait_for(lambda: cog.rounds >= target)

    def posted(self, channel) -> list:
        return [
            m for m in self.double.messages.values() if m.channel_id == channel.id and not m.deleted
        ]

    async def candidate_message(self):
        (message,) = await self.double.wait_for(lambda: self.posted(self.review))
        return message

    async def settled(self, message, text: str):
        """Wait until the review message says ``text`` (and has no buttons)."""
        await self.double.wait_for(lambda: text in message.content and not message.buttons())
        return message

    def candidate(self, message):
        return self.storybot.candidate(candidate_id(message))


def candidate_id(message) -> int:
    (found,) = {
        int(re.fullmatch(r"sb:feed:(?:add|follow|ignore):(\d+)(?::\d+)?", b["custom_id"])[1])
        for b in message.buttons()
    }
    return found


@pytest.fixture
def room(double, harness, web) -> Newsroom:
    return Newsroom(double, harness, web)


def private_to(message, member) -> bool:
    return bool(message.flags & EPHEMERAL) and message.visible_to == member.id


async def ask(double, member, question: str):
    return await double.reply(await double.slash(member, "ask", question=question))


# -- the review queue ------------------------------------------------------------------------


async def test_a_candidate_is_posted_once_with_why_it_matched_and_three_buttons(room):
    await room.start()
    message = await room.candidate_message()
    url = room.web.url("/news/cuties-indictment")

    assert message.labels() == BUTTONS
    assert all(len(b["custom_id"]) <= 100 for b in message.buttons())
    assert f"<{url}>" in message.content  # a link without a preview card
    assert message.content.startswith("**New coverage to review**")
    (embed,) = message.embeds
    assert (embed["title"], embed["url"]) == (CUTIES_TITLE, url)
    assert embed["author"]["name"]  # the publisher (here the host: the page names none)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Published"] == "2020-10-01"
    assert "Netflix faces a criminal charge" in fields["Summary"]
    assert "words in common:" in embed["description"] and "cuties" in embed["description"]
    assert "**Closest passage** (`seed-story`):\n> " in embed["description"]
    # Marked as posted once Discord has the message (so a restart does not post it again).
    posted = await room.double.wait_for(lambda: room.candidate(message).posted)
    assert posted == f"{room.review.id}/{message.id}"
    # The off-topic item is not posted, and the next rounds post nothing again.
    await room.rounds(2)
    assert room.posted(room.review) == [message]
    assert not room.double.violations


async def test_add_by_a_moderator_adds_it_and_announces_the_question_it_answers(room):
    await room.start()
    message = await room.candidate_message()
    before = {s.id for s in room.storybot.sources}
    unanswered = await ask(room.double, room.member, INDICTMENT_QUESTION)
    assert unanswered.embeds == []  # a gap in the question log

    press = await room.double.click(room.mod, message, "Add")
    await room.settled(message, "**Added** by mo (")

    assert press.callback_type == 6  # a deferred update: the add takes seconds
    edits = [r.body.get("content", "") for r in room.double.requests if r.method == "PATCH"]
    assert any("Being added by mo (" in e and "Fetching <http://127.0.0.1:" in e for e in edits)
    candidate = room.storybot.candidate(candidate_id_of(press))
    added = {s.id for s in room.storybot.sources} - before
    assert added == {candidate.source_id} and candidate.status == "accepted"
    assert f"as `{candidate.source_id}`." in message.content
    (entry,) = room.storybot.audit_entries(candidate.source_id)
    assert entry.action == "add" and entry.actor.endswith(f"({room.mod.id}) via Discord")
    assert message.embeds[0]["title"] == CUTIES_TITLE

    (note,) = await room.double.wait_for(lambda: room.posted(room.news))
    (embed,) = note.embeds
    assert embed["title"] == CUTIES_TITLE and embed["url"] == candidate.url
    assert INDICTMENT_QUESTION in embed["fields"][0]["value"]
    await room.rounds(2)
    assert room.posted(room.news) == [note]  # announced once
    assert (await ask(room.double, room.member, INDICTMENT_QUESTION)).embeds


def candidate_id_of(press) -> int:
    return int(press.payload["data"]["custom_id"].split(":")[3])  # sb:feed:ACTION:ID[:STORY]


async def test_add_and_follow_links_adds_the_pages_it_links_to(room):
    linking = [*CUTIES_SENTENCES]
    linking[0] += ' See <a href="/news/cuties-petition">the petition against the film</a>.'
    room.web.html("/news/cuties-indictment", linked_html(CUTIES_TITLE, linking))
    room.web.html("/news/cuties-petition", linked_html("The Cuties petition", PETITION))
    await room.start()
    message = await room.candidate_message()
    candidate = room.candidate(message)

    await room.double.click(room.editor, message, "Add and follow links")  # a role moderator
    await room.settled(message, "Also added 1 linked page(s)")

    source_id = room.storybot.candidate(candidate.id).source_id
    (petition,) = [s for s in room.storybot.sources if s.title == "The Cuties petition"]
    assert petition.extra["linked_from"] == source_id
    assert f"**Added** by ed ({room.editor.id}) via Discord as `{source_id}`." in message.content
    assert f"`{petition.id}`" in message.content


async def test_ignore_by_a_moderator_is_for_good(room):
    await room.start()
    message = await room.candidate_message()
    before = sorted(s.id for s in room.storybot.sources)
    candidate = room.candidate(message)

    press = await room.double.click(room.mod, message, "Ignore")
    await room.settled(message, "**Ignored** by mo (")

    assert press.callback_type == 7  # the message itself is the answer
    assert room.storybot.candidate(candidate.id).status == "ignored"
    assert sorted(s.id for s in room.storybot.sources) == before
    assert room.storybot.audit_entries()[0].action == "ignore"


async def test_a_members_press_is_refused_privately_and_changes_nothing(room):
    await room.start()
    message = await room.candidate_message()
    shown = (message.content, message.embeds, message.components)
    candidate = room.candidate(message)
    fetched = len(room.web.requests)

    for label in BUTTONS:
        reply = await room.double.reply(await room.double.click(room.member, message, label))
        assert reply.content == REFUSAL and private_to(reply, room.member)

    assert (message.content, message.embeds, message.components) == shown
    assert room.storybot.candidate(candidate.id).status == "pending"
    assert len(room.web.requests) == fetched  # nothing was fetched for them
    assert room.storybot.audit_entries()[0].action == "feed add"


async def test_a_failed_add_says_why_and_the_candidate_waits_again(room):
    await room.start()
    message = await room.candidate_message()
    room.web.routes["/news/cuties-indictment"] = Route(404, {"Content-Type": "text/plain"}, b"")

    await room.double.click(room.mod, message, "Add")
    await room.double.wait_for(lambda: "Not added:" in message.content and message.buttons())

    assert "404" in message.content and "still waiting for a decision" in message.content
    assert message.labels() == BUTTONS
    assert room.candidate(message).status == "pending"


async def test_two_moderators_at_once_one_wins_and_the_other_is_told_by_whom(room):
    await room.start()
    message = await room.candidate_message()
    rival = room.double.member("mia", room.double.mods)

    adding = await room.double.click(room.mod, message, "Add")
    ignoring = await room.double.click(rival, message, "Ignore")
    decided = ("**Added** by", "**Ignored** by")
    await room.double.wait_for(lambda: any(d in message.content for d in decided))
    await room.double.wait_for(
        lambda: len([m for m in (*adding.shown(), *ignoring.shown()) if m.ephemeral]) == 1
    )

    candidate = room.storybot.candidate(candidate_id_of(adding))
    winner, loser = (room.mod, ignoring) if candidate.status == "accepted" else (rival, adding)
    assert candidate.status in ("accepted", "ignored")
    assert f"by {winner.name} (" in message.content
    (told,) = loser.shown()
    assert "already" in told.content and f"{winner.name} ({winner.id})" in told.content
    assert private_to(told, loser.user)


async def test_buttons_work_after_a_restart_and_nothing_is_posted_twice(room):
    first = await room.start()
    message = await room.candidate_message()

    restarted = await room.harness.restart(first)
    await room.rounds(2, restarted)

    assert room.posted(room.review) == [message]
    await room.double.click(room.mod, message, "Ignore")
    await room.settled(message, "**Ignored** by mo (")


async def test_a_candidate_decided_elsewhere_says_so_when_pressed(room):
    await room.start()
    message = await room.candidate_message()
    room.storybot.ignore_candidate(candidate_id(message), by="ana on the command line")

    press = await room.double.click(room.mod, message, "Add")
    told = await room.double.reply(press)

    assert "**Ignored** by ana on the command line." in message.content
    assert not message.buttons()
    assert told.content == "Too late: it was already ignored by ana on the command line."
    assert private_to(told, room.mod)


async def test_a_candidate_decided_on_the_command_line_loses_its_buttons(room):
    """Third attack round, finding 13: the message is redrawn by the background, once."""
    await room.start()
    message = await room.candidate_message()
    room.storybot.ignore_candidate(candidate_id(message), by="ana on the command line")

    await room.settled(message, "**Ignored** by ana on the command line.")
    await room.rounds(2)
    assert not message.buttons()
    assert room.storybot.outdated_review_posts() == []  # marked: not redrawn at every round
    assert not room.double.violations


# -- /feed -----------------------------------------------------------------------------------


async def test_feed_commands_for_moderators_and_a_refusal_for_members(room):
    await room.start(watch=False)
    double = room.double
    for command, options in (
        ("feed add", {"url": room.web.url("/feed")}),
        ("feed list", {}),
        ("feed remove", {"id": 1}),
    ):
        reply = await double.reply(await double.slash(room.member, command, **options))
        assert reply.content == FEEDS_REFUSAL and private_to(reply, room.member)
    assert room.storybot.feeds_list() == []

    added = await double.reply(
        await double.slash(room.mod, "feed add", url=room.web.url("/feed?utm_source=x"))
    )
    assert private_to(added, room.mod)
    assert added.content.startswith(f"Watching feed 1: <{room.web.url('/feed')}> (feed).")
    assert f"<#{room.review.id}>" in added.content
    # Polled at once (the background starts the watcher): its candidate is posted.
    await room.candidate_message()

    again = await double.reply(await double.slash(room.mod, "feed add", url=room.web.url("/feed")))
    assert again.content.startswith("Not watched:") and "already watched" in again.content

    listed = await double.reply(await double.slash(room.mod, "feed list"))
    (embed,) = listed.embeds
    assert embed["title"] == "Watched feeds (1)" and private_to(listed, room.mod)
    (field,) = embed["fields"]
    assert field["name"] == "1 · Film desk"
    assert field["value"].startswith(f"feed · [127.0.0.1]({room.web.url('/feed')})")
    assert "last poll" in field["value"] and ": ok" in field["value"]

    completion = await double.autocomplete(room.mod, "feed remove", "id", 1)
    await double.wait_for(lambda: completion.choices is not None)
    assert completion.choices == [{"name": "1 — Film desk", "value": 1}]
    removed = await double.reply(await double.slash(room.mod, "feed remove", id=1))
    assert removed.content.startswith("Stopped watching feed 1:")
    assert room.storybot.feeds_list() == []
    gone = await double.reply(await double.slash(room.mod, "feed remove", id=1))
    assert gone.content == "Not removed: no feed with id 1"


async def test_feed_add_tries_the_feed_and_hints_kind_page_for_a_web_page(room):
    await room.start(watch=False)
    double = room.double
    room.web.html("/film", f"<html><body><a href='/news/x'>{CUTIES_TITLE}</a></body></html>")
    page = await double.reply(await double.slash(room.mod, "feed add", url=room.web.url("/film")))
    assert page.content.startswith("Not watched:") and private_to(page, room.mod)
    assert "not an RSS or Atom feed" in page.content and "`kind: page`" in page.content
    missing = await double.reply(
        await double.slash(room.mod, "feed add", url=room.web.url("/missing"))
    )
    assert missing.content.startswith("Not watched:") and "404" in missing.content
    assert room.storybot.feeds_list() == []
    added = await double.reply(
        await double.slash(room.mod, "feed add", url=room.web.url("/film"), kind="page")
    )
    assert added.content.startswith(f"Watching feed 1: <{room.web.url('/film')}> (page).")


# -- announcements and /whatsnew ---------------------------------------------------------------


async def test_a_source_added_by_another_process_is_announced_once(room):
    first = await room.start(watch=False)
    await room.rounds(1)  # the first round ever: announcements start from now
    assert (await ask(room.double, room.member, SCORE_QUESTION)).embeds == []

    cli = StoryBot(room.storybot.config, analyzer=room.harness.analyzer)  # storybot sources add
    added = cli.add_file("score.md", SCORE, url="https://music.example/score", added_by="cli")

    (note,) = await room.double.wait_for(lambda: room.posted(room.news))
    (embed,) = note.embeds
    assert (embed["title"], embed["url"]) == ("The score", "https://music.example/score")
    assert embed["fields"][0]["value"] == f"• {SCORE_QUESTION}"
    assert note.content == "" and not note.buttons()
    await room.rounds(2)
    restarted = await room.harness.restart(first)
    await room.rounds(2, restarted)
    assert room.posted(room.news) == [note]
    assert room.storybot.source(added.source.id).added_by == "cli"


async def test_whatsnew_quotes_the_latest_sources_newest_first(room):
    await room.start(watch=False)
    room.storybot.add_file("score.md", SCORE, added_by="mod")

    interaction = await room.double.slash(room.member, "whatsnew", count=10)
    reply = await room.double.reply(interaction)

    assert private_to(reply, room.member) and interaction.callback_type == 5
    titles = [e["title"] for e in reply.embeds]
    assert titles[0] == "[1] The score"
    assert reply.embeds[0]["description"].startswith("> The Lyon Philharmonic orchestra")
    assert len(titles) == len(room.storybot.sources) == 4
    assert any(t.endswith("Zoo \\*\\*news\\*\\* @\u200bhere") for t in titles)  # escaped
    assert "not generated" in reply.embeds[-1]["footer"]["text"]


async def test_help_lists_the_new_commands(room):
    await room.start(watch=False)
    reply = await room.double.reply(await room.double.slash(room.member, "help"))
    text = reply.text()
    for command in ("/whatsnew", "/feed add", "/feed list", "/feed remove"):
        assert command in text


async def test_without_channels_nothing_is_posted_and_the_queue_keeps_them(room):
    process = await room.start(room.engine(review_channel_id=0, announce_channel_id=0))
    await room.double.wait_for(lambda: room.storybot.review_queue())
    await room.rounds(2, process)
    assert room.posted(room.review) == [] and room.posted(room.news) == []
    (candidate,) = room.storybot.review_queue()
    assert candidate.posted == "" and candidate.title == CUTIES_TITLE
    assert {i.status for i in room.storybot.feed_store.items(STATUSES, 10)} == {
        "pending",
        "off-topic",
    }


async def test_a_channel_the_bot_cannot_post_in_is_logged_once_and_nothing_is_lost(room, caplog):
    caplog.set_level(logging.INFO, logger="bot.discord")
    await room.start(room.engine(review_channel_id=room.double.private.id))
    await room.double.wait_for(lambda: room.storybot.review_queue())
    await room.rounds(3)

    assert "review_channel_id" in caplog.text and "needs View Channel" in caplog.text
    assert caplog.text.count("could not post the candidate") == 1  # not every round
    # Not marked as posted: it is posted once the channel works.
    assert len(room.storybot.review_queue(unposted=True)) == 1
    assert room.posted(room.double.private) == []


async def test_another_storys_candidates_go_to_its_servers_review_channel(room):
    """A second story of the server watches the feed: its candidate is posted to the review
    channel with buttons that name its story, and Add adds to that story only."""
    import shutil

    from conftest import SHIPPED_CORPUS

    harbour = room.double.add_server("Harbour")
    await room.start(watch=False)
    bot = room.storybot
    stories = {}
    for name, guild in (("second", room.double.guild_id), ("theirs", harbour.id)):
        record = stories[name] = bot.stories.create(name, guild=str(guild))
        story = bot.in_story(record)
        story.corpus.directory.mkdir(parents=True)
        shutil.copy(SHIPPED_CORPUS / "seed-story.txt", story.corpus.directory)
        story.feeds_add(room.web.url("/feed"), added_by="setup")
    record, second = stories["second"], bot.in_story(stories["second"])
    theirs = bot.in_story(stories["theirs"])
    room.cog().wake()
    message = await room.candidate_message()
    # The other server's story is polled too, but its candidate is never posted here.
    await room.double.wait_for(lambda: theirs.review_queue())
    await room.rounds(2)
    assert room.posted(room.review) == [message]
    assert [c.posted for c in theirs.review_queue()] == [""]
    assert all(b["custom_id"].endswith(f":{record.id}") for b in message.buttons())
    before = {s.id for s in bot.sources}
    press = await room.double.click(room.mod, message, "Add")
    await room.settled(message, "**Added** by mo (")
    candidate = second.candidate(candidate_id_of(press))
    assert candidate.status == "accepted" and candidate.story_id == record.id
    assert candidate.source_id in {s.id for s in second.sources}
    assert {s.id for s in bot.sources} == before  # the bot's own story is unchanged
    # The add is announced in the server's announcement channel (once).
    (note,) = await room.double.wait_for(lambda: room.posted(room.news))
    assert CUTIES_TITLE in note.text()
    await room.rounds(2)
    assert room.posted(room.news) == [note]


# -- each server's own channels (/feed channels) -----------------------------------------------


def seeded_default_story(bot: StoryBot, guild: int) -> StoryBot:
    """The server's default story (a new one: the first server claimed the deployment's), with
    the test story's text, so that the feed's article is a candidate for it too."""
    import shutil

    from conftest import SHIPPED_CORPUS

    story = bot.in_story(bot.stories.guild_default(str(guild)))
    story.corpus.directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_CORPUS / "seed-story.txt", story.corpus.directory)
    return story


async def test_a_second_server_reviews_and_announces_in_its_own_channels(room):
    double = room.double
    harbour = double.add_server("Harbour")
    their_review = double.add_channel("review", guild_id=harbour.id)
    their_news = double.add_channel("news", guild_id=harbour.id)
    hidden = double.add_channel("hidden", bot_can_view=False, guild_id=harbour.id)
    hmod, bea = double.member("hmod", harbour.mods), double.member("bea")
    first = await room.start()
    ours = await room.candidate_message()  # the first server's, in its configured channel
    await ask(double, room.member, INDICTMENT_QUESTION)  # it claims the deployment's story
    theirs = seeded_default_story(room.storybot, harbour.id)

    async def channels(user, **options):
        return await double.reply(
            await double.slash(user, "feed channels", harbour.general, **options)
        )

    # Only their moderators set their channels; never another server's, nor one the bot
    # cannot post in.
    refused = await channels(bea, review=their_review)
    assert refused.content == FEEDS_REFUSAL and private_to(refused, bea)
    elsewhere = await channels(hmod, review=room.review)
    assert elsewhere.content == (
        f"Not changed: channel {room.review.id} is not one of this server's channels."
    )
    blind = await channels(hmod, announce=hidden)
    assert blind.content.startswith(f"Not changed: I can't post in <#{hidden.id}>: I need View")
    assert room.storybot.server_channels.get(harbour.id).review == ""
    shown = await channels(hmod)
    assert "Review of feed candidates: none (`/feed channels review:` sets one)" in shown.content
    # (The first server sees its configured channels.)
    mine = await double.reply(await double.slash(room.mod, "feed channels"))
    assert f"<#{room.review.id}> (the bot's configured channel)" in mine.content

    done = await channels(hmod, review=their_review, announce=their_news)
    assert private_to(done, hmod) and done.content.startswith("This server's channels are now:")
    assert f"Review of feed candidates: <#{their_review.id}>" in done.content
    assert f"New sources: <#{their_news.id}>" in done.content

    # A restart keeps it: their feed's candidate goes to their review channel.
    restarted = await room.harness.restart(first)
    watched = await double.reply(
        await double.slash(hmod, "feed add", harbour.general, url=room.web.url("/feed"))
    )
    assert f"Candidates about the story go to <#{their_review.id}>." in watched.content
    (message,) = await double.wait_for(lambda: room.posted(their_review))
    story_id = theirs.story.id
    assert all(b["custom_id"].endswith(f":{story_id}") for b in message.buttons())
    await room.rounds(2, restarted)
    assert room.posted(room.review) == [ours]  # the first server's channel never shows theirs
    assert room.posted(their_review) == [message]

    # Accepted from their channel into their story; announced in their channel only.
    before = {s.id for s in room.storybot.sources}
    press = await double.click(hmod, message, "Add")
    await room.settled(message, "**Added** by hmod (")
    candidate = theirs.candidate(candidate_id_of(press))
    assert candidate.status == "accepted" and candidate.story_id == story_id
    assert candidate.posted == f"{their_review.id}/{message.id}"
    assert candidate.source_id in {s.id for s in theirs.sources}
    assert {s.id for s in room.storybot.sources} == before
    (note,) = await double.wait_for(lambda: room.posted(their_news))
    assert CUTIES_TITLE in note.text()
    await room.rounds(2, restarted)
    assert room.posted(their_news) == [note] and room.posted(room.news) == []


async def test_a_servers_own_channel_overrides_the_configured_one_until_cleared(room):
    double = room.double
    desk = double.add_channel("desk")
    await room.start(watch=False)
    set_ = await double.reply(await double.slash(room.mod, "feed channels", review=desk))
    assert f"Review of feed candidates: <#{desk.id}>" in set_.content
    assert f"New sources: <#{room.news.id}> (the bot's configured channel)" in set_.content

    added = await double.reply(await double.slash(room.mod, "feed add", url=room.web.url("/feed")))
    assert f"Candidates about the story go to <#{desk.id}>." in added.content
    (message,) = await double.wait_for(lambda: room.posted(desk))
    assert room.candidate(message).title == CUTIES_TITLE
    assert room.posted(room.review) == []

    both = await double.reply(
        await double.slash(room.mod, "feed channels", review=desk, clear="review")
    )
    assert both.content == "Not changed: set the review channel or clear it, not both."
    cleared = await double.reply(await double.slash(room.mod, "feed channels", clear="both"))
    assert f"Review of feed candidates: <#{room.review.id}> (the bot's" in cleared.content
    assert room.storybot.server_channels.get(double.guild_id).review == ""


async def test_a_stored_channel_of_another_server_is_never_posted_to(room, caplog):
    """A row naming another server's channel (written around /feed channels: by hand, by an
    older or a buggy process) is not trusted: the background checks the channel's server."""
    caplog.set_level(logging.INFO, logger="bot.discord")
    harbour = room.double.add_server("Harbour")
    await room.start()
    ours = await room.candidate_message()
    await ask(room.double, room.member, INDICTMENT_QUESTION)  # the first server's story
    theirs = seeded_default_story(room.storybot, harbour.id)
    theirs.feeds_add(room.web.url("/feed"), added_by="setup")
    room.storybot.server_channels.set(harbour.id, review=room.review.id, announce=room.news.id)
    room.cog().wake()
    await room.double.wait_for(lambda: theirs.review_queue())
    await room.rounds(3)
    assert room.posted(room.review) == [ours]
    assert [c.posted for c in theirs.review_queue()] == [""]
    assert caplog.text.count(f"not posting to channel {room.review.id}: it is another") == 1
