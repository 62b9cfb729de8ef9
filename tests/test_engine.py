"""The one core API (``StoryBot``) and the shape of the package around it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from bot.config import BM25_VARIANTS
from bot.search.index import VARIANTS
from bot.sources.decoding import DocumentError
from conftest import REPO

CORE = ("search", "sources", "insights")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", CORE)
def test_the_core_never_imports_the_engine_or_an_adapter(package):
    """Arrows run down: adapters -> engine -> core. The core knows no Discord, no terminal."""
    for path in sorted((REPO / "bot" / package).rglob("*.py")):
        for module in imports_of(path):
            assert not module.startswith(("bot.engine", "bot.cli", "bot.discord")), (path, module)
            assert module.split(".")[0] not in ("discord", "rich"), (path, module)


def test_stories_import_neither_the_engine_nor_an_adapter():
    """bot/stories sits between the core and the facade: core below, nothing above."""
    for path in sorted((REPO / "bot" / "stories").rglob("*.py")):
        for module in imports_of(path):
            assert not module.startswith(("bot.engine", "bot.cli", "bot.discord")), (path, module)
            assert module.split(".")[0] not in ("discord", "rich"), (path, module)


def test_the_engine_imports_no_adapter():
    for module in imports_of(REPO / "bot" / "engine.py"):
        assert not module.startswith(("bot.cli", "bot.discord")), module


def test_every_configurable_variant_is_implemented():
    assert tuple(VARIANTS) == BM25_VARIANTS


def test_ask_records_only_when_asked_and_votes_count(make_bot):
    bot = make_bot()
    plain = bot.ask("Who directed Cuties?")
    assert plain.question_id is None
    assert bot.question_log.rows() == []
    recorded = bot.ask("Who directed Cuties?", record=True, server="42")
    (row,) = bot.question_log.rows()
    assert recorded.question_id == row["id"] and row["server"] == "42"
    assert recorded.excerpts == plain.excerpts
    assert bot.vote(recorded.question_id, helpful=False)
    assert not bot.vote(recorded.question_id + 1, helpful=True)
    assert bot.question_log.rows()[0]["not_helpful"] == 1


def test_a_broken_question_log_never_costs_the_answer(make_bot, monkeypatch, caplog):
    bot = make_bot()

    def broken(answer, server="", **fields):
        raise OSError("disk full")

    monkeypatch.setattr(bot.question_log, "record", broken)
    answer = bot.ask("Who directed Cuties?", record=True)
    assert answer.answered and answer.question_id is None
    assert "disk full" in caplog.text


def test_add_file_checks_the_url_and_stores_with_an_audit_row(make_bot):
    bot = make_bot()
    with pytest.raises(DocumentError, match="http"):
        bot.add_file("a.txt", b"Some text about the ferry.", title="Ferry", url="ftp://x/y")
    added = bot.add_file(
        "a.md",
        b"# Ferry\n\nThe harbour ferry runs twice a day, at seven in the morning and at six in "
        b"the evening. The crossing takes forty minutes; tickets are sold on board, and "
        b"bicycles travel free.\n",
        title="Ferry",
        url="https://news.example/ferry?utm_source=x",
        added_by="ana",
    )
    assert added.source.url == "https://news.example/ferry"
    assert bot.source(added.source.id).title == "Ferry"
    [entry] = bot.audit_entries()
    assert (entry.actor, entry.action, entry.source_id) == ("ana", "add", added.source.id)
