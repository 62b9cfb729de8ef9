"""Adding sources from URLs: duplicates, near-duplicates, following links, concurrency, audit,
removal to the trash and restore, the CLI, and a process killed in the middle of an add."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w
from web_server import ARTICLE_SENTENCES, MINUTES, linked_html, serve

from bot import cli, engine
from bot.engine import StoryBot
from bot.sources.corpus import Corpus, CorpusError, Link, parse, serialize
from bot.sources.ingest import DuplicateUrl, JunkSource, ProgressEvent
from bot.sources.urls import clean_url, normalize_url
from helpers import source

web = pytest.fixture(serve)
REPO = Path(__file__).resolve().parents[2]
LOCAL = {"fetch": {"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0}}


@pytest.fixture
def bot(make_bot) -> StoryBot:
    return make_bot(config=LOCAL)


def test_normalized_urls():
    messy = "HTTPS://News.Example.COM:443/a/story?utm_source=tw&b=2&fbclid=x&a=1&gclid=y#comments"
    assert clean_url(messy) == "https://news.example.com/a/story?b=2&a=1"
    assert normalize_url(messy) == "https://news.example.com/a/story?a=1&b=2"
    assert normalize_url("http://example.org") == "http://example.org/"
    assert normalize_url("http://example.org/x?id=1") != normalize_url("http://example.org/x?id=2")


async def test_add_an_article_from_a_url(web, bot):
    report = await bot.add_url(web.url("/article?utm_campaign=spring#top"), added_by="mod-ana")
    stored = report.added[0].source
    assert stored.id == "council-approves-harbour-bridge"
    assert stored.url == web.url("/article")  # tracking parameters and fragment dropped
    assert (stored.title, stored.publisher, stored.published) == (
        "Council approves harbour bridge",
        "The Harbour Gazette",
        "2026-03-04",
    )
    assert stored.extra["author"] == "Lena Fischer"
    assert stored.added_by == "mod-ana"
    # The file holds the links and round-trips; the text is what excerpts quote.
    on_disk = Corpus(bot.config.corpus_dir).load().sources
    assert next(s for s in on_disk if s.id == stored.id) == stored
    assert "links = [" in bot.corpus.path_for(stored.id).read_text(encoding="utf-8")
    answer = bot.ask("When will the harbour bridge open?")
    assert answer.answered
    assert answer.excerpts[0].source.id == stored.id
    assert ARTICLE_SENTENCES[2][:40] in answer.excerpts[0].text
    [entry] = bot.audit_entries()
    assert (entry.actor, entry.action, entry.source_id, entry.url) == (
        "mod-ana",
        "add",
        stored.id,
        web.url("/article"),
    )


async def test_the_same_url_with_tracking_parameters_is_a_duplicate(web, bot):
    await bot.add_url(web.url("/article"))
    fetched = len(web.requests)
    for again in (
        web.url("/article?utm_source=newsletter&utm_medium=email&fbclid=abc#comments"),
        web.url("/article").replace("http://", "HTTP://"),
    ):
        with pytest.raises(DuplicateUrl, match="already in the corpus as 'council-approves"):
            await bot.add_url(again)
    assert len(web.requests) == fetched  # refused without downloading it again
    # A link that redirects to the same page is caught after the fetch.
    with pytest.raises(DuplicateUrl):
        await bot.add_url(web.url("/redirect-ok"))
    assert len(bot.sources) == 2  # the seed story and the article


async def test_a_syndicated_copy_is_refused_or_added_flagged_when_forced(web, bot):
    await bot.add_url(web.url("/article"))
    # Its article text is exactly the original's: refused, unless forced.
    with pytest.raises(JunkSource, match="exactly that of source 'council-approves-harbour"):
        await bot.add_url(web.url("/syndicated/bridge"), added_by="mod-ben")
    report = await bot.add_url(web.url("/syndicated/bridge"), added_by="mod-ben", force=True)
    copy = report.added[0]
    assert copy.near_duplicate is not None
    assert copy.near_duplicate[0] == "council-approves-harbour-bridge"
    assert copy.near_duplicate[1] > 0.9
    assert copy.source.extra["near_duplicate_of"] == "council-approves-harbour-bridge"
    assert "near_duplicate_of=council-approves-harbour-bridge" in bot.audit_entries()[0].detail
    # Different text is not flagged.
    other = await bot.add_url(web.url("/minutes"))
    assert other.added[0].near_duplicate is None


async def test_follow_adds_linked_pages_with_progress(web, bot):
    events: list[ProgressEvent] = []

    async def progress(event: ProgressEvent) -> None:  # a coroutine callback works too
        events.append(event)

    report = await bot.add_url(web.url("/article"), follow=2, progress=progress)
    ids = [added.source.id for added in report.added]
    assert ids == [
        "council-approves-harbour-bridge",
        "council-minutes-3-march",
        "the-2019-ferry-study",
    ]
    assert report.added[1].source.extra["linked_from"] == ids[0]
    assert [e.done for e in events if e.stage == "added"] == [1, 2, 3]
    assert [e.done for e in events if e.stage == "fetch"] == [0, 1, 2]
    assert events[-1].stage == "done"
    assert events[-1].done == events[-1].total == 3
    # The article's links now know which are in the corpus (example.org was never fetched).
    status = [(link.url, in_corpus) for link, in_corpus in bot.links(ids[0])]
    assert status == [
        (web.url("/minutes"), ids[1]),
        (web.url("/ferry-study"), ids[2]),
        ("https://example.org/halvorsen", None),
    ]
    assert not any("example.org" in path for path, _ in web.requests)


async def test_follow_skips_links_that_fail(web, bot):
    web.html(
        "/roundup",
        "<html><head><title>Harbour roundup</title></head><body><article>"
        "<p>This week the council published <a href='/report.pdf'>a report as PDF</a>, "
        "the <a href='/missing'>budget annex</a> and the <a href='/minutes'>minutes</a> of "
        "Tuesday's meeting, which ran for more than nine hours.</p><p>Residents may comment "
        "until the end of the month.</p></article></body></html>",
    )
    report = await bot.add_url(web.url("/roundup"), follow=1)
    assert [a.source.id for a in report.added] == ["harbour-roundup", "council-minutes-3-march"]
    assert [url for url, _ in report.skipped] == [web.url("/report.pdf"), web.url("/missing")]
    assert "application/pdf" in report.skipped[0][1]


PIZZA = [
    "Our food critic tried every pizzeria in town to find the ten best pizza places.",
    "The winner bakes its Neapolitan pies in a wood-fired oven imported from Naples.",
    "Second place goes to a family bakery whose sourdough crust rises for three days.",
    "Prices range from eight to fifteen euros, and most places deliver until midnight.",
]


def serve_roundup(web) -> None:
    """A roundup about the story linking to its minutes (on topic) and a pizza guide (not)."""
    web.html("/pizza", linked_html("The ten best pizza places in town", PIZZA))
    web.html(
        "/roundup",
        "<html><head><title>Harbour bridge roundup</title></head><body><article>"
        f"<p>{ARTICLE_SENTENCES[0]} Read <a href='/pizza'>where to eat pizza tonight</a> and "
        f"the <a href='/minutes'>minutes</a> of the meeting.</p><p>{ARTICLE_SENTENCES[1]}</p>"
        f"<p>{ARTICLE_SENTENCES[3]}</p></article></body></html>",
    )


async def test_follow_skips_off_topic_pages_and_says_why(web, bot):
    """A roundup links to the minutes (about the story) and a pizza guide (not): the guide goes
    through the feed items' relevance rule and is skipped with the reason."""
    serve_roundup(web)
    events: list[ProgressEvent] = []
    report = await bot.add_url(web.url("/roundup"), follow=2, progress=events.append)
    assert [a.source.id for a in report.added] == [
        "harbour-bridge-roundup",
        "council-minutes-3-march",
    ]
    ((url, reason),) = report.skipped
    assert url == web.url("/pizza")
    assert reason.startswith("not about the story: relevance") and "needs" in reason
    assert [e.message for e in events if e.stage == "skipped"] == [reason]
    assert all(s.url != web.url("/pizza") for s in bot.sources)


