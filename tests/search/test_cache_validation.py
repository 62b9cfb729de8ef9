"""Cache contents are checked, not trusted once the key matches (third attack round, finding
14): a damaged entry is rebuilt for that source, with a log line, and answers stay the same."""

from __future__ import annotations

import io
import logging
import zipfile

import numpy as np
import pytest

from helpers import source

FERRY = source(
    "ferry",
    "The harbour ferry stops running in December because the operator lost money. "
    "Ferry tickets were already twice as expensive as the bus.\n\n"
    "The kiosk at the pier sells ferry tickets, maps and postcards. It opens at nine.",
)
QUESTION = "Why will the ferry stop running?"
LONG_FERRY = source(
    "ferry",
    FERRY.text
    + "".join(
        f"\n\nOn day {i} the harbour ferry carried {i * 40} passengers to the island. "
        f"The crew counted {i * 3} bicycles on deck."
        for i in range(1, 8)
    ),
)


def rewrite(path, change) -> None:
    """Rewrite one cache file with ``change(arrays)`` applied, keeping its key."""
    with np.load(path) as data:
        arrays = dict(data)
    change(arrays)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())


def negative_rows(a):
    a["sentence_first"] = a["sentence_first"] - 10_000


def nan_vectors(a):
    a["windows"] = a["windows"].copy()
    a["windows"][0, :] = np.nan


def huge_vectors(a):
    a["sentences"] = a["sentences"] * 1e30


def decreasing_ptr(a):
    first = a["sentence_first"].copy()
    first[0] = len(a["sentences"])  # a window whose sentences start past the end
    a["sentence_first"] = first


def empty_window(a):
    count = a["sentence_count"].copy()
    count[0] = 0  # a window of no sentence
    a["sentence_count"] = count


@pytest.mark.parametrize(
    "damage", [negative_rows, nan_vectors, huge_vectors, decreasing_ptr, empty_window]
)
def test_a_damaged_vector_entry_is_rebuilt(make_bot, tmp_path, damage, caplog):
    first = make_bot(FERRY, seed=False)
    expected = first.ask(QUESTION)
    path = tmp_path / "state" / "stories" / "1" / "cache" / "vectors" / "ferry.npz"
    rewrite(path, damage)
    with caplog.at_level(logging.WARNING):
        second = make_bot(seed=False)
    assert second.vector_builds == 1  # the source was embedded again
    assert "vector cache" in caplog.text
    answer = second.ask(QUESTION)
    assert answer.answered == expected.answered
    spans = [(e.start, e.end) for e in answer.excerpts]
    assert spans == [(e.start, e.end) for e in expected.excerpts]


def reversed_bounds(a):
    bounds = a["bounds"].copy()
    bounds[0] = bounds[0][::-1]
    a["bounds"] = bounds


def negative_ptr(a):
    ptr = a["term_ptr"].copy()
    ptr[1] = -5
    a["term_ptr"] = ptr


def sentences_outside(a):
    a["sent_starts"] = a["sent_starts"] + 10**9


@pytest.mark.parametrize("damage", [reversed_bounds, negative_ptr, sentences_outside])
def test_a_damaged_passage_entry_is_rebuilt(make_bot, tmp_path, damage):
    first = make_bot(FERRY, seed=False, config={"semantic": {"enabled": False}})
    expected = first.passages
    path = tmp_path / "state" / "stories" / "1" / "cache" / "passages" / "ferry.npz"
    rewrite(path, damage)
    second = make_bot(seed=False, config={"semantic": {"enabled": False}})
    assert second.passages == expected


