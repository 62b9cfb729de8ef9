"""The storybot command line, called through its entry point."""

import json
from pathlib import Path

from bot.sources.corpus import Corpus
from helpers import run_cli, source

HERE = Path(__file__).parents[1] / "data"
# Long enough to be accepted as a source (bot.sources.ingest.MIN_WORDS).
PARADE_PLANS = (
    "The organisers had planned a march from the station to the harbour with music, food "
    "stalls and a costume contest for children, and now hope to hold it next spring.\n"
)


def test_ask_renders_attributed_excerpts(capsys, config_path):
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", "Who directed Cuties?")
    assert code == 0
    assert "Sundance" in out
    assert "publisher unknown" in out
    assert "Quoted verbatim" in out


def test_ask_json_excerpts_are_source_slices(capsys, config_path):
    code, out, _ = run_cli(
        capsys, "--config", str(config_path), "ask", "--json", "-k", "2", "Who directed Cuties?"
    )
    assert code == 0
    record = json.loads(out)
    assert record["answered"] is True and 1 <= len(record["excerpts"]) <= 2
    stories = {s.id: s for s in Corpus(config_path.parent / "corpus").load().sources}
    for e in record["excerpts"]:
        assert e["text"] == stories[e["source"]["id"]].text[e["start"] : e["end"]]


def test_ask_batch_plain_and_jsonl(capsys, config_path, tmp_path):
    batch = tmp_path / "q.txt"
    batch.write_text(
        'Who directed Cuties?\n\n{"q": "Who won the Super Bowl?"}\n{"q": "   "}\n',
        encoding="utf-8",
    )
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", "--batch", str(batch))
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]  # one per line, blank ones too
    assert [r["answered"] for r in records] == [True, False, False, False]
    assert records[1]["line"] == 2 and "Please type a question" in records[1]["error"]
    assert "error" not in records[2] and records[3]["line"] == 4 and "error" in records[3]


def test_ask_refuses_bad_questions(capsys, config_path):
    code, _, err = run_cli(capsys, "--config", str(config_path), "ask", "  ")
    assert code == 2 and "Please type a question" in err
    code, _, err = run_cli(capsys, "--config", str(config_path), "ask", "x" * 10_000)
    assert code == 2 and "10,000 characters" in err
    code, _, err = run_cli(capsys, "--config", str(config_path), "ask", "-k", "0", "Who?")
    assert code == 2