async def test_a_line_of_links_does_not_make_a_linked_page_look_like_the_story(web, bot):
    """The roundup names the pizza guide by its own headline, in a line of links: that line is
    not a passage, so the guide is judged by what else the corpus says, not by its own name."""
    web.html("/pizza", linked_html("The ten best pizza places in town", PIZZA))
    web.html(
        "/roundup",
        "<html><head><title>Harbour bridge roundup</title></head><body><article>"
        f"<p>{ARTICLE_SENTENCES[0]} Read the <a href='/minutes'>minutes</a> of the meeting.</p>"
        f"<p>{ARTICLE_SENTENCES[1]}</p><p>{ARTICLE_SENTENCES[3]}</p>"
        "<p>Also today: <a href='/pizza'>The ten best pizza places in town</a>.</p>"
        "</article></body></html>",
    )
    report = await bot.add_url(web.url("/roundup"), follow=2)
    assert [a.source.id for a in report.added] == [
        "harbour-bridge-roundup",
        "council-minutes-3-march",
    ]
    assert [url for url, _ in report.skipped] == [web.url("/pizza")]
    # The roundup's list line is not a passage: nothing quotes it, nothing matches it.
    roundup = bot.corpus.find("harbour-bridge-roundup")[1]
    quoted = [roundup.text[p.start : p.end] for p in bot.passages if p.source_id == roundup.id]
    assert quoted and not any("pizza" in text for text in quoted)
    assert "Also today: The ten best pizza places in town." in roundup.text  # stored as read


