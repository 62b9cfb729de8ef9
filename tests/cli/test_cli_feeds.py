"""``storybot feeds``: watch, poll once (cron), review and decide, from the command line."""

from __future__ import annotations

import argparse
import io
import json

import pytest
from feed_server import CUTIES_TITLE, add_feed_pages, bridge_item, cuties_item, rss, serve_feed
from rich.console import Console
from web_server import Route, serve

from bot.cli import main
from bot.cli.feeds import cmd_check
from conftest import SHIPPED_CORPUS, write_config

web = pytest.fixture(serve)
LOCAL = """
[fetch]
allow_hosts = ["127.0.0.1"]
timeout_seconds = 2.0
"""


@pytest.fixture
def config_path(tmp_path, web):
    (tmp_path / "corpus").mkdir()
    for path in SHIPPED_CORPUS.glob("*.txt"):
        (tmp_path / "corpus" / path.name).write_bytes(path.read_bytes())
    add_feed_pages(web)
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = text.replace("allow_hosts = []", 'allow_hosts = ["127.0.0.1"]')
    text = text.replace("host_interval_seconds = 5.0", "host_interval_seconds = 0.0")
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys, config_path, *args):
    code = main(["--config", str(config_path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_watch_check_review_accept_and_ignore(capsys, config_path, web):
    serve_feed(web, "/feed", rss([cuties_item(web), bridge_item(web)]))

    code, out, _ = run(capsys, config_path, "feeds", "add", web.url("/feed"), "--by", "ed")
    assert code == 0 and "watching 1" in out
    code, out, _ = run(capsys, config_path, "feeds", "list", "--json")
    (feed,) = [json.loads(line) for line in out.splitlines()]
    assert (feed["url"], feed["kind"], feed["added_by"]) == (web.url("/feed"), "feed", "ed")

    code, out, err = run(capsys, config_path, "feeds", "check")
    assert code == 0 and "1 new candidate(s)" in out
    assert not err.startswith("\n")  # no progress bar's blank line when not a terminal
    code, out, _ = run(capsys, config_path, "feeds", "check")
    assert code == 0 and "no feed is due" in out

    code, out, _ = run(capsys, config_path, "feeds", "queue")
    assert code == 0 and CUTIES_TITLE in out and "relevance" in out and "closest passage" in out
    code, out, _ = run(capsys, config_path, "feeds", "queue", "--json")
    (candidate,) = [json.loads(line) for line in out.splitlines()]

    accept = ["feeds", "accept", str(candidate["id"]), "--by", "ed", "--follow", "1"]
    code, out, _ = run(capsys, config_path, *accept)
    assert code == 0 and "added" in out
    # The page links nowhere new: said, as sources add --follow says it.
    assert "followed 0 of 1 link(s) asked for (it links to no other page that is not in" in out
    code, out, _ = run(capsys, config_path, "sources", "log", "--json")
    (added,) = [e for e in map(json.loads, out.splitlines()) if e["action"] == "add"]
    assert added["actor"] == "ed"
    # Provenance: the audit row names the feed and the candidate; the feed's date is kept.
    assert added["detail"] == f"from feed 1 (Film desk), candidate {candidate['id']}"
    code, out, _ = run(capsys, config_path, "sources", "list", "--json")
    (stored,) = [s for s in map(json.loads, out.splitlines()) if s["id"] == added["source_id"]]
    assert stored["published"] == "2020-10-01"  # the item's pubDate (the page has no date)
    assert (stored["from_feed"], stored["candidate"]) == (1, candidate["id"])
    code, _, err = run(capsys, config_path, "feeds", "ignore", str(candidate["id"]))
    assert code == 1 and "already accepted by ed" in err
    code, out, _ = run(capsys, config_path, "feeds", "queue")
    assert "no candidates waiting" in out

    code, out, _ = run(capsys, config_path, "feeds", "remove", "1")
    assert code == 0 and "stopped watching 1" in out
    code, _, err = run(capsys, config_path, "feeds", "remove", "1")
    assert code == 1 and "no feed with id 1" in err


def test_check_reports_a_broken_feed_and_json_lines(capsys, config_path, web):
    serve_feed(web, "/feed", rss([bridge_item(web)]))
    assert run(capsys, config_path, "feeds", "add", web.url("/feed"))[0] == 0
    web.html("/feed", "<html><body><p>Just a page, no feed here.</p></body></html>")  # broke
    code, out, _ = run(capsys, config_path, "feeds", "check", "--json")
    (result,) = [json.loads(line) for line in out.splitlines()]
    # Exit 1: cron reports a feed that could not be read.
    assert code == 1 and result["status"] == "error" and "not" in result["message"]
    code, out, _ = run(capsys, config_path, "feeds", "check", "--all")
    assert code == 1 and "1 feed(s) polled" in out and "1 feed(s) could not be read" in out
    serve_feed(web, "/feed", rss([bridge_item(web)]))  # mended
    code, out, _ = run(capsys, config_path, "feeds", "check", "--all")
    assert code == 0 and "could not be read" not in out
    code, _, err = run(capsys, config_path, "feeds", "accept", "99")
    assert code == 1 and "no candidate with id 99" in err
    code, _, err = run(capsys, config_path, "feeds", "add", "ftp://example.org/feed")
    assert code == 1 and "only http and https" in err


def test_add_tries_the_feed_first_and_refuses_what_can_never_work(capsys, config_path, web):
    """A 404, broken XML, an HTML page given as a feed: refused at once, never watched."""
    web.html(
        "/film",
        "<html><head><title>Film</title>"
        '<link rel="alternate" type="application/rss+xml" href="/film/rss"></head><body>'
        f"<a href='/news/cuties-indictment'>{CUTIES_TITLE}</a></body></html>",
    )
    web.routes["/broken"] = Route(
        headers={"Content-Type": "application/rss+xml"}, body=b"<rss><channel><item><title>x"
    )
    code, _, err = run(capsys, config_path, "feeds", "add", web.url("/missing"))
    assert code == 1 and "404" in err
    code, _, err = run(capsys, config_path, "feeds", "add", web.url("/broken"))
    assert code == 1 and "not a readable RSS or Atom feed" in err
    code, _, err = run(capsys, config_path, "feeds", "add", web.url("/film"))
    assert code == 1 and "is a web page, not an RSS or Atom feed" in err
    assert f"storybot feeds add {web.url('/film/rss')}" in err
    assert f"storybot feeds add {web.url('/film')} --kind page" in err
    assert run(capsys, config_path, "feeds", "list", "--json")[1] == ""  # nothing watched

    code, out, _ = run(capsys, config_path, "feeds", "add", web.url("/film"), "--kind", "page")
    assert code == 0 and "watching 1" in out


def test_add_refuses_a_loopback_feed_at_once_with_the_fix(capsys, config_path, web):
    """As ``sources add`` does: the guard's refusal names the allow_hosts line to add."""
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('allow_hosts = ["127.0.0.1"]', "allow_hosts = []"))
    serve_feed(web, "/feed", rss([bridge_item(web)]))
    code, _, err = run(capsys, config_path, "feeds", "add", web.url("/feed"))
    assert code == 1 and 'allow_hosts = ["127.0.0.1"]' in err
    assert web.requests == []


def test_items_show_what_became_of_each_item_and_why(capsys, config_path, web):
    """An item whose page failed is waiting to retry: ``feeds items`` shows it, with why."""
    gone = ("Cuties director Maïmouna Doucouré answers Netflix critics", web.url("/gone"),
            "Doucouré defends Cuties and says Netflix critics misread the film.")  # fmt: skip
    serve_feed(web, "/feed", rss([cuties_item(web), bridge_item(web), gone]))
    assert run(capsys, config_path, "feeds", "add", web.url("/feed"))[0] == 0
    assert run(capsys, config_path, "feeds", "check")[0] == 0

    code, out, _ = run(capsys, config_path, "feeds", "items", "--status", "retry", "--json")
    (retry,) = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and retry["url"] == web.url("/gone") and "404" in retry["reason"]
    code, out, _ = run(capsys, config_path, "feeds", "items")  # piped: one line per item
    header, *rows = [line.split("\t") for line in out.splitlines()]
    assert header == ["id", "status", "found (UTC)", "feed", "URL", "title", "why"]
    by_url = {row[4]: row for row in rows}
    assert by_url[web.url("/gone")][1] == "retry (1 failed)"
    assert by_url[web.url("/news/harbour-bridge")][1] == "off-topic"
    assert "relevance" in by_url[web.url("/news/harbour-bridge")][6]
    assert by_url[web.url("/news/cuties-indictment")][1] == "pending"
    with pytest.raises(SystemExit):
        run(capsys, config_path, "feeds", "items", "--status", "later")
    assert "invalid choice: 'later'" in capsys.readouterr().err


def test_check_prints_a_line_per_feed_as_each_finishes(config_path, web):
    """Piped, each feed's line is written when its poll ends, before the next feed is polled
    (one worker: feeds one after another)."""
    text = config_path.read_text(encoding="utf-8").replace("workers = 4", "workers = 1")
    config_path.write_text(text, encoding="utf-8")
    serve_feed(web, "/a", rss([bridge_item(web)], title="A desk"))
    serve_feed(web, "/b", rss([cuties_item(web)], title="B desk"))
    for path in ("/a", "/b"):
        assert main(["--config", str(config_path), "feeds", "add", web.url(path)]) == 0

    written: list[tuple[str, list[str]]] = []
    before = len(web.requests)  # the trial fetches of feeds add

    class Pipe(io.StringIO):
        def write(self, text: str) -> int:
            if text.strip():
                written.append((text, [path for path, _ in web.requests[before:]]))
            return super().write(text)

    out = Console(file=Pipe(), force_terminal=False)
    args = argparse.Namespace(config=str(config_path), all=True, json=False)
    assert cmd_check(args, out, Console(file=io.StringIO())) == 0
    first, second, summary = (text for text, _ in written)
    assert first.startswith(f"feed 1 {web.url('/a')}: ok; 1 item(s), 1 new, 0 candidate(s)")
    assert second.startswith(f"feed 2 {web.url('/b')}: ok; 1 item(s), 1 new, 1 candidate(s)")
    assert "/b" not in written[0][1]  # feed 1's line came before feed 2 was even asked
    assert summary.startswith("2 feed(s) polled, 1 new candidate(s)")


def test_a_candidate_of_another_story_is_named_with_its_story(capsys, config_path, web):
    serve_feed(web, "/feed", rss([cuties_item(web)]))
    assert run(capsys, config_path, "stories", "create", "second")[0] == 0
    second = ["--story", "second"]
    seed = str(SHIPPED_CORPUS / "seed-story.txt")  # a corpus file: its header gives the title
    assert run(capsys, config_path, *second, "sources", "add", "--file", seed)[0] == 0
    assert run(capsys, config_path, *second, "feeds", "add", web.url("/feed"))[0] == 0
    assert run(capsys, config_path, *second, "feeds", "check")[0] == 0
    code, out, _ = run(capsys, config_path, *second, "feeds", "queue", "--json")
    (candidate,) = [json.loads(line) for line in out.splitlines()]
    for command in ("accept", "ignore"):
        code, _, err = run(capsys, config_path, "feeds", command, str(candidate["id"]))
        assert code == 1
        assert f"it is story 'second''s (storybot --story 2 feeds {command} {candidate['id']})" in (
            " ".join(err.split())
        )
    code, out, _ = run(capsys, config_path, *second, "feeds", "ignore", str(candidate["id"]))
    assert code == 0 and "ignored" in out
