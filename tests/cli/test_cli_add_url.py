"""``storybot sources add URL``: a page's own title, publisher and date, unless the moderator
gives them (they were once checked and then dropped without a word)."""

from __future__ import annotations

import json

import pytest
from web_server import serve

from bot.cli import main
from conftest import SHIPPED_CORPUS, write_config

web = pytest.fixture(serve)


@pytest.fixture
def config_path(tmp_path):
    (tmp_path / "corpus").mkdir()
    for path in SHIPPED_CORPUS.glob("*.txt"):
        (tmp_path / "corpus" / path.name).write_bytes(path.read_bytes())
    path = write_config(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("allow_hosts = []", 'allow_hosts = ["127.0.0.1"]'), "utf-8")
    return path


def added(capsys, config_path, *args) -> dict:
    assert main(["--config", str(config_path), "sources", "add", *args]) == 0
    assert capsys.readouterr().err == ""  # no progress bar's blank line when not a terminal
    assert main(["--config", str(config_path), "sources", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return next(s for s in listed if s["url"] == args[0].split("?")[0])


def test_the_page_gives_its_publisher_and_date(capsys, config_path, web):
    source = added(capsys, config_path, web.url("/article"))
    assert (source["publisher"], source["published"]) == (
        "The Harbour Gazette",
        "2026-03-04",
    )


def test_a_moderators_publisher_and_date_override_the_pages(capsys, config_path, web):
    source = added(
        capsys, config_path, web.url("/article"),
        "--publisher", "Harbour Gazette (print)", "--published", "2026-03-05", "--title", "Bridge",
    )  # fmt: skip
    assert (source["title"], source["publisher"], source["published"]) == (
        "Bridge",
        "Harbour Gazette (print)",
        "2026-03-05",
    )
