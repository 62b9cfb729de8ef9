"""Stories on Discord, through the real client against the double with two servers: each
server has its own stories and default; a server's moderators never see or change another's."""

from __future__ import annotations

import pytest
from feed_server import rss, serve_feed
from web_server import serve

web = pytest.fixture(serve)

SUNDANCE = "Which prize did the Sundance jury award?"
FERRY = (
    b"The harbour ferry runs twice a day, at seven in the morning and at six in the evening. "
    b"The crossing takes forty minutes; tickets are sold on board, and bicycles travel free "
    b"on every crossing of the harbour ferry."
)


async def shown(double, interaction, count: int = 1):
    return await double.reply(interaction, count)


async def test_two_servers_never_see_or_change_each_others_stories(double, harness, web):
    harbour = double.add_server("Harbour")
    bot = await harness.start()
    ana, mo = double.member("ana"), double.member("mo", double.mods)
    bea, hmod = double.member("bea"), double.member("hmod", harbour.mods)

    # The first server to ask gets the deployment's story (an upgraded bot keeps its corpus).
    answer = await shown(double, await double.slash(ana, "ask", question=SUNDANCE))
    assert "Sundance" in answer.text()
    # The other server has a story of its own, empty: the first server's sources are not there.
    other = await shown(double, await double.slash(bea, "ask", harbour.general, question=SUNDANCE))
    assert "Sundance honours" not in other.text()
    listing = await shown(double, await double.slash(bea, "sources", harbour.general))
    assert listing.embeds[0]["title"] == "Sources (0)"

    # Each server's moderators create stories; a list shows only the server's own.
    created = await shown(double, await double.slash(mo, "story create", name="newsroom-only"))
    assert "newsroom-only" in created.content
    theirs = await shown(double, await double.slash(hmod, "story list", harbour.general))
    assert "newsroom-only" not in theirs.text() and "default" in theirs.text()
    ours = await shown(double, await double.slash(mo, "story list"))
    assert "newsroom-only" in ours.text()

    # Another server's story cannot be named: not to ask, bind, archive, or list sources.
    for command, options in (
        ("ask", {"question": SUNDANCE, "story": "newsroom-only"}),
        ("story use", {"name": "newsroom-only"}),
        ("story archive", {"name": "newsroom-only"}),
        ("sources", {"story": "newsroom-only"}),
    ):
        refused = await shown(double, await double.slash(hmod, command, harbour.general, **options))
        assert "no story named 'newsroom-only'" in refused.content, (command, refused.content)
    completion = await double.autocomplete(hmod, "story use", "name", "news", harbour.general)
    await double.wait_for(lambda: completion.choices is not None)
    assert completion.choices == []

    # Their moderators change only their own story: removing the first server's source finds
    # nothing there; archiving "default" archives theirs.
    removed = await shown(
        double, await double.slash(hmod, "source remove", harbour.general, id="sundance-prize")
    )
    assert "Not removed" in removed.content
    assert "sundance-prize" in {s.id for s in bot.storybot.sources}
    upload = double.attachment("ferry.txt", FERRY)
    added = await shown(
        double,
        await double.slash(hmod, "source add-file", harbour.general, file=upload, title="Ferry"),
    )
    assert "Added" in added.content, added.content
    ferry = await shown(
        double, await double.slash(bea, "ask", harbour.general, question="When does the ferry run?")
    )
    assert "seven in the morning" in ferry.text()
    mine = await shown(double, await double.slash(ana, "ask", question="When does the ferry run?"))
    assert "seven in the morning" not in mine.text()
    # Their feeds are their story's (and say that the server has no review channel yet).
    serve_feed(web, "/feed.xml", rss([]))
    watched = await shown(
        double, await double.slash(hmod, "feed add", harbour.general, url=web.url("/feed.xml"))
    )
    assert "This server has no review channel yet: `/feed channels review:`" in watched.content
    assert bot.storybot.feeds_list() == []
    feeds_cog = bot.client.get_cog("FeedsCog")
    await double.wait_for(lambda: len(feeds_cog.watchers) == 1)  # polled in the background
    assert bot.storybot.story.id not in feeds_cog.watchers
    archived = await shown(
        double, await double.slash(hmod, "story archive", harbour.general, name="default")
    )
    assert "Archived" in archived.content
    again = await shown(
        double, await double.slash(hmod, "story archive", harbour.general, name="default")
    )
    assert "already archived" in again.content  # refused, and nothing more recorded
    still = await shown(double, await double.slash(ana, "ask", question=SUNDANCE))
    assert "Sundance" in still.text()

    # The rows say so too: the first server's audit log never saw the other's changes.
    # (its own default story: claimed by the first server, nothing else).
    assert [e.action for e in bot.storybot.audit_entries()] == ["story claim"]
    harbour_stories = bot.storybot.stories.of_guild(str(harbour.id), archived=True)
    assert [(s.name, s.status) for s in harbour_stories] == [("default", "archived")]
    theirs = bot.storybot.in_story(harbour_stories[0]).audit_entries()
    assert [(e.action, e.actor.split()[0]) for e in theirs][:1] == [("story archive", "hmod")]
    assert [e.action for e in theirs].count("story archive") == 1


async def test_a_channel_bound_to_a_story_answers_from_it_and_names_it(double, harness):
    bot = await harness.start()
    mo, ana = double.member("mo", double.mods), double.member("ana")
    await shown(double, await double.slash(ana, "ask", question=SUNDANCE))  # claims the default
    await shown(double, await double.slash(mo, "story create", name="harbour"))
    ferry_channel = double.add_channel("ferry")
    bound = await shown(double, await double.slash(mo, "story use", ferry_channel, name="harbour"))
    assert "harbour" in bound.content
    upload = double.attachment("ferry.txt", FERRY)
    added = await shown(
        double, await double.slash(mo, "source add-file", ferry_channel, file=upload, title="Ferry")
    )
    assert "Added" in added.content, added.content
    # In the bound channel: the harbour story, named (the server has two now).
    there = await shown(
        double, await double.slash(ana, "ask", ferry_channel, question="When does the ferry run?")
    )
    assert "seven in the morning" in there.text()
    assert there.content.startswith("-# From the story **harbour**")
    # Elsewhere: the server's default, named too; and the story option picks another.
    here = await shown(double, await double.slash(ana, "ask", question=SUNDANCE))
    assert here.content.startswith("-# From the story **default**")
    bo = double.member("bo")  # (ana has asked three times: the cooldown)
    picked = await shown(
        double,
        await double.slash(bo, "ask", question="When does the ferry run?", story="harbour"),
    )
    assert "seven in the morning" in picked.text()
    # The harbour story's buttons work on its own answer (More, votes in its own log).
    click = await double.click(ana, there, "Helpful")
    await double.wait_for(lambda: click.acknowledged)
    harbour = bot.storybot.in_story(bot.storybot.stories.named("harbour", str(double.guild_id)))
    assert [r["helpful"] for r in harbour.question_log.rows()] == [1, 0]
    assert all(r["question"] != "When does the ferry run?" or r["helpful"] == 0
               for r in bot.storybot.question_log.rows())  # fmt: skip
    # Made the server's default: every unbound channel asks it.
    await shown(double, await double.slash(mo, "story use", name="harbour", where="server"))
    cy = double.member("cy")
    general = await shown(
        double, await double.slash(cy, "ask", question="When does the ferry run?")
    )
    assert "seven in the morning" in general.text()
