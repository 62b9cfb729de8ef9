"""Question logging, retention, gap grouping, and the moderators' report."""

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from bot.cli import main
from bot.insights.questionlog import QuestionLog, group_gaps
from bot.insights.report import render_html
from conftest import write_config

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def log_questions(bot, questions, when=NOW, server="guild-1"):
    return [bot.question_log.record(bot.ask(q), server=server, when=when) for q in questions]


def test_recording_stores_outcome_without_user_ids(make_bot):
    bot = make_bot()
    answered_id, refused_id = log_questions(
        bot, ["Who directed Cuties?", "Who won the Super Bowl?"]
    )
    assert bot.question_log.vote(answered_id, helpful=True)
    assert bot.question_log.vote(refused_id, helpful=False)
    assert not bot.question_log.vote(9999, helpful=True)
    rows = {r["question"]: dict(r) for r in bot.question_log.rows()}
    answered = rows["Who directed Cuties?"]
    assert answered["answered"] == 1 and answered["top_score"] > 0
    assert json.loads(answered["sources"]) == ["seed-story"]
    assert answered["server"] == "guild-1" and answered["helpful"] == 1
    refused = rows["Who won the Super Bowl?"]
    assert refused["answered"] == 0 and refused["top_score"] is None
    assert refused["not_helpful"] == 1
    assert (answered["kind"], refused["kind"]) == ("answer", "nothing")  # the reply's kind
    columns = set(answered)
    assert not {"user", "user_id", "author", "member"} & columns


def test_opt_out_records_nothing(make_bot, tmp_path):
    bot = make_bot(config={"stats": {"log_questions": False}})
    assert log_questions(bot, ["Who directed Cuties?"]) == [None]
    assert bot.question_log.rows() == []
    assert not (tmp_path / "state" / "storybot.sqlite3").exists()


def test_purge_removes_only_rows_past_retention(make_bot):
    bot = make_bot(config={"stats": {"retention_days": 30}})
    log_questions(bot, ["Who directed Cuties?"], when=NOW - timedelta(days=31))
    log_questions(bot, ["What did NME say about Cuties?"], when=NOW - timedelta(days=29))
    assert bot.question_log.purge(now=NOW) == 1
    assert [r["question"] for r in bot.question_log.rows()] == ["What did NME say about Cuties?"]


def test_near_duplicate_gaps_are_grouped(analyzer):
    def row(q, minutes, answered=0, helpful=0, not_helpful=0):
        at = (NOW + timedelta(minutes=minutes)).isoformat()
        return {
            "question": q,
            "asked_at": at,
            "answered": answered,
            "helpful": helpful,
            "not_helpful": not_helpful,
        }

    rows = [
        row("Who won the Super Bowl?", 1),
        row("who won the superbowl", 2),
        row("Who won the Super Bowl this year?", 3),
        row("What is Netflix's share price?", 4),
        row("Netflix share price?", 5, answered=1, not_helpful=2),
        row("When is the DVD out?", 6),
    ]
    gaps = group_gaps(rows, analyzer.terms)
    assert [g.count for g in gaps] == [2, 2, 1, 1]
    by_question = {g.question: g for g in gaps}
    share = by_question["Netflix share price?"]
    assert share.unanswered == 1 and share.not_helpful == 2
    assert set(share.variants) == {"What is Netflix's share price?", "Netflix share price?"}
    bowl = by_question["Who won the Super Bowl this year?"]
    assert bowl.variants == ("Who won the Super Bowl?", "Who won the Super Bowl this year?")
    assert "When is the DVD out?" in by_question