async def test_a_sentence_naming_a_linked_page_does_not_make_it_look_like_the_story(web, bot):
    """The roundup's own sentence names the pizza guide by its headline (found by dogfooding:
    the guide then matched that sentence and was added): a followed page is judged without
    the words of the link that named it."""
    web.html("/pizza", linked_html("The ten best pizza places in town", PIZZA))
    web.html(
        "/roundup",
        "<html><head><title>Harbour bridge roundup</title></head><body><article>"
        f"<p>{ARTICLE_SENTENCES[0]} Read the <a href='/minutes'>minutes</a> of the meeting.</p>"
        f"<p>{ARTICLE_SENTENCES[1]} Meanwhile our food desk published <a href='/pizza'>the ten "
        "best pizza places in town</a> this week.</p>"
        f"<p>{ARTICLE_SENTENCES[3]}</p></article></body></html>",
    )
    report = await bot.add_url(web.url("/roundup"), follow=2)
    assert [a.source.id for a in report.added] == [
        "harbour-bridge-roundup",
        "council-minutes-3-march",
    ]
    ((url, reason),) = report.skipped
    assert url == web.url("/pizza") and reason.startswith("not about the story")
    # The sentence itself is a passage (it is part of the story's text) and is quoted as such.
    answer = bot.ask("What did the food desk publish this week?")
    assert any("food desk" in e.text for e in [*answer.excerpts, *answer.closest])