def test_a_deflated_array_is_refused_before_it_is_inflated(make_bot, tmp_path, monkeypatch):
    """A small file declaring a 2 GB array (zeros deflate ~1000:1) is never decompressed."""
    first = make_bot(FERRY, seed=False)
    path = tmp_path / "state" / "stories" / "1" / "cache" / "vectors" / "ferry.npz"
    with np.load(path) as data:
        arrays = dict(data)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # still valid, but compressed: not what we write
    path.write_bytes(buffer.getvalue())
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, mode="r", *args, **kwargs):
        if mode == "r" and self.filename == str(path):
            opened.append(name)
        return real_open(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    second = make_bot(seed=False)
    assert second.vector_builds == 1
    assert opened == []  # refused from the zip directory: no member read, none inflated
    assert second.ask(QUESTION).answered == first.ask(QUESTION).answered


def test_a_process_killed_while_embedding_keeps_its_checkpoints(make_bot, tmp_path, monkeypatch):
    """Finding 16: a kill mid-embedding lost the whole source; now at most one run."""
    from bot.search import embeddings, semantic

    monkeypatch.setattr(semantic, "CHECKPOINT_TEXTS", 4)
    embedder = embeddings.embedder_for(_settings())
    real = embedder.embed
    asked: list[int] = []

    def dies_on_third_run(texts, progress=None):
        asked.append(len(texts))
        if len(asked) == 3:
            raise KeyboardInterrupt("killed")  # the process dies here
        return real(texts, progress)

    monkeypatch.setattr(embedder, "embed", dies_on_third_run)
    with pytest.raises(KeyboardInterrupt):
        make_bot(LONG_FERRY, seed=False)
    vectors_dir = tmp_path / "state" / "stories" / "1" / "cache" / "vectors"
    parts = sorted(p.name for p in vectors_dir.glob("*.npz"))
    assert parts == ["ferry.part0.npz", "ferry.part1.npz"]

    def counts(texts, progress=None):
        asked.append(len(texts))
        return real(texts, progress)

    monkeypatch.setattr(embedder, "embed", counts)
    asked.clear()
    resumed = make_bot(seed=False)
    total = sum(asked) + 8
    assert asked and asked[0] <= 4  # it started from the third run, not from the start
    vectors_dir = tmp_path / "state" / "stories" / "1" / "cache" / "vectors"
    vectors = sorted(p.name for p in vectors_dir.glob("*.npz"))
    assert vectors == ["ferry.npz"]  # checkpoints gone once the source is done
    with np.load(tmp_path / "state" / "stories" / "1" / "cache" / "vectors" / "ferry.npz") as data:
        assert len(data["windows"]) + len(data["sentences"]) == total
    assert resumed.ask(QUESTION).answered


def _settings():
    from bot.config import SemanticSettings

    return SemanticSettings()


def test_an_array_declaring_more_than_the_file_holds_is_refused_unread(
    make_bot, tmp_path, monkeypatch
):
    """A stored member whose .npy header declares a 1.5 TB array (numpy allocates the
    declared size before reading): the header is checked against the member's size first."""
    first = make_bot(FERRY, seed=False)
    path = tmp_path / "state" / "stories" / "1" / "cache" / "vectors" / "ferry.npz"
    with np.load(path) as data:
        arrays = dict(data)
    member = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (10**9, 384)}
    np.lib.format.write_array_header_1_0(member, header)
    member.write(arrays["windows"].tobytes())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            one = io.BytesIO()
            np.lib.format.write_array(one, array)
            archive.writestr(
                f"{name}.npy", member.getvalue() if name == "windows" else one.getvalue()
            )
    read = []
    real = np.lib.format.read_array

    def spy(fp, *args, **kwargs):
        read.append(getattr(fp, "name", ""))
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "read_array", spy)
    second = make_bot(seed=False)
    assert second.vector_builds == 1
    assert "windows.npy" not in read  # refused from its header: never allocated nor read
    assert second.ask(QUESTION).answered == first.ask(QUESTION).answered


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((3, 384), np.float32),
        np.arange(5, dtype=np.int64),
        np.array(["ab", "c", "lighthouse"]),
        np.zeros((0, 2), np.int64),
        np.zeros((), np.int32),
        np.ones(3, bool),
        np.zeros((2, 3, 4), np.float16),
        np.zeros(4, ">u2"),
    ],
    ids=lambda a: f"{a.dtype.str}{a.shape}",
)
def test_the_plain_header_reader_agrees_with_numpys(array):
    from bot.search.cache import plain_npy_header

    buffer = io.BytesIO()
    np.save(buffer, array)
    data = buffer.getvalue()
    header = io.BytesIO(data)
    np.lib.format.read_magic(header)
    shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
    assert plain_npy_header(data) == (shape, fortran, dtype, header.tell())


@pytest.mark.parametrize(
    "change",
    [
        (b"'fortran_order': False", b"'fortran_order': True"),
        (b"'descr': '<f4'", b"'descr': '|O'"),
        (b"'descr': '<f4'", b"'descr': [('a', '<f4')]"),
        (b"'shape': (3, 384), ", b"'shape': (3, 384), 'x': 1, "),
        (b"'shape': (3, 384)", b"'shape': (3, -384)"),
        (b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00"),
    ],
    ids=["fortran", "object", "structured", "extra-key", "negative", "version-2"],
)
def test_any_other_header_is_left_to_numpys_reader(change):
    """What the plain reader does not know exactly it does not read: numpy's reader and the
    checks after it decide (refusing object dtypes and Fortran order, as before)."""
    from bot.search.cache import plain_npy_header

    buffer = io.BytesIO()
    np.save(buffer, np.zeros((3, 384), np.float32))
    old, new = change
    data = buffer.getvalue()
    assert old in data
    assert plain_npy_header(data.replace(old, new, 1)) is None