def test_stats_figures_and_newly_answered(make_bot):
    bot = make_bot()
    yesterday = NOW - timedelta(days=1)
    ids = log_questions(
        bot, ["How many people signed the petition?", "When is the zebra parade?"], when=yesterday
    )
    log_questions(bot, ["When is the zebra parade happening?"], when=NOW)
    bot.question_log.vote(ids[0], helpful=True)
    stats = bot.question_log.stats(bot.analyzer.terms, days=7, now=NOW)
    assert stats.asked == 3 and stats.answered == 1
    assert [d[0] for d in stats.days] == [yesterday.date().isoformat(), NOW.date().isoformat()]
    assert stats.helpful_rate == 1.0
    assert stats.top_sources == [("seed-story", 1)]
    assert len(stats.gaps) == 1 and stats.gaps[0].count == 2
    assert bot.newly_answered(stats) == []
    bot.add_source("The zebra parade will happen on 14 June 2026 at noon.", "Zebra parade date")
    fixed = bot.newly_answered(stats)
    assert [(gap.question, s.title) for gap, s in fixed] == [
        ("When is the zebra parade happening?", "Zebra parade date")
    ]


class TableRows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.current, self.cell, self.in_body = {}, None, None, False
        self.svg = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.current = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.current.append([])
        elif tag == "td":
            self.cell = ""
        elif tag == "svg":
            self.svg = True
        elif tag in {"script", "link"}:
            raise AssertionError(f"report must be self-contained, found <{tag}>")

    def handle_endtag(self, tag):
        if tag == "td":
            self.current[-1].append(self.cell)
            self.cell = None
        elif tag == "tbody":
            self.in_body = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_html_report_tables(make_bot):
    bot = make_bot()
    log_questions(bot, ["Who won the Super Bowl?", "Who directed Cuties?"])
    later = NOW + timedelta(minutes=5)
    log_questions(
        bot, ["who won the super bowl <script>?", "What did NME say about Cuties?"], later
    )
    stats = bot.question_log.stats(bot.analyzer.terms, days=7, now=NOW + timedelta(hours=1))
    page = render_html(stats, {s.id: s.title for s in bot.sources}, 7)
    parser = TableRows()
    parser.feed(page)
    assert parser.svg
    gaps = parser.tables["gaps"]
    assert len(gaps) == 1
    assert gaps[0][0] == "who won the super bowl <script>?" and gaps[0][1] == "2"
    assert (gaps[0][2], gaps[0][3]) == ("2", "2")  # unanswered, of them "nothing" replies
    assert gaps[0][6] == "Who won the Super Bowl?"
    sources = parser.tables["sources"]
    assert sources == [[bot.sources[0].title, "seed-story", "2"]]


def test_stats_cli_writes_report(capsys, tmp_path, make_bot):
    bot = make_bot()
    log_questions(bot, ["Who won the Super Bowl?"], when=datetime.now(UTC))
    config = write_config(tmp_path)  # same directory: same corpus and state
    report = tmp_path / "report.html"
    code = main(["--config", str(config), "stats", "--json", "--html", str(report)])
    out, _ = capsys.readouterr()
    assert code == 0
    record = json.loads(out)
    assert record["asked"] == 1 and record["gaps"][0]["question"] == "Who won the Super Bowl?"
    parser = TableRows()
    parser.feed(report.read_text(encoding="utf-8"))
    assert parser.tables["gaps"][0][0] == "Who won the Super Bowl?"


def test_question_log_survives_reopen(tmp_path):
    db = tmp_path / "state" / "q.sqlite3"
    first = QuestionLog(db)
    from bot.search.retrieval import Answer

    first.record(Answer("Why?", False), when=NOW)
    assert [r["question"] for r in QuestionLog(db).rows()] == ["Why?"]


def test_recording_purges_expired_rows_once_a_day(make_bot):
    bot = make_bot(config={"stats": {"retention_days": 30}})
    log = bot.question_log
    log.record(bot.ask("Who directed Cuties?"), when=NOW - timedelta(days=40))
    log.record(bot.ask("What did NME say about Cuties?"), when=NOW)
    assert [r["question"] for r in log.rows()] == ["What did NME say about Cuties?"]
