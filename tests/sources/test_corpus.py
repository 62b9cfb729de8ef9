"""Corpus files: format round trip, atomic writes, and clear errors for malformed files."""

from pathlib import Path

import pytest

from bot.sources.corpus import Corpus, CorpusError, Source, parse, serialize
from helpers import source


def test_round_trip_keeps_header_and_exact_body():
    body = 'Line one with "quotes" and +++ inside.\r\n\r\n+++\nTrailing  spaces  \n\n'
    original = Source(
        id="a-source",
        title='A "quoted" title — with dash',
        text=body,
        kind="story",
        publisher="Some Paper",
        url="https://example.org/a?b=1",
        published="2020-09-10",
        added_by="mod#1",
        added_at="2026-11-25T10:00:00+00:00",
        extra={"language": "en"},
    )
    parsed = parse(serialize(original))
    assert parsed == original
    assert parsed.text == body
    assert parsed.extra == {"language": "en"}


def test_shipped_story_is_the_seed_text_verbatim():
    shipped = Corpus(Path(__file__).parents[2] / "corpus").load()
    assert shipped.errors == []
    story = next(s for s in shipped.sources if s.kind == "story")
    seed = Path(__file__).parents[3] / "shared" / "seed-story.txt"
    if seed.exists():
        assert story.text == seed.read_text(encoding="utf-8")
    assert story.publisher == "" and story.url == ""  # nothing invented


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("no header at all", "does not start"),
        ('+++\nid = "x"\ntitle = "t"\nkind = "story"\n', "no closing"),
        ("+++\nid = = broken\n+++\ntext", "not valid TOML"),
        ('+++\nid = "x"\nkind = "story"\n+++\ntext', "missing required field(s): title"),
        ('+++\nid = "Bad Id!"\ntitle = "t"\nkind = "story"\n+++\n', "lowercase letters"),
        ('+++\nid = "x"\ntitle = "t"\nkind = "blog"\n+++\n', "kind must be"),
        ('+++\nid = "x"\ntitle = 5\nkind = "story"\n+++\n', "must be a string"),
    ],
)
def test_malformed_headers_are_named_errors(content, message):
    with pytest.raises(CorpusError) as err:
        parse(content, "broken.txt")
    assert str(err.value).startswith("broken.txt:")
    assert message in str(err.value)


def test_a_broken_file_is_reported_and_the_others_still_load(tmp_path):
    corpus = Corpus(tmp_path)
    corpus.write(source("good", "Good text."))
    (tmp_path / "binary.txt").write_bytes(b"+++\x00\x01\x02")
    (tmp_path / "latin.txt").write_bytes('+++\nid = "latin"\n+++\ncaf\xe9'.encode("latin-1"))
    (tmp_path / "renamed.txt").write_text(serialize(source("other-id", "x")), encoding="utf-8")
    loaded = corpus.load()
    assert [s.id for s in loaded.sources] == ["good"]
    assert len(loaded.errors) == 3
    joined = "\n".join(loaded.errors)
    assert "binary.txt: is a binary file" in joined
    assert "latin.txt: is not valid UTF-8" in joined
    assert "renamed.txt: id 'other-id' does not match" in joined


def test_missing_corpus_directory_is_an_error_not_a_crash(tmp_path):
    loaded = Corpus(tmp_path / "nowhere").load()
    assert loaded.sources == []
    assert "not found" in loaded.errors[0]


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path):
    corpus = Corpus(tmp_path)
    corpus.write(source("one", "First."))
    with pytest.raises(CorpusError, match="already exists"):
        corpus.write(source("one", "Second."))
    assert corpus.load().sources[0].text == "First."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.txt"]  # no temp files left


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    corpus = Corpus(tmp_path)
    corpus.write(source("one", "First."))

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("bot.sources.corpus.os.replace", crash)
    with pytest.raises(OSError):
        corpus.write(source("one", "Second."), overwrite=True)
    monkeypatch.undo()
    assert corpus.load().sources[0].text == "First."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.txt"]


def test_remove_and_new_ids(tmp_path):
    corpus = Corpus(tmp_path)
    corpus.write(source("netflix-statement", "Text."))
    assert corpus.new_id("Netflix statement!") == "netflix-statement-2"
    assert corpus.new_id("Doucouré speaks") == "doucoure-speaks"
    assert corpus.new_id("¿¿") == "source"
    removed = corpus.remove("netflix-statement")
    assert removed.text == "Text."
    assert corpus.load().sources == []
    with pytest.raises(CorpusError, match="no source"):
        corpus.remove("netflix-statement")
    with pytest.raises(CorpusError, match="no source"):
        corpus.remove("../etc/passwd")


def test_written_files_get_the_usual_mode(tmp_path):
    from bot.files import UMASK

    path = Corpus(tmp_path).write(source("moded", "Text."))
    # Not mkstemp's private 0600: the mode a plain write under this umask would give.
    assert path.stat().st_mode & 0o777 == 0o666 & ~UMASK


def test_new_ids_are_cut_at_a_word_boundary(tmp_path):
    from bot.sources.corpus import ID_PATTERN, NEW_ID_LENGTH

    corpus = Corpus(tmp_path)
    title = "Cuties petition to cancel Netflix reaches 600,000 signatures in a week"
    made = corpus.new_id(title)
    assert made == "cuties-petition-to-cancel-netflix"  # "-reaches" would make 41
    assert len(made) <= NEW_ID_LENGTH and ID_PATTERN.match(made)
    # Every word of the id is a whole word of the title.
    assert all(word in title.lower().split() for word in made.split("-"))
    assert corpus.new_id("x" * 100) == "x" * NEW_ID_LENGTH  # one word longer than the limit
    corpus.write(source(made, "Text."))
    assert corpus.new_id(title) == f"{made}-2"


def test_a_reload_reads_again_only_the_files_that_changed(tmp_path, monkeypatch):
    import bot.sources.corpus as corpus_module

    corpus = Corpus(tmp_path)
    for n in range(3):
        corpus.write(source(f"s{n}", f"Text number {n} of the corpus."))
    first = corpus.load()
    read: list[str] = []
    real_read = corpus_module.read_source

    def counting(path, max_bytes):
        read.append(path.stem)
        return real_read(path, max_bytes)

    monkeypatch.setattr(corpus_module, "read_source", counting)
    again = corpus.load()
    assert read == [] and [s.text for s in again.sources] == [s.text for s in first.sources]
    # Same size, new content (an atomic replace: a new file), one removed, one added.
    corpus.write(source("s1", "Text NUMBER 1 of the corpus."), overwrite=True)
    corpus.path_for("s2").unlink()
    corpus.write(source("s3", "A new source."))
    changed = corpus.load()
    assert sorted(read) == ["s1", "s3"]
    assert {s.id: s.text for s in changed.sources} == {
        "s0": "Text number 0 of the corpus.",
        "s1": "Text NUMBER 1 of the corpus.",
        "s3": "A new source.",
    }
    # A file edited in place (same size) is read again too.
    path = corpus.path_for("s0")
    path.write_text(path.read_text().replace("number 0", "NUMBER 0"))
    assert corpus.load().sources[0].text == "Text NUMBER 0 of the corpus."
