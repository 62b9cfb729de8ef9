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

import hashlib
import io
import logging
import math
import sys
import zipfile
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

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
        self._memory: dict[str, tuple[str, list[Passage]]] = {}
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
        return digest.hexdigest()

    def last_keys(self) -> dict[str, str]:
        """The key of each source of the last ``passages`` call (already computed: hashing
        every text again costs a pass over the whole corpus)."""
        return {source_id: key for source_id, (key, _) in self._memory.items()}

    def passages(self, sources: Iterable[Source]) -> list[Passage]:
        """All passages of ``sources``, in order; only sources not cached are processed."""
        memory: dict[str, tuple[str, list[Passage]]] = {}
        out: list[Passage] = []
        for source in sources:
            key = self.key(source)
            known = self._memory.get(source.id)
            if known is not None and known[0] == key:
                found = known[1]
            else:
                found = self._files.read(source.id, key, partial(_unpack, source))
                if found is None:
                    found = split(source, self.analyzer, self.window)
                    self.processed += 1
                    self._files.write(source.id, key, _pack(found))
            memory[source.id] = (key, found)
            out.extend(found)
        self._memory = memory
        self._files.prune(memory.keys())
        return out


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
        """``unpack(arrays)`` of the file made under ``key``, or None. ``part``: one of the
        checkpoints a long computation for the source wrote (``write(..., part=n)``)."""
        path = self._path(source_id, part)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                _check_sizes(data, path.stat().st_size)
                if str(data["key"]) != key:
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
                path.unlink(missing_ok=True)


def _check_sizes(data: np.lib.npyio.NpzFile, file_size: int) -> None:
    """Refuse, before reading any array, a file that is not what ``write`` makes: every member
    stored (``np.savez`` never compresses, so a small file cannot inflate to gigabytes), no
    larger than the file itself, and holding no more than the array its header declares
    (numpy allocates the declared size before reading)."""
    for info in data.zip.infolist():
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > file_size:
            raise ValueError(f"{info.filename}: compressed or larger than the file")
        with data.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        if math.prod(shape) * dtype.itemsize > info.file_size:
            raise ValueError(f"{info.filename}: declares more than the file holds")


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


def _unpack(source: Source, data) -> list[Passage]:
    bounds, term_ptr, term_ids = data["bounds"], data["term_ptr"], data["term_ids"]
    sent_ptr, sent_starts = data["sent_ptr"], data["sent_starts"]
    vocab = [sys.intern(v) for v in data["vocab"].tolist()]
    n = len(bounds)
    if (
        bounds.ndim != 2
        or bounds.shape[1] != 2
        or len(term_ptr) != n + 1
        or len(sent_ptr) != n + 1
        or not valid_offsets(term_ptr, len(term_ids))
        or not valid_offsets(sent_ptr, len(sent_starts))
        or not within(bounds, 0, len(source.text) + 1)
        or (n and bool(np.any(bounds[:, 0] >= bounds[:, 1])))
        or not within(sent_starts, 0, len(source.text) + 1)
        or not within(term_ids, 0, len(vocab))
    ):
        raise ValueError("inconsistent arrays")
    terms = [vocab[i] for i in term_ids.tolist()]
    tp, sp, starts = term_ptr.tolist(), sent_ptr.tolist(), sent_starts.tolist()
    return [
        Passage(
            source.id,
            start,
            end,
            tuple(terms[tp[j] : tp[j + 1]]),
            tuple(starts[sp[j] : sp[j + 1]]),
        )
        for j, (start, end) in enumerate(bounds.tolist())
    ]
