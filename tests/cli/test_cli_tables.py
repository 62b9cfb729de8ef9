"""Tables at 80 columns and piped: key values a user types back or compares (ids, dates,
actions, names) are shown whole at 80 columns (other columns wrap, or are dropped when the key
values would not fit); URLs are never cut with an ellipsis, only wrapped. Piped, every table is
plain tab-separated lines with every value whole."""

from __future__ import annotations

import argparse
import io

from rich.console import Console

from bot.cli.sources import cmd_links, cmd_log, print_sources
from bot.sources.corpus import Corpus, Link
from conftest import write_config
from helpers import source

# The longest id a hand-written corpus file may have (ID_PATTERN), and a typical new one.
LONGEST_ID = ("doucoure-" * 8)[:63] + "x"
NEW_ID = "cuties-petition-to-cancel-netflix"
LONG_URL = (
    "https://www.example.org/news/2020/09/12/"
    "cuties-petition-to-cancel-netflix-reaches-600000-signatures-in-a-week?page=2"
)
LONG_TITLE = "Cuties petition to cancel Netflix reaches 600,000 signatures in a week " * 2


def console(terminal: bool = True) -> Console:
    """An 80-column terminal, or (``terminal=False``) a pipe."""
    return Console(
        width=80, record=True, file=io.StringIO(), color_system=None, force_terminal=terminal
    )


def piped_rows(out: Console) -> list[list[str]]:
    lines = out.file.getvalue().splitlines()
    return [line.split("\t") for line in lines]


def shown(out: Console) -> list[str]:
    text = out.export_text()
    assert "…" not in text  # nothing cut with an ellipsis
    lines = text.splitlines()
    if any(line.startswith("┏") for line in lines):  # a table: it fits the 80 columns
        assert max(len(line) for line in lines) <= 80
    return lines


def column(lines: list[str], header: str) -> str:
    """The text of one table column (found by its header), its wrapped pieces joined."""
    cells = [line.split("│") for line in lines if line.startswith("│")]
    heads = next(line.split("┃") for line in lines if line.startswith("┃"))
    index = [h.strip() for h in heads].index(header)
    return "".join(row[index].strip() for row in cells)


def whole_on_one_line(lines: list[str], value: str) -> bool:
    return any(value in line for line in lines)


def test_sources_list_at_80_columns_shows_ids_dates_and_names_whole():
    sources = [
        source(NEW_ID, "Text.", title=LONG_TITLE, added_by="mod-bernadette", publisher="NME",
               added_at="2026-11-25T10:00:00+00:00"),
        source("seed-story", "Text.", title="Short", added_by="cli",
               added_at="2026-11-24T09:00:00+00:00"),
    ]  # fmt: skip
    out = console()
    print_sources(out, sources)
    lines = shown(out)
    assert lines[1].startswith("┏")  # a table
    for value in (NEW_ID, "seed-story", "2026-11-25", "2026-11-24"):
        assert whole_on_one_line(lines, value), value
    assert "Cutiespetitiontocancel" in column(lines, "title").replace(" ", "")


def test_sources_list_drops_columns_rather_than_cut_the_longest_id():
    assert len(LONGEST_ID) == 64
    sources = [
        source(LONGEST_ID, "Text.", title=LONG_TITLE, publisher="The Independent"),
        source(NEW_ID, "Text.", title=LONG_TITLE, added_by="storybot (a very long note) " * 3),
        source("seed-story", "Text.", title="Short", added_at="2026-11-25T10:00:00+00:00"),
    ]
    out = console()
    print_sources(out, sources)
    lines = shown(out)
    for s in sources:
        assert whole_on_one_line(lines, s.id), s.id


def test_sources_list_piped_is_one_plain_line_per_source():
    sources = [
        source(LONGEST_ID, "Text.", title=LONG_TITLE, publisher="The Independent"),
        source(NEW_ID, "Text.", title="Tab\there", added_by="mod-bernadette-from-the-desk"),
    ]
    out = console(terminal=False)
    print_sources(out, sources)
    header, *rows = piped_rows(out)
    assert header == ["id", "added", "by", "kind", "publisher", "title"]
    assert [row[0] for row in rows] == [LONGEST_ID, NEW_ID]
    assert rows[0][5] == LONG_TITLE.strip()
    assert rows[1][2] == "mod-bernadette-from-the-desk" and rows[1][5] == "Tab here"
    assert all(len(row) == 6 for row in rows)
    assert "│" not in out.file.getvalue() and "…" not in out.file.getvalue()


def _bot_with_links(tmp_path):
    corpus = tmp_path / "corpus"
    Corpus(corpus).write(
        source(
            NEW_ID,
            "Text.",
            url="https://www.example.org/petition",
            links=(
                Link("the petition page on change.org", LONG_URL),
                Link("self", "https://x.org/"),
            ),
        )
    )
    Corpus(corpus).write(source("x-org-home", "Home.", url="https://x.org/"))
    return write_config(tmp_path)


def test_links_show_urls_and_ids_whole(tmp_path):
    config = _bot_with_links(tmp_path)
    out = console()
    args = argparse.Namespace(config=str(config), id=NEW_ID, json=False)
    assert cmd_links(args, out, console()) == 0
    lines = shown(out)
    assert LONG_URL in column(lines, "URL")  # wrapped, never cut
    assert whole_on_one_line(lines, "x-org-home")
    piped = console(terminal=False)
    assert cmd_links(args, piped, console()) == 0
    assert [row[2] for row in piped_rows(piped)] == ["URL", LONG_URL, "https://x.org/"]


