"""``storybot feeds``: watch, poll once (cron), review and decide, from the command line."""

from __future__ import annotations

import json

import pytest
from feed_server import CUTIES_TITLE, add_feed_pages, bridge_item, cuties_item, rss, serve_feed
from web_server import Route, serve

from bot.cli import main
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

    code, out, _ = run(capsys, config_path, "feeds", "check")
    assert code == 0 and "1 new candidate(s)" in out
    code, out, _ = run(capsys, config_path, "feeds", "check")
    assert code == 0 and "no feed is due" in out

    code, out, _ = run(capsys, config_path, "feeds", "queue")
    assert code == 0 and CUTIES_TITLE in out and "relevance" in out and "closest passage" in out
    code, out, _ = run(capsys, config_path, "feeds", "queue", "--json")
    (candidate,) = [json.loads(line) for line in out.splitlines()]

    code, out, _ = run(capsys, config_path, "feeds", "accept", str(candidate["id"]), "--by", "ed")
    assert code == 0 and "added" in out
    code, out, _ = run(capsys, config_path, "sources", "log", "--json")
    assert any(
        json.loads(line)["action"] == "add" and json.loads(line)["actor"] == "ed"
        for line in out.splitlines()
    )
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
    assert code == 0 and result["status"] == "error" and "not" in result["message"]
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