def test_missing_or_broken_config_and_corpus(capsys, tmp_path, config_path):
    code, _, err = run_cli(capsys, "--config", str(tmp_path / "nope.toml"), "ask", "Who?")
    assert code == 1 and "config file not found" in err
    broken = tmp_path / "broken.toml"
    broken.write_text("[retrieval\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "--config", str(broken), "ask", "Who?")
    assert code == 1 and "cannot read config file" in err
    (config_path.parent / "corpus" / "zz-broken.txt").write_text("no header", encoding="utf-8")
    code, out, err = run_cli(capsys, "--config", str(config_path), "ask", "Who directed Cuties?")
    assert code == 0 and "Sundance" in out
    assert "zz-broken.txt" in err and "warning" in err


def test_sources_add_list_remove(capsys, config_path, tmp_path):
    doc = tmp_path / "note.md"
    doc.write_text(
        "# Note\n\nThe zebra parade was cancelled by the council. " + PARADE_PLANS,
        encoding="utf-8",
    )
    cfg = ["--config", str(config_path)]
    code, out, _ = run_cli(
        capsys,
        *cfg,
        "sources",
        "add",
        "--file",
        str(doc),
        "--title",
        "Zebra parade",
        "--publisher",
        "Town Gazette",
        "--url",
        "https://gazette.example/zebra",
    )
    assert code == 0 and "zebra-parade" in out
    assert (config_path.parent / "corpus" / "zebra-parade.txt").exists()
    code, out, _ = run_cli(capsys, *cfg, "sources", "list", "--json")
    listed = {json.loads(line)["id"]: json.loads(line) for line in out.splitlines()}
    assert listed["zebra-parade"]["publisher"] == "Town Gazette"
    assert listed["zebra-parade"]["added_by"] == "cli"
    code, out, _ = run_cli(capsys, *cfg, "ask", "--json", "Who cancelled the zebra parade?")
    assert json.loads(out)["excerpts"][0]["source"]["id"] == "zebra-parade"
    code, out, _ = run_cli(capsys, *cfg, "sources", "remove", "zebra-parade")
    assert code == 0
    code, out, _ = run_cli(capsys, *cfg, "ask", "--json", "Who cancelled the zebra parade?")
    assert json.loads(out)["answered"] is False
    code, _, err = run_cli(capsys, *cfg, "sources", "remove", "zebra-parade")
    assert code == 1 and "no source" in err


def test_sources_add_refuses_binary_and_unknown_files(capsys, config_path, tmp_path):
    cfg = ["--config", str(config_path)]
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4\x00\x01")
    code, _, err = run_cli(capsys, *cfg, "sources", "add", "--file", str(pdf), "--title", "T")
    assert code == 2 and "only" in err
    fake = tmp_path / "fake.txt"
    fake.write_bytes(b"\x89PNG\x00\x00\x00")
    code, _, err = run_cli(capsys, *cfg, "sources", "add", "--file", str(fake), "--title", "T")
    assert code == 1 and "binary" in err
    before = sorted(p.name for p in (config_path.parent / "corpus").iterdir())
    assert before == ["seed-story.txt"]


def test_config_selects_another_corpus(capsys, tmp_path):
    other = tmp_path / "other"
    (other / "texts").mkdir(parents=True)
    (other / "config.toml").write_text('[corpus]\ndir = "texts"\n', encoding="utf-8")
    Corpus(other / "texts").write(source("moon", "The moon base opened in 2031."))
    _, out, _ = run_cli(capsys, "--config", str(other / "config.toml"), "sources", "list", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["moon"]
    _, out, _ = run_cli(
        capsys,
        "--config",
        str(other / "config.toml"),
        "ask",
        "--json",
        "When did the moon base open?",
    )
    assert json.loads(out)["excerpts"][0]["source"]["id"] == "moon"


def test_eval_prints_metrics(capsys, config_path):
    """The eval command end to end; its figures are a regression pin on the dev set (tuned on)."""
    code, out, _ = run_cli(
        capsys, "--config", str(config_path), "eval", "--json", str(HERE / "dev-questions.jsonl")
    )
    assert code == 0
    report = json.loads(out)
    assert report["shown_hit@3"] >= 0.7 and report["abstention_recall"] == 1.0
    assert sum(report["replies"].values()) == 12


def test_invalid_settings_are_named(capsys, tmp_path):
    settings = [f"[retrieval]\n{s}" for s in ("k1 = 0", "b = 1.5", 'variant = "TF-IDF"')]
    settings += ["[retrieval]\nmin_coverage = 2", "[retrieval]\ntop_k = 0"]
    settings += ["[retrieval]\ntop_k = 11", "[nlp]\nwindow_sentences = 0"]
    for setting in settings:
        config = tmp_path / "config.toml"
        config.write_text(setting + "\n", encoding="utf-8")
        code, _, err = run_cli(capsys, "--config", str(config), "ask", "Who?")
        assert code == 1 and setting.split("\n")[0] in err, setting


def test_brackets_in_titles_and_errors_are_shown_as_typed(capsys, config_path, tmp_path):
    doc = tmp_path / "note.txt"
    doc.write_text("The zebra parade [video] was cancelled. " + PARADE_PLANS, encoding="utf-8")
    cfg = ["--config", str(config_path)]
    title = "Zebra [video] parade [/] [bold]x"
    code, out, _ = run_cli(capsys, *cfg, "sources", "add", "--file", str(doc), "--title", title)
    assert code == 0 and title in out
    code, out, _ = run_cli(capsys, *cfg, "sources", "list")
    assert "[video]" in out and "[/]" in out
    code, out, _ = run_cli(capsys, *cfg, "ask", "Who cancelled the zebra parade?")
    assert code == 0 and title in out.replace("\n", " ").replace("│", "")


def test_sources_list_json_with_toml_dates_in_the_header(capsys, config_path):
    path = config_path.parent / "corpus" / "dated.txt"
    path.write_text(
        '+++\nid = "dated"\ntitle = "Dated"\nkind = "source"\nupdated = 2020-09-10\n+++\nText.\n',
        encoding="utf-8",
    )
    code, out, _ = run_cli(capsys, "--config", str(config_path), "sources", "list", "--json")
    assert code == 0
    dated = next(json.loads(line) for line in out.splitlines() if '"dated"' in line)
    assert dated["updated"] == "2020-09-10"


def test_sources_add_file_uses_the_upload_checks(capsys, config_path, tmp_path):
    cfg = ["--config", str(config_path)]
    doc = tmp_path / "a.md"
    doc.write_text("The zebra parade was cancelled by the council. " + PARADE_PLANS)
    add = [*cfg, "sources", "add", "--file", str(doc), "--title", "Zebra"]
    code, _, err = run_cli(capsys, *add, "--url", "javascript:alert(1)")
    assert code == 2 and "http" in err
    code, _, _ = run_cli(capsys, *add, "--url", "https://Gazette.example/zebra?utm_source=x#top")
    assert code == 0
    listed = run_cli(capsys, *cfg, "sources", "list", "--json")[1]
    urls = [json.loads(line)["url"] for line in listed.splitlines()]
    assert "https://gazette.example/zebra" in urls
    code, _, err = run_cli(capsys, *add, "--url", "https://gazette.example/zebra?fbclid=1")
    assert code == 1 and "already in the corpus" in err
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Parade news</title></head><body><nav>Home | Sports</nav>"
        "<article><p>The zebra parade moves to Sunday after the council vote.</p>"
        "<p>Organisers expect ten thousand visitors along the harbour.</p>"
        "<p>Roads near the station close from nine in the morning, and extra trains run "
        "from the city all afternoon.</p></article>"
        "<footer>Subscribe now</footer></body></html>",
        encoding="utf-8",
    )
    code, out, _ = run_cli(
        capsys, *cfg, "sources", "add", "--file", str(page), "--title", "Parade moves"
    )
    assert code == 0 and "parade-moves" in out
    stored = (config_path.parent / "corpus" / "parade-moves.txt").read_text(encoding="utf-8")
    assert "ten thousand visitors" in stored and "Subscribe now" not in stored


def test_stats_days_out_of_range(capsys, config_path):
    for days in ("0", "1000000"):
        code, _, err = run_cli(capsys, "--config", str(config_path), "stats", "--days", days)
        assert code == 2 and "--days" in err


def test_ask_json_bad_question_and_batch_with_a_null_question(capsys, config_path, tmp_path):
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", "--json", "")
    assert code == 2 and "error" in json.loads(out)
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"q": null}\n{"q": "Who directed Cuties?"}\n{oops\n', encoding="utf-8")
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", "--batch", str(batch))
    first, second, third = map(json.loads, out.splitlines())  # a bad line never aborts
    assert code == 0 and first["line"] == 1 and "'q' string field" in first["error"]
    assert second["answered"] is True
    assert third["line"] == 3 and "'q' string field" in third["error"]


def test_three_kinds_of_reply_in_the_terminal_and_json(capsys, config_path):
    off_topic = "Who won the 2019 World Series?"
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", "--json", off_topic)
    record = json.loads(out)
    assert code == 0 and record["kind"] == "nothing" and record["answered"] is False
    assert record["excerpts"] == [] and record["closest"] == []
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", off_topic)
    assert "Nothing in the sources is about that." in out and "╭" not in out
    not_sure = "How old is the director of Cuties?"
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", "--json", not_sure)
    record = json.loads(out)
    assert code == 0 and record["kind"] == "closest" and record["answered"] is False
    stories = {s.id: s for s in Corpus(config_path.parent / "corpus").load().sources}
    assert 1 <= len(record["closest"]) <= 2 and record["excerpts"] == []
    for e in record["closest"]:
        assert e["text"] == stories[e["source"]["id"]].text[e["start"] : e["end"]]
    code, out, _ = run_cli(capsys, "--config", str(config_path), "ask", not_sure)
    assert "I'm not sure the sources answer this." in out and "[1]" in out
    answered = json.loads(
        run_cli(capsys, "--config", str(config_path), "ask", "--json", "Who directed Cuties?")[1]
    )
    assert answered["kind"] == "answer" and answered["excerpts"]
    assert (answered["closest"], answered["message"]) == ([], "")
    assert answered.keys() == record.keys()  # every kind has the same keys


def test_eval_runs_a_story_set_next_to_plain_bm25(capsys, config_path, tmp_path):
    """A SQuAD-style directory: one corpus per story, off-topic questions from the others."""
    story_set = tmp_path / "set"
    (story_set / "stories").mkdir(parents=True)
    (story_set / "stories" / "ferry.txt").write_text(
        "The harbour ferry stops running in December because the operator lost money.\n\n"
        "Tickets for the ferry are sold at the kiosk on the pier.\n",
        encoding="utf-8",
    )
    (story_set / "stories" / "zoo.txt").write_text(
        "The zoo opened a new giraffe house on Saturday.\n\nKeepers fed the giraffes lettuce.\n",
        encoding="utf-8",
    )
    rows = [
        ("ferry.txt", "Why does the harbour ferry stop running in December?", ["lost money"]),
        ("ferry.txt", "Where are ferry tickets sold?", ["kiosk"]),
        ("ferry.txt", "Who founded the ferry company?", []),
        ("zoo.txt", "When did the zoo open the new giraffe house?", ["Saturday"]),
    ]
    (story_set / "questions.jsonl").write_text(
        "".join(
            json.dumps({"story_file": f"stories/{f}", "question": q, "answers": a}) + "\n"
            for f, q, a in rows
        ),
        encoding="utf-8",
    )
    code, out, _ = run_cli(capsys, "--config", str(config_path), "eval", "--json", str(story_set))
    assert code == 0
    reports = json.loads(out)
    ours, plain = reports["storybot"], reports["plain rank-bm25"]
    assert ours["answerable"] == plain["answerable"] == 3
    assert ours["unanswerable"] == 1 and ours["off_topic"] == 3  # 2 + 1 questions of the other
    assert ours["hit@3"] == 1.0 and ours["answer_rate"] == 1.0
    assert ours["off_topic_refused"] == 1.0 and plain["off_topic_refused"] == 0.0
    bad = tmp_path / "empty"
    bad.mkdir()
    code, _, err = run_cli(capsys, "--config", str(config_path), "eval", str(bad))
    assert code == 1 and "story set" in err
