"""One rule for what text a source may hold (``decoding.text_problem``), shared by uploads,
fetched pages, every corpus write and the corpus loader: whatever is added also loads. And
``sources remove`` works on any file of the corpus folder, even one that does not load."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from web_server import Route, serve

from bot.cli import main
from bot.config import FetchSettings
from bot.sources.corpus import Corpus, CorpusError, serialize
from bot.sources.decoding import DocumentError
from bot.sources.web.fetch import Fetcher, FetchError
from conftest import write_config
from helpers import source

web = pytest.fixture(serve)
# Text past the first 8 KB, where uploads and fetched pages used to stop looking for NULs.
LATE_NUL = ("The harbour ferry sails at noon. " * 350).encode() + b"\x00 and then more text.\n"


def test_an_upload_with_a_nul_after_11_kb_is_refused(make_bot):
    """Before: reported "added" (with an audit row), then skipped at every load as binary."""
    bot = make_bot()
    assert len(LATE_NUL) > 11_000
    with pytest.raises(DocumentError, match="binary"):
        bot.add_file("notes.txt", LATE_NUL, title="Notes")
    assert [s.id for s in bot.sources] == ["seed-story"]
    assert bot.audit_entries() == []
    assert bot.corpus.load().errors == []


def test_a_fetched_page_with_a_nul_after_11_kb_is_refused(web):
    web.routes["/late-nul.txt"] = Route(headers={"Content-Type": "text/plain"}, body=LATE_NUL)
    fetcher = Fetcher(FetchSettings(allow_hosts=("127.0.0.1",), timeout_seconds=2.0))
    with pytest.raises(FetchError, match="binary"):
        fetcher.fetch(web.url("/late-nul.txt"))


# Text made of pieces a source might hold, controls and NUL included, short and long.
PIECES = st.sampled_from(
    ["The ferry sails. ", "\x00", "\x07", "\x1b[31m", "\x0b", "\t", "\r\n", "\n\n", "é", " "]
)


@given(pieces=st.lists(PIECES, min_size=1, max_size=60), filler=st.integers(0, 400))
def test_what_a_write_accepts_loads_and_what_it_refuses_would_not(tmp_path_factory, pieces, filler):
    """The writer and the loader apply the same rule to the same text: a source is stored only
    if it loads back unchanged, and one the writer refuses is refused by the loader too."""
    corpus = Corpus(tmp_path_factory.mktemp("corpus"))
    text = "".join(pieces) + "The harbour news of the week. " * filler
    candidate = source("notes", text)
    try:
        corpus.write(candidate)
    except CorpusError as exc:
        assert "the text" in str(exc) or "has no text" in str(exc) or "empty" in str(exc)
        corpus.path_for("notes").write_text(serialize(candidate), encoding="utf-8")
        loaded = corpus.load()
        assert loaded.sources == [] and len(loaded.errors) == 1
        return
    loaded = corpus.load()
    assert loaded.errors == []
    assert [s.text for s in loaded.sources] == [text]


# -- remove: any file of the corpus folder -----------------------------------------------------


def bad_files(directory) -> dict[str, str]:
    """Files the loader skips, by the name a load error shows; the value is how to name it."""
    (directory / "binary.txt").write_bytes(b"+++\nid = 'binary'\n+++\n" + LATE_NUL)
    (directory / "latin1.txt").write_bytes("+++\nid='latin1'\n+++\ncafé".encode("latin-1"))
    (directory / "no-header.txt").write_text("Just some text.", encoding="utf-8")
    (directory / "Bad Name.txt").write_text("Not a source.", encoding="utf-8")
    (directory / "wrong-id.txt").write_text(serialize(source("other", "Text.")), "utf-8")
    (directory / "dangling.txt").symlink_to(directory / "nowhere")
    (directory / "folder.txt").mkdir()
    os.mkfifo(directory / "pipe.txt")
    return {
        "binary.txt": "binary",
        "latin1.txt": "latin1.txt",
        "no-header.txt": "no-header",
        "Bad Name.txt": "Bad Name.txt",
        "wrong-id.txt": "wrong-id",
        "dangling.txt": "dangling.txt",
        "folder.txt": "folder",
        "pipe.txt": "pipe.txt",
    }


def test_remove_takes_any_file_of_the_corpus_folder_even_one_that_does_not_load(make_bot):
    """Before: `sources remove` read the file first and failed on one that does not load, so
    a bad file could only be deleted by hand."""
    bot = make_bot()
    names = bad_files(bot.corpus.directory)
    bot.reload()
    assert len(bot.load_errors) == len(names)
    for file_name, given_name in names.items():
        removed = bot.remove_source(given_name, removed_by="mod")
        assert removed.id == file_name.removesuffix(".txt")
        assert not os.path.lexists(bot.corpus.directory / file_name)
    assert bot.load_errors == ()
    assert [s.id for s in bot.sources] == ["seed-story"]
    trashed = sorted(p.name.split(".", 1)[0] for p in bot.corpus.trash.iterdir())
    assert len(trashed) == len(names)
    entries = bot.audit_entries()
    assert len(entries) == len(names)
    assert all(e.action == "remove" and e.detail == "the file did not load" for e in entries)
    # Undo brings a file back as it was (it is skipped at load again).
    assert bot.restore_source("binary", restored_by="mod").text == ""
    assert bot.corpus.path_for("binary").read_bytes().endswith(b"and then more text.\n")
    assert len(bot.load_errors) == 1 and bot.audit_entries(limit=1)[0].action == "restore"


@pytest.mark.parametrize("name", ["../seed-story", "/etc/passwd", ".trash", "", "nope"])
def test_remove_refuses_names_outside_the_corpus_folder(make_bot, name):
    bot = make_bot()
    with pytest.raises(CorpusError, match="no source"):
        bot.remove_source(name)
    assert [s.id for s in bot.sources] == ["seed-story"]


def test_the_cli_removes_a_file_that_does_not_load(tmp_path, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_bytes(b"+++\nid = 'notes'\n+++\n" + LATE_NUL)
    config = str(write_config(tmp_path))
    code = main(["--config", config, "sources", "remove", "notes.txt"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "removed" in out and "notes" in out
    assert not (corpus / "notes.txt").exists()
    code = main(["--config", config, "sources", "list"])
    _, err = capsys.readouterr()
    assert code == 0 and "skipped" not in err
