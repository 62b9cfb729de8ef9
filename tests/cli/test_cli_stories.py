"""``storybot stories`` and ``--story``; bookkeeping commands load neither spaCy nor the model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_config
from bot.engine import StoryBot
from conftest import SHIPPED_CORPUS, write_config

HEAVY = ("spacy", "onnxruntime", "scipy", "bot.search.text", "bot.stories.index")
FIRE = (
    "The harbour fire started at the grain silo on Tuesday night. Firefighters from three "
    "towns fought it for six hours before it was out, and the silo's owner said the cause was "
    "an electrical fault in the conveyor that carries grain to the loading dock by the quay."
)


@pytest.fixture
def deployment(tmp_path: Path, analyzer) -> Path:
    """A config, the shipped corpus, a recorded question (answered and not) and a feed."""
    shutil.copytree(SHIPPED_CORPUS, tmp_path / "corpus")
    config = write_config(tmp_path, "")
    bot = StoryBot(load_config(config), analyzer=analyzer)
    bot.ask("Who directed Cuties?", record=True, origin="cli")
    bot.ask("what is the price of tea in china", record=True, origin="cli")
    bot.feeds_add("https://news.example/feed.xml", added_by="test", trial=False)
    return config


@pytest.mark.parametrize(
    "argv, code",
    [
        (["sources", "list"], 0),
        (["sources", "log"], 0),
        (["feeds", "list"], 0),
        (["feeds", "queue"], 0),
        (["feeds", "items"], 0),
        (["stats"], 0),
        (["stories", "list"], 0),
        (["sources", "add", "http://127.0.0.1/x"], 1),  # refused by the SSRF guard
    ],
)
def test_bookkeeping_commands_load_neither_spacy_nor_the_model(deployment, argv, code):
    probe = (
        "import sys\n"
        "from bot.cli import main\n"
        f"code = main(['--config', {str(deployment)!r}, *{argv!r}])\n"
        f"assert code == {code}, code\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr + result.stdout
    if code:
        assert "loopback" in result.stderr


def run(config: Path, *argv: str, capsys) -> tuple[int, str, str]:
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_stories_are_created_used_renamed_and_archived(tmp_path, capsys):
    shutil.copytree(SHIPPED_CORPUS, tmp_path / "corpus")
    config = write_config(tmp_path, "")
    (tmp_path / "fire.txt").write_text(FIRE, encoding="utf-8")

    code, out, _ = run(config, "stories", "create", "harbour-fire", capsys=capsys)
    assert code == 0 and "harbour-fire" in out
    # The hint is one line, the command whole (piped output is never wrapped).
    assert "storybot --story harbour-fire sources add URL" in out.splitlines()[0]
    code, _, err = run(config, "stories", "create", "harbour-fire", capsys=capsys)
    assert code == 1 and "already a story named 'harbour-fire'" in err
    code, _, err = run(config, "stories", "create", "Harbour Fire!", capsys=capsys)
    assert code == 1 and "not a story name" in err

    code, out, _ = run(
        config, "--story", "harbour-fire", "sources", "add", "--file", str(tmp_path / "fire.txt"),
        "--title", "Silo fire", capsys=capsys,
    )  # fmt: skip
    assert code == 0, out
    # The story answers from its own source; the default story does not know it.
    code, out, _ = run(
        config, "ask", "--json", "--story", "harbour-fire", "What caused the silo fire?",
        capsys=capsys,
    )  # fmt: skip
    record = json.loads(out)
    assert record["answered"] and record["excerpts"][0]["source"]["id"] == "silo-fire"
    code, out, _ = run(config, "ask", "--json", "What caused the silo fire?", capsys=capsys)
    assert all(e["source"]["id"] != "silo-fire" for e in json.loads(out)["excerpts"])
    code, out, _ = run(config, "sources", "log", "--json", "--story", "harbour-fire", capsys=capsys)
    logged = [json.loads(line) for line in out.splitlines()]  # newest first
    assert [(e["action"], e["source_id"]) for e in logged] == [
        ("add", "silo-fire"),
        ("story create", ""),
    ]
    code, out, _ = run(config, "sources", "log", "--json", capsys=capsys)
    assert "silo-fire" not in out

    code, out, _ = run(config, "health", "--story", "harbour-fire", capsys=capsys)
    assert code == 0 and "1 source(s)" in out and "stories" in out
    code, out, _ = run(config, "stories", "rename", "harbour-fire", "silo-fire", capsys=capsys)
    assert code == 0
    code, out, _ = run(config, "stories", "list", "--json", capsys=capsys)
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(s["name"], s["status"], s["sources"]) for s in listed] == [
        ("default", "active", 1),
        ("silo-fire", "active", 1),
    ]
    code, out, _ = run(config, "stories", "list", capsys=capsys)  # piped: plain lines
    assert out.splitlines() == [
        "id\tname\tserver\tstatus\tsources",
        "1\tdefault\t—\tactive\t1",
        "2\tsilo-fire\t—\tactive\t1",
    ]
    code, _, _ = run(config, "stories", "archive", "silo-fire", "--by", "ana", capsys=capsys)
    code, _, err = run(config, "--story", "silo-fire", "ask", "What caused it?", capsys=capsys)
    assert code == 1 and "archived" in err
    code, _, err = run(config, "stories", "archive", "silo-fire", capsys=capsys)
    assert code == 1 and "story 'silo-fire' is already archived" in err
    # An archived story's sources and log can still be read (said on stderr).
    code, out, err = run(config, "--story", "silo-fire", "sources", "log", capsys=capsys)
    assert code == 0 and "story archive\tsilo-fire" not in out and "\tana\tstory archive" in out
    assert "story 'silo-fire' is archived (bring it back with: storybot stories archive 2" in err
    code, _, _ = run(config, "stories", "archive", "--undo", "silo-fire", capsys=capsys)
    code, out, _ = run(config, "--story", "2", "sources", "list", "--json", capsys=capsys)
    assert code == 0 and json.loads(out)["id"] == "silo-fire"
    # Each change to the story itself is in its audit log, with who made it.
    code, out, _ = run(config, "--story", "2", "sources", "log", "--json", capsys=capsys)
    logged = [json.loads(line) for line in out.splitlines()][:3]
    assert [(e["action"], e["actor"], e["detail"]) for e in logged] == [
        ("story unarchive", "cli", ""),
        ("story archive", "ana", ""),
        ("story rename", "cli", "'harbour-fire' -> 'silo-fire'"),
    ]
    code, out, _ = run(config, "sources", "log", "--json", capsys=capsys)
    assert "story" not in {json.loads(line)["action"].split()[0] for line in out.splitlines()}
    # A log cut at -n says so on stderr (piped lines and JSON carry entries only).
    code, out, err = run(config, "--story", "2", "sources", "log", "-n", "2", capsys=capsys)
    assert len(out.splitlines()) == 1 + 2 and "the 2 newest entries (older ones with -n 20)" in err
    code, out, err = run(config, "--story", "2", "sources", "log", "-n", "5", capsys=capsys)
    assert len(out.splitlines()) == 1 + 5 and err == ""


def test_an_unknown_story_is_one_clear_error(tmp_path, capsys):
    shutil.copytree(SHIPPED_CORPUS, tmp_path / "corpus")
    config = write_config(tmp_path, "")
    code, _, err = run(config, "--story", "nope", "sources", "list", capsys=capsys)
    assert code == 1
    assert "no story named 'nope'" in err and "Traceback" not in err


def test_hints_keep_the_story_they_were_given_for(tmp_path, capsys):
    """Following a hint printed for --story acts on that story, never on the default one."""
    shutil.copytree(SHIPPED_CORPUS, tmp_path / "corpus")
    config = write_config(tmp_path, "")
    fire = tmp_path / "fire.txt"
    fire.write_text(FIRE, encoding="utf-8")
    # The default story has a source of the same id in its trash: a restore there would "work".
    add = ["sources", "add", "--file", str(fire), "--title", "Silo fire"]
    assert run(config, *add, capsys=capsys)[0] == 0
    assert run(config, "sources", "remove", "silo-fire", capsys=capsys)[0] == 0
    assert run(config, "stories", "create", "harbour-fire", capsys=capsys)[0] == 0
    assert run(config, "--story", "harbour-fire", *add, capsys=capsys)[0] == 0

    code, out, _ = run(
        config, "--story", "harbour-fire", "sources", "remove", "silo-fire", capsys=capsys
    )
    assert code == 0
    hint = out.split("undo with: ")[1].split(")")[0]
    assert hint == "storybot --story harbour-fire sources restore silo-fire"
    code, _, _ = run(config, *hint.split()[1:], capsys=capsys)
    assert code == 0
    code, out, _ = run(config, "stories", "list", "--json", capsys=capsys)
    counts = {s["name"]: s["sources"] for s in map(json.loads, out.splitlines())}
    assert counts == {"default": 1, "harbour-fire": 1}  # restored where it was removed

    code, out, _ = run(
        config, "--story", "harbour-fire", "ask", "what is the price of tea", capsys=capsys
    )
    assert "storybot --story harbour-fire sources list" in out
    code, out, _ = run(config, "ask", "what is the price of tea", capsys=capsys)
    assert "storybot sources list" in out and "--story" not in out
    assert run(config, "stories", "create", "empty-one", capsys=capsys)[0] == 0
    code, _, err = run(config, "--story", "empty-one", "health", capsys=capsys)
    assert code == 1 and "storybot --story empty-one sources add URL" in err


def test_a_story_name_needs_a_letter_and_the_hint_names_an_ambiguous_story_by_id(tmp_path, capsys):
    shutil.copytree(SHIPPED_CORPUS, tmp_path / "corpus")
    config = write_config(tmp_path, "")
    code, _, err = run(config, "stories", "create", "123", capsys=capsys)
    assert code == 1 and "needs a letter" in err  # --story 123 would name the story id 123
    assert run(config, "stories", "create", "fire-2024", capsys=capsys)[0] == 0
    code, _, err = run(config, "stories", "rename", "fire-2024", "2024", capsys=capsys)
    assert code == 1 and "needs a letter" in err

    code, out, _ = run(
        config, "stories", "create", "fire", "--server", "123456789012345678", capsys=capsys
    )
    assert "storybot --story fire sources add URL" in out  # the only one of that name
    code, out, _ = run(config, "stories", "create", "fire", capsys=capsys)
    assert code == 0
    created = int(out.split("(id ")[1].split(")")[0])
    hint = out.split("add sources with: ")[1].strip()
    assert hint == f"storybot --story {created} sources add URL"  # "fire" names two now
    assert run(config, *hint.split()[1:-2], "list", capsys=capsys)[0] == 0


def test_an_archived_default_story_is_refused_until_brought_back(tmp_path, capsys):
    shutil.copytree(SHIPPED_CORPUS, tmp_path / "corpus")
    config = write_config(tmp_path, "")
    assert run(config, "stories", "archive", "default", capsys=capsys)[0] == 0
    for argv in (["ask", "Who directed Cuties?"], ["feeds", "list"], ["sources", "remove", "x"]):
        code, out, err = run(config, *argv, capsys=capsys)
        assert code == 1 and "default story 'default' (id 1) is archived" in err, argv
        assert "storybot stories archive 1 --undo" in err and not out
    code, _, err = run(config, "--story", "default", "ask", "Who directed Cuties?", capsys=capsys)
    assert code == 1 and "storybot stories archive 1 --undo" in err
    code, out, err = run(config, "sources", "list", capsys=capsys)  # reading it is allowed
    assert code == 0 and "seed-story" in out and "storybot stories archive 1 --undo" in err
    assert run(config, "stories", "archive", "1", "--undo", capsys=capsys)[0] == 0
    assert run(config, "ask", "Who directed Cuties?", capsys=capsys)[0] == 0
