"""A hostile corpus directory: the bot starts, names every bad file, and serves the rest.

``STORYBOT_DEEP=1`` also spaCy-processes a source just under the size cap.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hostile import DEEP

from bot.cli import main
from bot.cli.terminal import literal, printable
from bot.config import ConfigError, config_from_dict
from bot.engine import StoryBot
from bot.sources.corpus import Corpus, CorpusError
from conftest import SHIPPED_CORPUS, write_config
from helpers import source

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
MB = 1_000_000


def header(source_id: str, extra: str = "") -> str:
    return f'+++\nid = "{source_id}"\ntitle = "T {source_id}"\nkind = "source"\n{extra}+++\n'


def good(source_id: str, word: str) -> str:
    return header(source_id) + f"The {word} keeper fed the {word}. The {word} slept well.\n"


# file name -> (content or a maker, the words its load error must contain)
BAD_FILES = {
    "empty.txt": (b"", "is empty"),
    "blank.txt": (b" \n\n\t\n", "is empty"),
    "header-only.txt": (header("header-only").encode(), "no text after the metadata header"),
    "header-blank-body.txt": ((header("header-blank-body") + "\n \n").encode(), "no text"),
    "binary.txt": (header("binary").encode() + bytes(range(256)), "binary"),
    "bad-utf8.txt": (header("bad-utf8").encode() + b"caf\xe9 \xff\xfe", "not valid UTF-8"),
    "latin1.txt": ('+++\nid = "latin1"\ntitle = "Café"\n'.encode("latin-1"), "UTF-8"),
    "no-header.txt": (b"Just text, no header.", "does not start with a '+++'"),
    "unclosed.txt": (b'+++\nid = "unclosed"\ntitle = "x"\nkind = "source"\nbody', "closing"),
    "bad-toml.txt": (b'+++\nid = "bad-toml\ntitle = x\n+++\nbody', "not valid TOML"),
    "no-title.txt": (b'+++\nid = "no-title"\nkind = "source"\n+++\nbody', "title"),
    "blank-title.txt": (b'+++\nid = "blank-title"\ntitle = " "\nkind = "source"\n+++\nx', "title"),
    "no-id.txt": (b'+++\ntitle = "x"\nkind = "source"\n+++\nbody', "missing required"),
    "int-title.txt": (b'+++\nid = "int-title"\ntitle = 5\nkind = "source"\n+++\nx', "string"),
    "list-url.txt": (
        b'+++\nid = "list-url"\ntitle = "x"\nkind = "source"\nurl = ["a"]\n+++\nbody',
        "'url' must be a string",
    ),
    "bad-links.txt": (
        b'+++\nid = "bad-links"\ntitle = "x"\nkind = "source"\nlinks = "x"\n+++\nbody',
        "links",
    ),
    "bad-kind.txt": (b'+++\nid = "bad-kind"\ntitle = "x"\nkind = "blog"\n+++\nbody', "kind"),
    "bad-id.txt": (b'+++\nid = "Bad ID"\ntitle = "x"\nkind = "source"\n+++\nbody', "lowercase"),
    "mismatch.txt": ((header("other-id") + "text").encode(), "does not match the file name"),
    "Upper.txt": ((header("upper") + "text").encode(), "does not match the file name"),
    "[bold]markup[-x].txt": ((header("markup") + "text").encode(), "does not match"),
}


def make_hostile_corpus(corpus: Path) -> dict[str, str]:
    """Every kind of bad file next to good ones; returns bad file name -> expected words."""
    corpus.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_CORPUS / "seed-story.txt", corpus)
    expected = {}
    for name, (content, words) in BAD_FILES.items():
        (corpus / name).write_bytes(content)
        expected[name] = words
    # Good files in awkward shapes.
    bom = "\ufeff" + good("with-bom", "zebra")
    (corpus / "with-bom.txt").write_bytes(bom.encode("utf-8"))
    crlf = good("with-crlf", "okapi").replace("\n", "\r\n") + "\r\nA second okapi paragraph.\r\n"
    (corpus / "with-crlf.txt").write_bytes(crlf.encode("utf-8"))
    (corpus / "cjk-rtl.txt").write_text(
        header("cjk-rtl") + "The tapir 貘 keeper wrote שלום and مرحبا.\u2028The tapir slept.\n",
        encoding="utf-8",
    )
    # Not files.
    (corpus / "x.txt").mkdir()
    expected["x.txt"] = "not a regular file"
    os.symlink("loop-b.txt", corpus / "loop-a.txt")
    os.symlink("loop-a.txt", corpus / "loop-b.txt")
    expected["loop-a.txt"] = expected["loop-b.txt"] = "cannot be read"
    os.symlink("nowhere.txt", corpus / "dangling.txt")
    expected["dangling.txt"] = "cannot be read"
    os.mkfifo(corpus / "pipe.txt")  # reading it would block startup forever
    expected["pipe.txt"] = "not a regular file"
    os.symlink("/dev/zero", corpus / "zero.txt")  # reading it would never end
    expected["zero.txt"] = "not a regular file"
    # Too big: one sparse 50 MB file (written in a blink, never read).
    with (corpus / "huge.txt").open("wb") as handle:
        handle.write(header("huge").encode())
        handle.truncate(50 * MB)
    expected["huge.txt"] = "50.0 MB; sources are limited to 10 MB ([corpus] max_source_bytes)"
    # Unreadable (root reads it anyway: then it is just a good file).
    (corpus / "locked.txt").write_text(good("locked", "lemur"), encoding="utf-8")
    os.chmod(corpus / "locked.txt", 0)
    if not IS_ROOT:
        expected["locked.txt"] = "cannot be read (Permission denied)"
    # A file name that is not UTF-8 (file systems allow any bytes but / and NUL).
    bad_name = os.fsencode(corpus) + b"/\xff\xfe.txt"
    with open(bad_name, "wb") as handle:
        handle.write(good("not-utf8-name", "ibis").encode())
    expected[os.fsdecode(b"\xff\xfe.txt")] = "does not match the file name"
    return expected


@pytest.fixture
def hostile(tmp_path, analyzer):
    expected = make_hostile_corpus(tmp_path / "corpus")
    config_path = write_config(tmp_path)
    yield tmp_path, config_path, expected
    os.chmod(tmp_path / "corpus" / "locked.txt", 0o644)  # so tmp_path can be cleaned


def build(tmp_path: Path, analyzer, *, semantic: bool = True, **corpus) -> StoryBot:
    import tomllib

    from conftest import SHIPPED_CONFIG

    data = tomllib.loads(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["corpus"].update(corpus)
    data.setdefault("semantic", {})["enabled"] = semantic
    return StoryBot(config_from_dict(data, base=tmp_path), analyzer=analyzer)


def test_bot_starts_names_each_bad_file_and_serves_the_rest(hostile, analyzer):
    tmp_path, _, expected = hostile
    bot = build(
        tmp_path, analyzer
    )  # bounded: no file is read past its cap (time: bench/hostile.py)
    errors = {e.split(": ", 1)[0]: e for e in bot.load_errors}
    for name, words in expected.items():
        assert name in errors, (name, bot.load_errors)
        assert words in errors[name], errors[name]
    assert len(bot.load_errors) == len(expected), bot.load_errors
    good = {"seed-story", "with-bom", "with-crlf", "cjk-rtl"} | ({"locked"} if IS_ROOT else set())
    assert {s.id for s in bot.sources} == good
    for question, source_id in (
        ("Who directed Cuties?", "seed-story"),
        ("What did the zebra keeper feed?", "with-bom"),
        ("Where did the okapi sleep?", "with-crlf"),
        ("What did the tapir keeper write?", "cjk-rtl"),
    ):
        answer = bot.ask(question)
        assert answer.answered, question
        assert answer.excerpts[0].source.id == source_id
        for e in answer.excerpts:
            assert e.text == bot.source(e.source.id).text[e.start : e.end]
            assert "\r" not in e.text[-1:] and e.text == e.text.strip()


def test_bom_and_crlf_files_keep_their_text_exactly(hostile, analyzer):
    tmp_path, _, _ = hostile
    bot = build(tmp_path, analyzer)
    sources = {s.id: s for s in bot.sources}
    assert sources["with-bom"].text == good("with-bom", "zebra").split("+++\n", 2)[2]
    assert sources["with-bom"].title == "T with-bom"
    crlf = sources["with-crlf"].text
    assert crlf.startswith("The okapi keeper") and "\r\n\r\nA second okapi" in crlf


def test_cli_reports_bad_files_and_still_works(hostile, capsys):
    _, config_path, expected = hostile
    code = main(["--config", str(config_path), "sources", "list"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "seed-story" in out and "with-crlf" in out
    for name in expected:
        assert f"skipped {printable(name)}" in err, name
    assert "[bold]markup[-x].txt" in err  # shown literally, not as rich markup
    code = main(["--config", str(config_path), "ask", "What did the zebra keeper feed?"])
    out, err = capsys.readouterr()
    assert code == 0 and "zebra" in out and "skipped huge.txt" in err
    code = main(["--config", str(config_path), "ask", "--json", "Where did the okapi sleep?"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["excerpts"][0]["source"]["id"] == "with-crlf"


def test_unreadable_file_is_named(tmp_path, analyzer):
    if IS_ROOT:
        pytest.skip("running as root: chmod 000 does not stop reading")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "locked.txt").write_text(good("locked", "lemur"), encoding="utf-8")
    os.chmod(corpus / "locked.txt", 0)
    try:
        bot = build(tmp_path, analyzer)
        assert bot.load_errors == ("locked.txt: cannot be read (Permission denied)",)
    finally:
        os.chmod(corpus / "locked.txt", 0o644)


def test_size_cap_is_configurable_and_applies_to_writes(tmp_path, analyzer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "medium.txt").write_text(good("medium", "heron") + "x" * 5000, encoding="utf-8")
    bot = build(tmp_path, analyzer, max_source_bytes=2000)
    (error,) = bot.load_errors
    assert error.startswith("medium.txt: is 0.0 MB") and "max_source_bytes" in error
    with pytest.raises(CorpusError, match="max_source_bytes"):
        bot.add_source("y " * 2000, "Too big")
    assert not (corpus / "too-big.txt").exists()
    assert build(tmp_path, analyzer, max_source_bytes=10_000).load_errors == ()
    for bad in (0, -1, "10MB", 1.5, True):
        with pytest.raises(ConfigError, match="max_source_bytes"):
            config_from_dict({"corpus": {"max_source_bytes": bad}}, base=tmp_path)


def test_a_file_growing_past_the_cap_after_stat_is_refused(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    path = corpus / "growing.txt"
    path.write_text(good("growing", "crane"), encoding="utf-8")
    real_stat = Path.stat
    monkeypatch.setattr(
        Path, "stat", lambda self, **kw: os.stat_result((*real_stat(self, **kw)[:6], 1, 0, 0, 0))
    )
    loaded = Corpus(corpus, max_source_bytes=20).load()
    assert loaded.sources == [] and "sources are limited" in loaded.errors[0]


def test_one_megabyte_single_line_is_indexed_in_exact_bounded_passages(tmp_path, analyzer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # One line, no full stop in 1 MB (a run-on "sentence"), and one with sentences.
    words = " ".join(f"giraffe{i % 997} word" for i in range(90_000))[:MB]
    sentences = " ".join(f"The gnu number {i} ran far." for i in range(40_000))[:MB]
    for name, text in (("run-on", words), ("one-line", sentences)):
        (corpus / f"{name}.txt").write_text(header(name) + text, encoding="utf-8")
    # How long this takes and how much memory it needs: bench/hostile.py, not a timed test.
    # Passages are what is tested here; embedding 1,600 passages would only cost minutes.
    bot = build(tmp_path, analyzer, semantic=False)
    assert bot.load_errors == ()
    passages = bot.passages
    texts = {s.id: s.text for s in bot.sources}
    assert max(p.end - p.start for p in passages) <= 1200
    for p in passages:
        text = texts[p.source_id][p.start : p.end]
        assert text and text == text.strip()
    for question, source_id in (
        ("Where is giraffe512?", "run-on"),
        ("gnu number 31337", "one-line"),
    ):
        answer = bot.ask(question)
        assert answer.answered and answer.excerpts[0].source.id == source_id
        excerpt = answer.excerpts[0]
        assert excerpt.text == texts[source_id][excerpt.start : excerpt.end]
        assert len(excerpt.text) <= 1500


@pytest.mark.skipif(not DEEP, reason="STORYBOT_DEEP=1: spaCy-processes a 9.9 MB source")
def test_deep_source_just_under_the_cap_loads(tmp_path, analyzer):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    body = " ".join(f"The eland number {i} grazed." for i in range(400_000))
    text = header("big") + body[: 10 * MB - 200]
    (corpus / "big.txt").write_text(text, encoding="utf-8")
    bot = build(tmp_path, analyzer)
    assert bot.load_errors == ()
    assert bot.ask("eland number 123456").answered


def test_titles_with_invalid_text_are_refused_on_write(make_bot):
    bot = make_bot()
    with pytest.raises(CorpusError, match="not valid text"):
        bot.add_source("Some text.", "Title \udcff")
    assert {s.id for s in bot.sources} == {"seed-story"}


def test_cli_survives_markup_and_control_characters_in_sources(tmp_path, capsys):
    (tmp_path / "corpus").mkdir()
    Corpus(tmp_path / "corpus").write(
        source(
            "markup",
            "The zebra keeper sent \x1b[31mred\x1b[0m text, [/] [bold]tags[/bold] and a bell\x07."
            # Under 1% control characters: more would be refused as binary (text_problem).
            + " The keeper also fed the zebras their usual hay at noon." * 6,
            title="Zebra [/x] [bold red]news \x1b]0;pwned\x07",
            publisher="[link=https://evil.example]P[/link]",
        )
    )
    config = str(write_config(tmp_path))
    for args in (["sources", "list"], ["ask", "What did the zebra keeper send?"]):
        code = main(["--config", config, *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "\x1b]" not in out and "\x07" not in out
        assert "[/x]" in out
    code = main(["--config", config, "ask", "What did the zebra keeper send?"])
    out, _ = capsys.readouterr()
    assert "␛[31mred␛[0m" in out and "[bold]tags[/bold]" in out
    # A question from a non-UTF-8 command line (surrogate-escaped bytes) is answered.
    code = main(["--config", config, "ask", os.fsdecode(b"\xff zebra keeper \xfe")])
    out, _ = capsys.readouterr()
    assert code == 0 and "zebra" in out


def test_lit_shows_anything_literally():
    assert literal("[bold]x[/x] \x1b \udcff") == "\\[bold]x\\[/x] ␛ \ufffd"
