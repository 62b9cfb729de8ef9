"""Processed passages per source, remembered in memory and on disk, so spaCy runs only on what
changed.

A source's passages (offsets, terms, sentence starts) depend on its id and text and on the
pipeline's settings: the analyzer's fingerprint (spaCy version, model, lemma table), the window
size, the passage size cap and storybot's version (the terms rules live in the code). All of that
is hashed into the source's *key*. One file per source, ``<state_dir>/cache/passages/<id>.npz``,
holds its key and passages as plain arrays (no pickle: ``np.load(allow_pickle=False)``); a file
whose key differs (the source or a setting changed) or that cannot be read (truncated, corrupted)
is ignored, and the source is processed again and its file rewritten. Files of removed sources
are deleted on the next build.

In memory, the passages of the last build are kept per source, so adding or removing one source
re-processes only that source (``StoryBot.reload`` goes through here).
"""

from __future__ import annotations

import bisect
import hashlib
import io
import itertools
import logging
import math
import mmap
import operator
import os
import re
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np

import bot
from bot.files import atomic_write
from bot.search.passages import MAX_PASSAGE_CHARS, Passage, split
from bot.search.text import Analyzer
from bot.sources.corpus import ID_PATTERN, Source

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bumped when the file format or the passage rules change (2: run-on sentences are cut;
# 3: an opening quotation mark belongs to the sentence it opens; 4: a headline first line is not
# a passage).
FORMAT_VERSION = 4


class PassageCache:
    def __init__(self, directory: Path | None, analyzer: Analyzer, window: int) -> None:
        self.directory = directory
        self._files = ArrayFiles(directory, "passage cache")
        self.analyzer = analyzer
        self.window = window
        self._memory: dict[str, _Entry] = {}
        self._vocabulary = Vocabulary()
        # How many sources were run through spaCy (tests and the benchmark read this).
        self.processed = 0
        self._settings = "|".join(
            map(
                str,
                (FORMAT_VERSION, bot.__version__, analyzer.fingerprint, window, MAX_PASSAGE_CHARS),
            )
        )

    def key(self, source: Source) -> str:
        digest = hashlib.sha256(f"{self._settings}|{source.id}|".encode())
        digest.update(source.text.encode("utf-8", "surrogatepass"))
        if source.links:  # link lists are not passages (``passages.is_link_list``)
            anchors = "\x1f".join(link.text for link in source.links)
            digest.update(f"|links|{anchors}".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def last_keys(self) -> dict[str, str]:
        """The key of each source of the last ``passages`` call (already computed: hashing
        every text again costs a pass over the whole corpus)."""
        return {source_id: entry.key for source_id, entry in self._memory.items()}

    def passages(self, sources: Iterable[Source]) -> PassageList:
        """All passages of ``sources``, in order; only sources not cached are processed."""
        memory: dict[str, _Entry] = {}
        for source in sources:
            key = self.key(source)
            entry = self._memory.get(source.id)
            if entry is None or entry.key != key:
                unpack = partial(_unpack, source, self._vocabulary)
                found = self._files.read(source.id, key, unpack)
                if found is None:
                    split_up = split(source, self.analyzer, self.window)
                    self.processed += 1
                    packed = _pack(split_up)
                    self._files.write(source.id, key, packed)
                    ids = self._vocabulary.ids(packed["vocab"].tolist())
                    tokens = ids[packed["term_ids"]]
                    found = split_up, tokens, np.diff(packed["term_ptr"]).astype(np.int32)
                entry = _Entry(key, *found)
            memory[source.id] = entry
        self._memory = memory
        self._files.prune(memory.keys())
        entries = list(memory.values())
        out = PassageList([e.passages for e in entries], list(memory))
        out.tokens = _concatenate([e.tokens for e in entries], np.int32)
        out.lengths = _concatenate([e.lengths for e in entries], np.int64)
        out.vocabulary = self._vocabulary.terms
        return out


class Vocabulary:
    """Every term a cache has seen, numbered in the order first seen (only ever grows)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.terms: list[str] = []

    def ids(self, terms: list[str]) -> np.ndarray:
        """Each term's id (int32), numbering the terms not seen yet."""
        ids, known = self._ids, self.terms
        # One lookup per term in C (``map``); only the terms never seen go through Python.
        found = list(map(ids.get, terms))
        n = -1
        while True:
            try:
                n = found.index(None, n + 1)
            except ValueError:
                break
            number = ids.get(terms[n])  # a term repeated within ``terms``
            if number is None:
                number = ids[terms[n]] = len(known)
                known.append(terms[n])
            found[n] = number
        return np.array(found, np.int32)


class LazyPassages(Sequence[Passage]):
    """Passages made when read: a subclass gives ``__len__`` and ``_at(j)`` for ``0 <= j <
    len``; indexing (negative too), slices and equality with a list of the same passages come
    from here."""

    __slots__ = ()

    def _at(self, j: int) -> Passage:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> Passage: ...

    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(n))]
        j = operator.index(i)
        j = j + n if j < 0 else j
        if not 0 <= j < n:
            raise IndexError("passage index out of range")
        return self._at(j)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (list, tuple, LazyPassages)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