def _audit_log(tmp_path, capsys):
    from bot.cli import main

    config = write_config(tmp_path)
    doc = tmp_path / "petition.txt"
    doc.write_text("The petition reached 600,000 signatures in a week.\n" * 10)
    add = ["--config", str(config), "sources", "add", "--file", str(doc), "--url", LONG_URL]
    assert main([*add, "--title", LONG_TITLE, "--by", "mod-bernadette"]) == 0
    assert main(["--config", str(config), "sources", "remove", NEW_ID, "--by", "mod-b"]) == 0
    assert main(["--config", str(config), "sources", "restore", NEW_ID, "--by", "mod-c"]) == 0
    capsys.readouterr()
    return argparse.Namespace(config=str(config), id=None, n=30, json=False)


def test_audit_log_at_80_columns_shows_ids_dates_actions_names_and_urls_whole(tmp_path, capsys):
    args = _audit_log(tmp_path, capsys)
    out = console()
    assert cmd_log(args, out, console()) == 0
    lines = shown(out)
    for value in (NEW_ID, "restore", "remove", "mod-bernadette", "mod-c", LONG_URL):
        assert whole_on_one_line(lines, value), value
    today = next(line for line in lines if "restore" in line)
    assert len(today.split()[0]) == len("2026-11-25")  # the date whole, then the time


def test_audit_log_piped_is_plain_lines(tmp_path, capsys):
    args = _audit_log(tmp_path, capsys)
    out = console(terminal=False)
    assert cmd_log(args, out, console()) == 0
    header, *rows = piped_rows(out)
    assert header == ["when (UTC)", "who", "action", "source", "URL", "detail"]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("mod-c", "restore", NEW_ID, LONG_URL),
        ("mod-b", "remove", NEW_ID, LONG_URL),
        ("mod-bernadette", "add", NEW_ID, LONG_URL),
    ]


def _watched_feeds(tmp_path):
    from bot.insights.database import database_path
    from bot.sources.feeds.store import FeedStore

    config = write_config(tmp_path)
    (tmp_path / "corpus").mkdir(exist_ok=True)
    Corpus(tmp_path / "corpus").write(source("seed-story", "Text."))
    store = FeedStore(database_path(tmp_path / "state"))
    urls = ["http://127.0.0.1:8765/film/rss", "http://127.0.0.1:8765/culture/cinema/atom.xml"]
    for url in urls:
        store.add_feed(url, url, "feed", "mod-bernadette", "2026-11-25T10:00:00+00:00")
    store.failed(1, at="2026-11-25T10:05:00+00:00", next_at="2026-11-25T11:05:00+00:00",
                 error="http://127.0.0.1:8765/film/rss answered 404 Not Found")  # fmt: skip
    return config, urls


def test_feeds_list_at_80_columns_and_piped_shows_both_urls_whole(tmp_path):
    from bot.cli.feeds import cmd_list

    config, urls = _watched_feeds(tmp_path)
    args = argparse.Namespace(config=str(config), json=False)
    out = console()
    assert cmd_list(args, out, console()) == 0
    lines = shown(out)
    shown_urls = column(lines, "url") if lines[1].startswith("┏") else "\n".join(lines)
    for url in urls:
        assert url in shown_urls
    assert whole_on_one_line(lines, "404 Not Found") or "404" in column(lines, "status")
    piped = console(terminal=False)
    assert cmd_list(args, piped, console()) == 0
    header, *rows = piped_rows(piped)
    assert header[:3] == ["id", "kind", "url"]
    assert [row[2] for row in rows] == urls
    assert rows[0][header.index("next poll (UTC)")] == "2026-11-25 11:05"


def test_stats_piped_are_titled_plain_sections_and_empty_ones_say_so(tmp_path):
    import shutil

    from bot.cli import main
    from bot.cli.stats import SHOWN_QUESTION, cmd_stats
    from conftest import SHIPPED_CORPUS

    shutil.copytree(SHIPPED_CORPUS, tmp_path / "corpus")
    config = write_config(tmp_path)
    args = argparse.Namespace(config=config, story=None, days=30, json=False, html=None)
    out = console(terminal=False)
    cmd_stats(args, out, console())
    assert out.file.getvalue().splitlines()[1:] == [
        "Per day: no questions in this period",
        "Gaps (unanswered or not helpful, near-duplicates grouped): none: every question was "
        "answered and none voted not helpful",
        "Most quoted sources: no source quoted in this period",
    ]

    long_question = "why is the sky so blue over the harbour " * 30
    assert main(["--config", str(config), "ask", long_question[:999]]) == 0
    out = console(terminal=False)
    cmd_stats(args, out, console())
    lines = out.file.getvalue().splitlines()
    gaps = lines.index("# Gaps (unanswered or not helpful, near-duplicates grouped)")
    assert (
        lines[gaps + 1] == "question\ttimes\tunanswered\tof them nothing\tnot helpful\tlast asked"
    )
    question, times, unanswered, nothing, _, _ = lines[gaps + 2].split("\t")
    assert nothing == "1"  # the sky over the harbour: nothing in the sources is about it
    assert (times, unanswered) == ("1", "1") and len(question) == SHOWN_QUESTION
    assert question.endswith("…") and long_question.strip().startswith(question[:-1])
    terminal = console()
    cmd_stats(args, terminal, console())
    assert max(len(line) for line in terminal.export_text().splitlines()) <= 80