async def test_two_adds_at_once_both_land(web, bot):
    results = await asyncio.gather(
        bot.add_url(web.url("/minutes")), bot.add_url(web.url("/ferry-study"))
    )
    assert {r.added[0].source.id for r in results} == {
        "council-minutes-3-march",
        "the-2019-ferry-study",
    }
    assert {s.id for s in Corpus(bot.config.corpus_dir).load().sources} == {
        "seed-story",
        "council-minutes-3-march",
        "the-2019-ferry-study",
    }
    # The same URL twice at once: exactly one lands.
    web.html("/twice", "<html><body><article><p>" + " ".join(MINUTES) + "</p></article></body>")
    outcomes = await asyncio.gather(
        bot.add_url(web.url("/twice")),
        bot.add_url(web.url("/twice?utm_source=x")),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["DuplicateUrl", "IngestReport"]


async def test_questions_are_answered_while_a_source_is_added(web, bot):
    add = asyncio.create_task(bot.add_url(web.url("/sluggish")))  # the server waits 0.4 s
    await asyncio.sleep(0.05)
    answer = bot.ask("Who directed Cuties?")
    assert not add.done()  # the loop was free while the page downloads
    assert answer.answered
    await add
    assert bot.ask("When will the harbour bridge open?").answered


def test_remove_goes_to_the_trash_and_restore_brings_it_back(bot):
    before = bot.corpus.path_for("seed-story").read_bytes()
    bot.remove_source("seed-story", removed_by="mod-cy")
    assert bot.sources == []
    assert not bot.ask("Who directed Cuties?").answered
    assert list(bot.corpus.trashed()) == ["seed-story"]
    restored = bot.restore_source("seed-story", restored_by="mod-di")
    assert restored.id == "seed-story"
    assert bot.corpus.path_for("seed-story").read_bytes() == before
    assert bot.ask("Who directed Cuties?").answered
    assert [(e.actor, e.action) for e in bot.audit_entries("seed-story")] == [
        ("mod-di", "restore"),
        ("mod-cy", "remove"),
    ]
    with pytest.raises(CorpusError, match="no removed source"):
        bot.restore_source("seed-story")


def test_restore_does_not_replace_a_source_added_meanwhile(make_bot):
    bot = make_bot(source("notes", "First version of the notes."))
    bot.remove_source("notes")
    bot.add_source("Second version of the notes.", "Notes", source_id="notes")
    with pytest.raises(CorpusError, match="exists; remove it first"):
        bot.restore_source("notes")
    assert bot.corpus.path_for("notes").read_text().endswith("Second version of the notes.")


def test_restore_keeps_one_source_per_url(make_bot):
    url = "https://news.example/ferry"
    bot = make_bot(source("ferry", "The ferry stops in December.", url=url))
    bot.remove_source("ferry")
    bot.add_source("The ferry stops in December, the operator says.", "Ferry news", url=url)
    with pytest.raises(CorpusError, match="in the corpus again, as 'ferry-news'"):
        bot.restore_source("ferry")
    assert "ferry-news" in [s.id for s in bot.sources] and "ferry" in bot.corpus.trashed()
    bot.remove_source("ferry-news")
    assert bot.restore_source("ferry").url == url  # the URL is free again


def test_links_round_trip_in_the_front_matter():
    original = source(
        "linked",
        "Text.",
        links=(Link('He said "yes"', "https://example.org/a?b=1"), Link("", "https://x.test/")),
        extra={"author": "A. Writer"},
    )
    assert parse(serialize(original)) == original
    assert parse(serialize(original)).extra == {"author": "A. Writer"}
    broken = serialize(original).replace('url = "https://x.test/"', "url = 3")
    with pytest.raises(CorpusError, match="links"):
        parse(broken)


def write_config(directory: Path, **fetch) -> Path:
    data = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    data["fetch"].update({"allow_hosts": ["127.0.0.1"], "timeout_seconds": 2.0, **fetch})
    (directory / "corpus").mkdir(exist_ok=True)
    (directory / "corpus" / "seed-story.txt").write_bytes(
        (REPO / "corpus" / "seed-story.txt").read_bytes()
    )
    path = directory / "config.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def test_cli_follow_says_which_links_were_skipped_and_why(web, tmp_path, capsys):
    serve_roundup(web)
    config = str(write_config(tmp_path))
    assert (
        cli.main(["--config", config, "sources", "add", web.url("/roundup"), "--follow", "2"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("added council-minutes-3-march") for line in lines)
    (skipped,) = [line for line in lines if line.startswith("skipped")]
    assert skipped.startswith(f"skipped {web.url('/pizza')}: not about the story: relevance")
    assert "followed 1 of 2 link(s) asked for (1 skipped)" in lines


def test_cli_add_links_remove_restore_and_log(web, tmp_path, analyzer, monkeypatch, capsys):
    monkeypatch.setattr(engine, "StoryBot", functools.partial(StoryBot, analyzer=analyzer))
    config = str(write_config(tmp_path))

    def run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["--config", config, *argv])
        captured = capsys.readouterr()
        flat = " ".join(captured.out.split())  # rich wraps lines to the terminal width
        run.raw = captured.out
        return code, flat, " ".join(captured.err.split())

    code, out, _ = run("sources", "add", web.url("/article"), "--follow", "1", "--added-by", "eve")
    assert code == 0
    assert "added council-approves-harbour-bridge: Council approves harbour bridge" in out
    assert "added council-minutes-3-march" in out
    code, out, _ = run("sources", "links", "council-approves-harbour-bridge", "--json")
    rows = [json.loads(line) for line in run.raw.splitlines()]
    assert [r["in_corpus"] for r in rows] == ["council-minutes-3-march", None, None]
    assert rows[1] == {
        "text": "2019 ferry study",
        "url": web.url("/ferry-study"),
        "in_corpus": None,
    }
    code, _, err = run("sources", "add", web.url("/article?utm_source=x"))
    assert code == 1
    assert "already in the corpus" in err
    code, _, err = run("sources", "add", web.url("/report.pdf"))
    assert code == 1
    assert "application/pdf" in err
    code, _, err = run("sources", "add", "file:///etc/passwd")
    assert (code, "only http and https" in err) == (1, True)
    code, out, _ = run("sources", "remove", "council-minutes-3-march", "--by", "eve")
    assert "storybot sources restore council-minutes-3-march" in out
    assert run("sources", "restore", "council-minutes-3-march")[0] == 0
    run("sources", "log", "--json", "--id", "council-minutes-3-march")
    entries = [json.loads(line) for line in run.raw.splitlines()]
    assert [(e["actor"], e["action"]) for e in entries] == [
        ("cli", "restore"),
        ("eve", "remove"),
        ("eve", "add"),
    ]
    code, _, err = run("sources", "add", "--file", str(tmp_path / "x.txt"))
    assert code == 2
    assert "--title is required" in err


CHILD = """
import os, sys, time
real_replace, real_link = os.replace, os.link

def paused(real):
    def move(src, dst, *args, **kwargs):
        if str(dst).endswith(".txt") and ".tmp" in str(src):
            print("MID-WRITE", flush=True)
            time.sleep(60)
        return real(src, dst, *args, **kwargs)
    return move

os.replace, os.link = paused(real_replace), paused(real_link)
from bot.cli import main
sys.exit(main(["--config", sys.argv[1], "sources", "add", sys.argv[2]]))
"""


def test_a_process_killed_mid_add_leaves_the_corpus_as_it_was(web, tmp_path):
    config = write_config(tmp_path)
    corpus = Corpus(tmp_path / "corpus")
    before = corpus.load()
    page = "<p>" + " ".join(ARTICLE_SENTENCES) + "</p>" * 2000
    web.html("/long", "<html><body><article>" + page)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config), web.url("/long")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "MID-WRITE", child.stderr.read()
        # The new file is written in full to a temp file, not yet renamed: kill now.
        assert any(p.suffix == ".tmp" for p in corpus.directory.iterdir())
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=10)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    after = corpus.load()
    assert after.errors == [] == before.errors
    assert after.sources == before.sources
    assert {p.name for p in corpus.directory.glob("*.txt")} == {"seed-story.txt"}