class SourcePassages(LazyPassages):
    """One source's passages as its cache file's arrays (copied out of the memory map), each
    :class:`Passage` made when it is asked for: a restart made every passage of the corpus
    (97k objects and their term tuples at 100k passages: ~0.4 s and ~45 MB) for the few dozen a
    question reads. The same passages, equal to the ones ``split`` makes."""

    __slots__ = ("_bounds", "_sent_ptr", "_starts", "_term_ptr", "_terms", "_tokens", "source_id")

    def __init__(
        self,
        source_id: str,
        bounds: np.ndarray,
        tokens: np.ndarray,
        term_ptr: np.ndarray,
        sent_ptr: np.ndarray,
        starts: np.ndarray,
        terms: list[str],
    ) -> None:
        """``tokens``: the terms as ids into ``terms`` (the cache's vocabulary, which only
        grows), passage ``i``'s from ``term_ptr[i]`` to ``term_ptr[i + 1]``; likewise its
        sentence starts in ``starts`` by ``sent_ptr``."""
        self.source_id = source_id
        self._bounds, self._tokens, self._terms = bounds, tokens, terms
        self._term_ptr, self._sent_ptr, self._starts = term_ptr, sent_ptr, starts

    def __len__(self) -> int:
        return len(self._bounds)

    def _at(self, i: int) -> Passage:
        a, b = int(self._term_ptr[i]), int(self._term_ptr[i + 1])
        c, d = int(self._sent_ptr[i]), int(self._sent_ptr[i + 1])
        start, end = self._bounds[i].tolist()
        return Passage(
            self.source_id,
            start,
            end,
            tuple(map(self._terms.__getitem__, self._tokens[a:b].tolist())),
            tuple(self._starts[c:d].tolist()),
        )

    def __iter__(self) -> Iterator[Passage]:
        terms = list(map(self._terms.__getitem__, self._tokens.tolist()))
        tp, sp, starts = self._term_ptr.tolist(), self._sent_ptr.tolist(), self._starts.tolist()
        for j, (start, end) in enumerate(self._bounds.tolist()):
            yield Passage(
                self.source_id,
                start,
                end,
                tuple(terms[tp[j] : tp[j + 1]]),
                tuple(starts[sp[j] : sp[j + 1]]),
            )


class PassageList(LazyPassages):
    """Passages in index order (each source's, source after source), with their terms as
    arrays too, so an index is built without a pass over every term in Python: ``tokens``
    (each passage's terms, in order, as ids into ``vocabulary``, all passages one after the
    other) and ``lengths`` (terms per passage). Compares equal to a list of the same
    passages."""

    tokens: np.ndarray
    lengths: np.ndarray
    vocabulary: list[str]

    def __init__(
        self, parts: Sequence[Sequence[Passage]] = (), source_ids: Sequence[str] = ()
    ) -> None:
        """``parts``: each source's passages, in order (ids: ``source_ids``)."""
        self.parts = list(parts)
        self.source_ids = list(source_ids)
        self._ends = np.cumsum([len(part) for part in self.parts], dtype=np.int64).tolist()

    def __len__(self) -> int:
        return self._ends[-1] if self._ends else 0

    def _at(self, j: int) -> Passage:
        part = bisect.bisect_right(self._ends, j)
        return self.parts[part][j - (self._ends[part - 1] if part else 0)]

    def __iter__(self) -> Iterator[Passage]:
        return itertools.chain.from_iterable(self.parts)

    def by_source(self) -> dict[str, Sequence[Passage]]:
        """Each source's passages, in order, by source id."""
        return dict(zip(self.source_ids, self.parts, strict=True))


@dataclass(frozen=True)
class _Entry:
    """One source's passages in memory, and their terms as vocabulary ids."""

    key: str
    passages: Sequence[Passage]
    tokens: np.ndarray
    lengths: np.ndarray


