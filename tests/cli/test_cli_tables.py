"""Ids a user types back are shown whole at 80 columns (other columns wrap); URLs are never
cut with an ellipsis, only wrapped."""

from __future__ import annotations

import argparse
import io

from rich.console import Console

from bot.cli.sources import cmd_links, cmd_log, sources_table
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


def console() -> Console:
    return Console(width=80, record=True, file=io.StringIO(), color_system=None)


def shown(out: Console) -> list[str]:
    lines = out.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in out.export_text()  # nothing cut with an ellipsis
    return lines


def column(lines: list[str], index: int) -> str:
    """The text of one table column, its wrapped pieces joined."""
    cells = [line.split("│") for line in lines if line.startswith("│")]
    return "".join(row[index + 1].strip() for row in cells)


def whole_on_one_line(lines: list[str], value: str) -> bool:
    return any(value in line for line in lines)


def test_sources_list_shows_every_id_whole():
    assert len(LONGEST_ID) == 64
    sources = [
        source(LONGEST_ID, "Text.", title=LONG_TITLE, publisher="The Independent"),
        source(NEW_ID, "Text.", title=LONG_TITLE, added_by="storybot (a very long note) " * 3),
        source("seed-story", "Text.", title="Short"),
    ]
    out = console()
    out.print(sources_table(sources))
    lines = shown(out)
    for s in sources:
        assert whole_on_one_line(lines, s.id), s.id


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
    assert LONG_URL in column(lines, 2)  # wrapped, never cut
    assert whole_on_one_line(lines, "x-org-home")


def test_audit_log_shows_ids_and_urls_whole(tmp_path, capsys):
    from bot.cli import main

    config = write_config(tmp_path)
    doc = tmp_path / "petition.txt"
    doc.write_text("The petition reached 600,000 signatures in a week.\n" * 10)
    add = ["--config", str(config), "sources", "add", "--file", str(doc), "--url", LONG_URL]
    assert main([*add, "--title", LONG_TITLE]) == 0
    capsys.readouterr()
    out = console()
    assert cmd_log(argparse.Namespace(config=str(config), id=None, n=30, json=False), out, out) == 0
    lines = shown(out)
    assert whole_on_one_line(lines, NEW_ID)
    assert LONG_URL in column(lines, 4)
