"""Messages a moderator meets on the command line say what is true and what to do next (found
by a dogfooding session: each of these once said something else)."""

from __future__ import annotations

import json

import pytest

from bot.sources.corpus import Corpus
from helpers import run_cli


def test_removing_a_removed_source_points_to_restore(capsys, config_path):
    base = ["--config", str(config_path), "sources"]
    assert run_cli(capsys, *base, "remove", "seed-story")[0] == 0
    code, _, err = run_cli(capsys, *base, "remove", "seed-story")
    assert code == 1 and "no source with id 'seed-story' (it was removed; restore it" in err
    code, _, err = run_cli(capsys, *base, "remove", "never-there")
    assert code == 1 and "no source with id 'never-there'" in err and "restore" not in err


def test_a_blank_title_is_called_blank(capsys, config_path, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("The ferry stops running in December because the operator lost money.")
    argv = ["--config", str(config_path), "sources", "add", "--file", str(note)]
    code, _, err = run_cli(capsys, *argv, "--title", "   ")
    assert code == 1 and "the title given is blank" in err
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "--title is required with a .txt file" in err


def test_the_longest_question_allowed_is_the_one_the_message_names(capsys, config_path):
    base = ["--config", str(config_path), "ask", "--json"]
    question = "Who directed Cuties? " + "x" * (1000 - len("Who directed Cuties? "))
    assert run_cli(capsys, *base, question)[0] == 0
    code, _, err = run_cli(capsys, "--config", str(config_path), "ask", question + "y")
    assert code == 2 and "keep it to 1,000 at most" in err


def test_eval_split_is_refused_for_a_file_of_questions(capsys, config_path, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"q": "Who directed Cuties?", "answers": ["Doucour"]}\n')
    argv = ["--config", str(config_path), "eval", str(questions)]
    code, _, err = run_cli(capsys, *argv, "--split", "test")
    assert code == 2 and "--split picks articles of a story set" in err
    assert run_cli(capsys, *argv)[0] == 0


def test_follow_with_a_file_is_a_usage_error(capsys, config_path, tmp_path):
    page = tmp_path / "links.html"
    page.write_text("<html><head><title>Links</title></head><body><p>x</p></body></html>")
    argv = ["--config", str(config_path), "sources", "add", "--file", str(page), "--follow", "2"]
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "--follow follows the links of a page added by URL" in err


def test_health_names_the_files_it_skipped(capsys, config_path):
    (config_path.parent / "corpus" / "broken.txt").write_text("no header here")
    code, out, err = run_cli(capsys, "--config", str(config_path), "health")
    assert code == 0 and "1 file(s) skipped" in out
    assert "warning: skipped broken.txt" in err


def test_two_different_stories_on_one_command_line_are_refused(capsys, config_path):
    base = ["--config", str(config_path)]
    with pytest.raises(SystemExit) as exited:
        run_cli(capsys, *base, "--story", "default", "sources", "list", "--story", "other")
    assert exited.value.code == 2
    assert "--story is given twice (default, other): give it once" in capsys.readouterr().err
    # The same story twice (before and after the command) is fine.
    code, _, _ = run_cli(capsys, *base, "--story", "default", "sources", "list", "--story=DEFAULT")
    assert code == 0


def test_stories_commands_refuse_story_instead_of_ignoring_it(capsys, config_path):
    before = ["--story", "x", "stories", "list"]
    after = ["stories", "rename", "a", "b", "--story", "x"]
    abbreviated = ["stories", "list", "--sto", "x"]
    for argv in (before, after, abbreviated):
        with pytest.raises(SystemExit) as exit_:  # a usage error, before anything is done
            run_cli(capsys, "--config", str(config_path), *argv)
        assert exit_.value.code == 2, argv
        assert "takes the story as its argument, not --story" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_cli(capsys, "stories", "rename", "--help")
    assert "--story" not in capsys.readouterr().out  # not offered in its help either


@pytest.mark.parametrize(
    "line, why",
    [
        ('{"q": "", "answers": ["x"]}', "Please type a question"),
        ('{"q": "' + "why " * 300 + '", "answers": []}', "characters long"),
        ('{"q": "How many signed?", "answers": "300,000"}', '"answers" must be a list'),
        ('{"q": 42, "answers": []}', '"q" must be a string'),
        ('{"q": "How many signed?", "answers": [42]}', '"answers" must be a list'),
        ('["How many signed?"]', "not a JSON object"),
    ],
)
def test_eval_refuses_a_bad_question_line_by_its_number(capsys, config_path, tmp_path, line, why):
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"q": "Who directed Cuties?", "answers": ["Doucouré"]}\n' + line + "\n")
    code, _, err = run_cli(capsys, "--config", str(config_path), "eval", str(questions))
    assert code == 1 and "questions.jsonl line 2" in err and why in err
    assert "Traceback" not in err


def test_eval_of_an_empty_file_says_so(capsys, config_path, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    code, _, err = run_cli(capsys, "--config", str(config_path), "eval", str(empty))
    assert code == 1 and "has no questions" in err


def test_a_corpus_file_added_to_another_story_keeps_its_text_not_its_header(
    capsys, config_path, tmp_path
):
    """Copying a source into another story with sources add --file (its +++ header was once
    stored as the article's first lines, and quoted)."""
    from conftest import SHIPPED_CORPUS

    base = ["--config", str(config_path)]
    assert run_cli(capsys, *base, "stories", "create", "copy")[0] == 0
    seed = SHIPPED_CORPUS / "seed-story.txt"
    code, out, err = run_cli(
        capsys, *base, "--story", "copy", "sources", "add", "--file", str(seed)
    )
    assert code == 0, err
    code, out, _ = run_cli(capsys, *base, "--story", "copy", "sources", "list", "--json")
    (copied,) = [json.loads(line) for line in out.splitlines()]
    original = Corpus(SHIPPED_CORPUS).load().sources[0]
    assert copied["title"] == original.title and copied["characters"] == len(original.text)
    code, out, _ = run_cli(capsys, *base, "--story", "copy", "ask", "--json", "Who is Amy?")
    shown = json.loads(out)
    assert all("+++" not in e["text"] for e in [*shown["excerpts"], *shown["closest"]])


def test_stats_name_the_story_when_there_are_several(capsys, config_path, tmp_path):
    base = ["--config", str(config_path)]
    code, out, _ = run_cli(capsys, *base, "stats")
    assert code == 0 and not out.startswith("story")  # one story: nothing to tell apart
    assert run_cli(capsys, *base, "stories", "create", "fire")[0] == 0
    report = tmp_path / "report.html"
    code, out, _ = run_cli(capsys, *base, "stats", "--html", str(report))
    assert code == 0 and out.startswith("story default: ")
    assert "<h1>storybot: what the community asked (story default)</h1>" in report.read_text()
    code, out, _ = run_cli(capsys, *base, "--story", "fire", "stats", "--json")
    assert json.loads(out)["story"] == "fire"