def _concatenate(arrays: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


class ArrayFiles:
    """The disk side of a per-source cache: one ``<source id>.npz`` per source holding plain
    arrays and the key they were made under (``np.load(allow_pickle=False)``). A file whose key
    differs, or that cannot be read or unpacked, counts as absent; writes are atomic; files of
    sources no longer in the corpus are pruned."""

    def __init__(self, directory: Path | None, what: str) -> None:
        self.directory = directory
        self.what = what  # for log lines: "passage cache", "vector cache"

    def _path(self, source_id: str, part: int | None = None) -> Path | None:
        if self.directory is None or not ID_PATTERN.fullmatch(source_id):
            return None
        suffix = "" if part is None else f".part{part}"
        return self.directory / f"{source_id}{suffix}.npz"

    def read(
        self, source_id: str, key: str, unpack: Callable[[Any], T], part: int | None = None
    ) -> T | None:
        """``unpack(arrays)`` of the file made under ``key``, or None. The arrays are views of
        a read-only memory map of the file (see ``map_arrays``): ``unpack`` copies what it
        keeps. ``part``: one of the checkpoints a long computation for the source wrote
        (``write(..., part=n)``)."""
        path = self._path(source_id, part)
        if path is None or not path.is_file():
            return None
        try:
            data = map_arrays(path)
            if str(data["key"][()]) != key:
                return None
            return unpack(data)
        except Exception as exc:  # any damage means: not cached
            log.warning("ignored unreadable %s %s: %s", self.what, path, exc)
            return None

    def write(
        self, source_id: str, key: str, arrays: dict[str, np.ndarray], part: int | None = None
    ) -> None:
        path = self._path(source_id, part)
        if path is None:
            return
        buffer = io.BytesIO()
        np.savez(buffer, key=np.array(key), **arrays)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, buffer.getvalue())
        except OSError as exc:  # a read-only state dir only costs speed
            log.warning("cannot write %s %s: %s", self.what, path, exc)

    def drop_parts(self, source_id: str) -> None:
        """Delete the source's checkpoints (its whole file is written)."""
        if self.directory is not None and ID_PATTERN.fullmatch(source_id):
            for path in self.directory.glob(f"{source_id}.part*.npz"):
                path.unlink(missing_ok=True)

    def prune(self, keep: Iterable[str]) -> None:
        if self.directory is None or not self.directory.is_dir():
            return
        wanted = {f"{source_id}.npz" for source_id in keep}
        for path in self.directory.glob("*.npz"):
            if path.name not in wanted:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:  # a read-only state dir: a stale file only costs disk
                    log.warning("cannot remove %s %s: %s", self.what, path, exc)


# The largest cache file read (a source is at most 10 MB of text; its vectors ~ 40 MB).
MAX_FILE_BYTES = 1 << 31


def map_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed ``.npz`` file (what ``np.savez`` writes), as read-only
    views of one memory map of the file, nothing read before it is checked: every member must
    be stored (not deflated: a small file cannot expand into gigabytes), be a ``.npy`` of a
    plain dtype (no objects, so no pickle) and C order, and its declared shape times item size
    must be exactly the member's size, which must lie inside the file. ValueError otherwise."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if not 0 < size <= MAX_FILE_BYTES:
            raise ValueError(f"size {size}")
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    out: dict[str, np.ndarray] = {}
    for info in members:
        name = info.filename
        if not name.endswith(".npy") or info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"member {name!r} is not a stored .npy")
        local = info.header_offset
        if local + 30 > size or mapped[local : local + 4] != b"PK\x03\x04":
            raise ValueError(f"member {name!r}: bad local header")
        name_len, extra_len = struct.unpack("<HH", mapped[local + 26 : local + 30])
        start = local + 30 + name_len + extra_len
        end = start + info.file_size
        if info.compress_size != info.file_size or end > size:
            raise ValueError(f"member {name!r} runs past the file")
        head = mapped[start : min(end, start + 65536)]
        parsed = plain_npy_header(head)
        if parsed is None:  # not what np.savez writes for plain arrays: numpy's own reader
            parsed = _npy_header(name, head)
        shape, fortran, dtype, header_size = parsed
        if dtype.hasobject or fortran:
            raise ValueError(f"member {name!r}: object dtype or Fortran order")
        offset = start + header_size
        if offset + math.prod(shape) * dtype.itemsize != end:
            raise ValueError(f"member {name!r}: declared shape {shape} does not fit its size")
        out[name[:-4]] = np.ndarray(shape, dtype, buffer=mapped, offset=offset)
    return out


