"""Questions asked from the CLI are recorded too (origin 'cli'), unless --no-log; batch runs and
eval never are; the origin column arrives by migration; rates without a denominator are "—"."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bot.cli import main
from bot.insights.database import connect, database_path, migrate
from bot.insights.questionlog import QUESTION_MIGRATIONS, QuestionLog, Stats
from conftest import DATA, SHIPPED_CORPUS, write_config


@pytest.fixture
def config(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "seed-story.txt").write_bytes(
        (SHIPPED_CORPUS / "seed-story.txt").read_bytes()
    )
    return write_config(tmp_path)


def rows(config) -> list[dict]:
    path = database_path(config.parent / "state")
    if not path.exists():
        return []
    with connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM questions ORDER BY id")]


def test_cli_questions_are_recorded_as_cli_unless_told_not_to(config, tmp_path, capsys):
    cfg = ["--config", str(config)]
    assert main([*cfg, "ask", "Who directed Cuties?"]) == 0
    assert main([*cfg, "ask", "--json", "Who won the Super Bowl?"]) == 0
    assert main([*cfg, "ask", "--no-log", "What did NME say about Cuties?"]) == 0
    batch = tmp_path / "q.txt"
    batch.write_text("Who directed Cuties?\nWho won the Super Bowl?\n")
    assert main([*cfg, "ask", "--batch", str(batch)]) == 0
    assert main([*cfg, "eval", "--json", str(DATA / "dev-questions.jsonl")]) == 0
    recorded = rows(config)
    assert [(r["question"], r["origin"], r["answered"]) for r in recorded] == [
        ("Who directed Cuties?", "cli", 1),
        ("Who won the Super Bowl?", "cli", 0),
    ]
    assert all(r["server"] == "" for r in recorded)
    assert not {"user", "user_id", "author", "member"} & set(recorded[0])
    capsys.readouterr()
    assert main([*cfg, "stats", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["asked"] == 2 and figures["origins"] == {"cli": 2}


def test_logging_off_in_the_config_records_no_cli_question(tmp_path, capsys):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "seed-story.txt").write_bytes(
        (SHIPPED_CORPUS / "seed-story.txt").read_bytes()
    )
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("log_questions = true", "log_questions = false"))
    assert main(["--config", str(config), "ask", "Who directed Cuties?"]) == 0
    assert not database_path(tmp_path / "state").exists()


def test_the_origin_migration_keeps_old_rows_as_discord(tmp_path, make_bot):
    path = database_path(tmp_path / "state")
    with connect(path) as db:  # a database written before the origin column existed
        migrate(db, "questions", QUESTION_MIGRATIONS[:1])
        db.execute(
            "INSERT INTO questions (asked_at, server, question, answered) "
            "VALUES ('2026-11-24T10:00:00+00:00', '42', 'Old question?', 0)"
        )
    log = QuestionLog(path)
    bot = make_bot()
    log.record(bot.ask("Who directed Cuties?"), origin="cli")
    log.record(bot.ask("Who directed Cuties?"), server="42")
    assert [(r["question"], r["origin"]) for r in log.rows()] == [
        ("Old question?", "discord"),
        ("Who directed Cuties?", "cli"),
        ("Who directed Cuties?", "discord"),
    ]
    with pytest.raises(ValueError, match="origin"):
        log.record(bot.ask("Who directed Cuties?"), origin="web")


def test_rates_without_votes_are_a_dash_everywhere(config, capsys):
    from bot.discord.cogs.stats import stats_embed
    from bot.insights.report import render_html
    from bot.presentation import stats_record

    empty = Stats()
    assert empty.answer_rate is None and empty.helpful_rate is None
    unvoted = Stats(asked=2, answered=1)
    assert unvoted.answer_rate == 0.5 and unvoted.helpful_rate is None
    record = stats_record(unvoted, [])
    assert record["answer_rate"] == 0.5 and record["helpful_rate"] is None
    assert "**—** helpful" in stats_embed(unvoted, [], {}, 7).description
    assert "**50%** answered" in stats_embed(unvoted, [], {}, 7).description
    page = render_html(unvoted, {}, 7)
    assert '<span id="helpful-rate">— helpful' in page
    assert main(["--config", str(config), "ask", "Who directed Cuties?"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "stats"]) == 0
    summary = " ".join(capsys.readouterr().out.split())
    assert "1 question in 30 days (1 from cli), 100% answered, — helpful (0 votes)" in summary