# The header np.save writes (format 1.0) for a C-order array of a plain dtype, exactly: the
# common case, read without numpy's general parser (``ast.literal_eval`` on every header: ~3 s
# of a restart over 10k cache files). Anything else goes to numpy's reader and its checks.
_PLAIN_HEADER = re.compile(
    rb"\{'descr': '([<>|][biuf][1-8]|<U[1-9][0-9]{0,5})', 'fortran_order': False, "
    rb"'shape': \(((?:[0-9]{1,12}, )*[0-9]{1,12},?|)\), \} *\n"
)


def plain_npy_header(head: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    """(shape, Fortran order, dtype, header size) of a ``.npy`` whose header is the plain one
    ``_PLAIN_HEADER`` matches; None for any other (numpy's reader then decides)."""
    if head[:8] != b"\x93NUMPY\x01\x00" or len(head) < 10:
        return None
    size = 10 + int.from_bytes(head[8:10], "little")
    found = _PLAIN_HEADER.fullmatch(head[10:size]) if size <= len(head) else None
    if found is None:
        return None
    dims = found[2].rstrip(b",").split(b", ") if found[2] else []
    return tuple(int(d) for d in dims), False, np.dtype(found[1].decode("ascii")), size


def _npy_header(name: str, head: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    header = io.BytesIO(head)
    version = np.lib.format.read_magic(header)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(header)
    else:
        raise ValueError(f"member {name!r}: npy version {version}")
    return shape, fortran, dtype, header.tell()


def valid_offsets(ptr: np.ndarray, total: int) -> bool:
    """``ptr`` is a CSR pointer array over ``total`` items: integers from 0 to ``total``,
    never decreasing."""
    return (
        ptr.ndim == 1
        and np.issubdtype(ptr.dtype, np.integer)
        and len(ptr) > 0
        and ptr[0] == 0
        and ptr[-1] == total
        and bool(np.all(np.diff(ptr) >= 0))
    )


def within(values: np.ndarray, low: int, high: int) -> bool:
    """Integers, all in [low, high) (an empty array is)."""
    return np.issubdtype(values.dtype, np.integer) and (
        values.size == 0 or (int(values.min()) >= low and int(values.max()) < high)
    )


def _pack(passages: list[Passage]) -> dict[str, np.ndarray]:
    vocab: dict[str, int] = {}
    ids = [vocab.setdefault(t, len(vocab)) for p in passages for t in p.terms]
    return {
        "bounds": np.array([(p.start, p.end) for p in passages], dtype=np.int64).reshape(-1, 2),
        "term_ptr": np.cumsum([0, *(len(p.terms) for p in passages)], dtype=np.int64),
        "term_ids": np.array(ids, dtype=np.int32),
        "vocab": np.array(list(vocab), dtype=str),
        "sent_ptr": np.cumsum([0, *(len(p.sentence_starts) for p in passages)], dtype=np.int64),
        "sent_starts": np.array([s for p in passages for s in p.sentence_starts], dtype=np.int64),
    }


def _unpack(
    source: Source, vocabulary: Vocabulary, data
) -> tuple[SourcePassages, np.ndarray, np.ndarray]:
    """A source's passages (their arrays checked and copied out of the file), their terms
    as ids into ``vocabulary``, and their term counts."""
    bounds, term_ptr, term_ids = data["bounds"], data["term_ptr"], data["term_ids"]
    sent_ptr, sent_starts = data["sent_ptr"], data["sent_starts"]
    vocab_array = data["vocab"]
    n = len(bounds)
    if (
        bounds.ndim != 2
        or bounds.shape[1] != 2
        or vocab_array.ndim != 1
        or vocab_array.dtype.kind != "U"
        or len(term_ptr) != n + 1
        or len(sent_ptr) != n + 1
        or not valid_offsets(term_ptr, len(term_ids))
        or not valid_offsets(sent_ptr, len(sent_starts))
        or not within(bounds, 0, len(source.text) + 1)
        or (n and bool(np.any(bounds[:, 0] >= bounds[:, 1])))
        or not within(sent_starts, 0, len(source.text) + 1)
        or not within(term_ids, 0, len(vocab_array))
    ):
        raise ValueError("inconsistent arrays")
    tokens = vocabulary.ids(vocab_array.tolist())[term_ids]
    term_ptr = np.array(term_ptr, np.int64)
    passages = SourcePassages(
        source.id,
        np.array(bounds, np.int64),
        tokens,
        term_ptr,
        np.array(sent_ptr, np.int64),
        np.array(sent_starts, np.int64),
        vocabulary.terms,
    )
    return passages, tokens, np.diff(term_ptr).astype(np.int32)
