"""The corpus on disk: one human-readable file per source.

A source file is TOML front matter between ``+++`` lines, then the source text exactly as stored::

    +++
    id = "seed-story"
    title = "..."
    kind = "story"
    +++
    The text...

Excerpts are slices of that text, so it is never rewritten once stored. Files are written
atomically (temp file, fsync, rename), so a crash mid-write leaves the corpus as it was.
A removed source is moved to ``.trash/`` inside the corpus directory and can be restored.

Links found in a source (e.g. the outbound links of a web article) are kept in the header as a
list of tables::

    links = [
        { text = "the published minutes", url = "https://example.org/minutes" },
    ]
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import tomli_w

from bot.config import MAX_SOURCE_BYTES
from bot.files import (
    FileTooLarge,
    NotRegularFile,
    StillLocked,
    atomic_write,
    fsync_dir,
    locked_directory,
    read_regular_file,
)
from bot.sources.decoding import NUL_PROBLEM, text_problem

FENCE = "+++"
SOURCE_SUFFIX = ".txt"
KINDS = ("story", "source")
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
REQUIRED_FIELDS = ("id", "title", "kind")
OPTIONAL_FIELDS = ("publisher", "url", "published", "added_by", "added_at")
TRASH_DIR = ".trash"
# How long a change waits for another process's change to the same corpus.
LOCK_TIMEOUT_SECONDS = 60.0
# New ids are cut at a word boundary to at most this many characters: short enough to type, and
# to show whole in an 80-column table.
NEW_ID_LENGTH = 40
BOM = "\ufeff"


class CorpusError(ValueError):
    """A corpus file or a corpus change is not valid."""


@dataclass(frozen=True)
class Link:
    """A link found in a source: its anchor text and absolute URL."""

    text: str
    url: str


@dataclass(frozen=True)
class Source:
    id: str
    title: str
    text: str
    kind: str = "source"
    publisher: str = ""
    url: str = ""
    published: str = ""
    added_by: str = ""
    added_at: str = ""
    links: tuple[Link, ...] = ()
    # Anything else in the header is kept, so a newer storybot's fields survive a round trip.
    extra: dict = field(default_factory=dict, compare=False)

    def header(self) -> dict:
        head = {"id": self.id, "title": self.title}
        for name in ("publisher", "url", "published", "kind", "added_by", "added_at"):
            head[name] = getattr(self, name)
        head.update(self.extra)
        if self.links:
            head["links"] = [{"text": link.text, "url": link.url} for link in self.links]
        return head


@dataclass(frozen=True)
class CorpusLoad:
    """The sources that loaded, and one message per file that did not."""

    sources: list[Source]
    errors: list[str]


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def publication_date(text: str, today: date | None = None) -> str:
    """A moderator's publication date: "" or a real date written YYYY-MM-DD, not after tomorrow
    (UTC; a moderator east of UTC may already be on the next day); ValueError with the message
    otherwise ("last tuesday" was once stored as written, and "2999-01-01" accepted)."""
    text = text.strip()
    if not text:
        return ""
    if _DATE.fullmatch(text):
        try:
            when = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            pass
        else:
            if when > (today or datetime.now(UTC).date()) + timedelta(days=1):
                raise ValueError(f"the publication date {text} is in the future")
            return text
    raise ValueError(f"the publication date must be a date like 2020-09-10, not {text!r}")


def is_iso_date(value: str) -> bool:
    """A stored publication date: ``2020-09-10`` or an ISO 8601 date and time (what pages and
    feeds give; a moderator's own date must be a plain date: ``publication_date``)."""
    try:
        if len(value) == 10:
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def serialize(source: Source) -> str:
    return f"{FENCE}\n{tomli_w.dumps(source.header())}{FENCE}\n{source.text}"


def parse(content: str, name: str = "<source>") -> Source:
    """Parse one source file's content; raise CorpusError naming ``name`` on any problem."""
    if not content.startswith(FENCE + "\n") and not content.startswith(FENCE + "\r\n"):
        raise CorpusError(f"{name}: does not start with a '+++' metadata header")
    first_break = content.index("\n") + 1
    match = re.compile(r"^\+\+\+\r?\n", re.MULTILINE).search(content, first_break)
    if match is None:
        raise CorpusError(f"{name}: the metadata header has no closing '+++' line")
    try:
        header = tomllib.loads(content[first_break : match.start()])
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{name}: the metadata header is not valid TOML ({exc})") from exc
    return source_from_header(header, content[match.end() :], name)


def source_from_header(header: dict, text: str, name: str = "<source>") -> Source:
    missing = [
        f
        for f in REQUIRED_FIELDS
        if not header.get(f) or (isinstance(header[f], str) and not header[f].strip())
    ]
    if missing:
        raise CorpusError(f"{name}: missing required field(s): {', '.join(missing)}")
    for key in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS):
        if key in header and not isinstance(header[key], str):
            raise CorpusError(f"{name}: field '{key}' must be a string")
    if not ID_PATTERN.match(header["id"]):
        raise CorpusError(
            f"{name}: id {header['id']!r} must be lowercase letters, digits and dashes"
        )
    if header["kind"] not in KINDS:
        raise CorpusError(f"{name}: kind must be one of {', '.join(KINDS)}")
    known = {*REQUIRED_FIELDS, *OPTIONAL_FIELDS}
    return Source(
        text=text,
        links=_links(header.get("links", []), name),
        extra={k: v for k, v in header.items() if k not in known and k != "links"},
        **{k: header[k] for k in known if k in header},
    )


def _links(value, name: str) -> tuple[Link, ...]:
    if not isinstance(value, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("url"), str)
        and isinstance(item.get("text", ""), str)
        for item in value
    ):
        raise CorpusError(f"{name}: 'links' must be a list of tables with text and url strings")
    return tuple(Link(item.get("text", ""), item["url"]) for item in value)


def read_source(path: Path, max_bytes: int = MAX_SOURCE_BYTES) -> Source:
    return read_source_named(path, path.stem, max_bytes)


def read_source_named(path: Path, expected_id: str, max_bytes: int = MAX_SOURCE_BYTES) -> Source:
    """Read a source file whose id must be ``expected_id``; refuse anything that is not a
    regular, readable, UTF-8 text file of at most ``max_bytes`` with a message naming it.
    The text must pass ``decoding.text_problem``, the rule every add passes too."""
    try:
        # Not a directory, FIFO or device: reading /dev/zero or a pipe would never end.
        raw = read_regular_file(path, max_bytes)
    except NotRegularFile as exc:
        raise CorpusError(f"{path.name}: is not a regular file") from exc
    except FileTooLarge as exc:
        raise CorpusError(_too_big(path.name, exc.size, max_bytes)) from exc
    except OSError as exc:
        raise CorpusError(f"{path.name}: cannot be read ({exc.strerror})") from exc
    if not raw.strip():
        raise CorpusError(f"{path.name}: is empty")
    if b"\x00" in raw:  # before decoding: a binary file is "binary", not "not UTF-8"
        raise CorpusError(f"{path.name}: {NUL_PROBLEM}")
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path.name}: is not valid UTF-8 (byte {exc.start})") from exc
    # A byte order mark (Windows editors add one) is not part of the header.
    source = parse(content.removeprefix(BOM), path.name)
    if source.id != expected_id:
        raise CorpusError(f"{path.name}: id {source.id!r} does not match the file name")
    if not source.text.strip():
        raise CorpusError(f"{path.name}: has no text after the metadata header")
    problem = text_problem(source.text)
    if problem:
        raise CorpusError(f"{path.name}: the text {problem}")
    return source


def _too_big(name: str, size: int, limit: int) -> str:
    return (
        f"{name}: is {size / 1e6:.1f} MB; sources are limited to {limit / 1e6:g} MB "
        "([corpus] max_source_bytes)"
    )


def _file_signature(path: Path) -> tuple[int, ...] | None:
    """What changes when a file is replaced or written to (None: it cannot be stat'ed)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class Corpus:
    """A directory of source files."""

    def __init__(self, directory: Path, max_source_bytes: int = MAX_SOURCE_BYTES) -> None:
        self.directory = Path(directory)
        self.max_source_bytes = max_source_bytes
        # File name -> (what stat said when it was read, the source read): a reload re-reads
        # only files that changed (a new inode, size, or modification or change time).
        self._read: dict[str, tuple[tuple[int, ...], Source]] = {}

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Held by every storybot process while it changes this corpus (a lock on the
        directory itself; released when the holder dies). CorpusError if another process
        holds it for more than LOCK_TIMEOUT_SECONDS."""
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            with locked_directory(self.directory, LOCK_TIMEOUT_SECONDS):
                yield
        except StillLocked as exc:
            raise CorpusError("another process is changing the corpus; try again") from exc

    def path_for(self, source_id: str) -> Path:
        return self.directory / f"{source_id}{SOURCE_SUFFIX}"

    def load(self) -> CorpusLoad:
        """Load every source; a bad file is reported by name and the others still load."""
        sources: list[Source] = []
        errors: list[str] = []
        if not self.directory.is_dir():
            return CorpusLoad([], [f"corpus directory not found: {self.directory}"])
        known, read = self._read, {}
        for path in sorted(self.directory.glob(f"*{SOURCE_SUFFIX}")):
            signature = _file_signature(path)
            seen = known.get(path.name)
            if signature is not None and seen is not None and seen[0] == signature:
                source = seen[1]
            else:
                try:
                    source = read_source(path, self.max_source_bytes)
                except CorpusError as exc:
                    errors.append(str(exc))
                    continue
            sources.append(source)
            if signature is not None:
                read[path.name] = (signature, source)
        self._read = read  # one assignment: a concurrent load sees the old or the new
        return CorpusLoad(sources, errors)

    def ids(self) -> set[str]:
        return {p.stem for p in self.directory.glob(f"*{SOURCE_SUFFIX}")}

    def write(self, source: Source, *, overwrite: bool = False) -> Path:
        """Store ``source`` atomically; refuse to replace an existing id unless asked."""
        path = self.path_for(source.id)
        if path.exists() and not overwrite:
            raise CorpusError(f"a source with id {source.id!r} already exists")
        # Validate what we are about to write by parsing it back.
        content = serialize(source)
        parse(content, path.name)
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from a non-UTF-8 argv
            raise CorpusError(
                f"{path.name}: the title or text holds characters that are not valid text"
            ) from exc
        if len(data) > self.max_source_bytes:
            raise CorpusError(_too_big(path.name, len(data), self.max_source_bytes))
        problem = text_problem(source.text)  # what would not load is never written
        if problem:
            raise CorpusError(f"{path.name}: the text {problem}")
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            # Without overwrite, the final step cannot replace a file another process (the
            # CLI next to the running bot) created since the check above.
            atomic_write(path, data, replace=overwrite)
        except FileExistsError as exc:
            raise CorpusError(f"a source with id {source.id!r} already exists") from exc
        return path

    @property
    def trash(self) -> Path:
        return self.directory / TRASH_DIR

    def find(self, name: str) -> tuple[Path, Source]:
        """The corpus file ``name`` means (a source id, or a file name as a load error shows
        it) and the source it holds. A file that does not load is found all the same, with a
        stand-in source (id: the file name's stem, title: why it does not load, no text), so
        that it can be removed."""
        path = self._named(name)
        if path is None:
            removed = (
                " (it was removed; restore it to bring it back)" if name in self.trashed() else ""
            )
            raise CorpusError(f"no source with id {name!r}{removed}")
        try:
            return path, read_source(path, self.max_source_bytes)
        except CorpusError as exc:
            return path, Source(id=path.stem, title=str(exc), text="")

    def _named(self, name: str) -> Path | None:
        if ID_PATTERN.fullmatch(name):
            candidates = [self.path_for(name)]
        elif "/" in name or "\x00" in name or name.startswith("."):
            return None  # only files right in the corpus directory, never hidden ones
        else:
            candidates = [self.directory / name, self.directory / f"{name}{SOURCE_SUFFIX}"]
        for path in candidates:
            # lexists: a dangling symlink is a file in the folder too.
            if path.name.endswith(SOURCE_SUFFIX) and os.path.lexists(path):
                return path
        return None

    def remove(self, name: str) -> Source:
        """Move a source's file (or any ``*.txt`` file of the corpus folder, even one that
        does not load; see :meth:`find`) to the trash, atomically; return what it held."""
        path, source = self.find(name)
        self.move_to_trash(path)
        return source

    def move_to_trash(self, path: Path) -> Path:
        """Rename ``path`` into the trash (never reading it); returns the new path."""
        self.trash.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.trash / f"{path.stem}.{stamp}{SOURCE_SUFFIX}"
        os.replace(path, target)
        fsync_dir(self.trash)
        fsync_dir(self.directory)
        return target

    def trashed(self) -> dict[str, Path]:
        """The newest trashed file of each removed source id."""
        found: dict[str, Path] = {}
        for path in sorted(self.trash.glob(f"*{SOURCE_SUFFIX}")):
            found[path.name.split(".", 1)[0]] = path  # names sort by time
        return found

    def restorable(self, source_id: str) -> tuple[Path, Source]:
        """The newest trashed file of ``source_id`` and the source it holds (a stand-in, as
        in :meth:`find`, for a removed file that does not load: it goes back as it was)."""
        trashed = self.trashed().get(source_id)
        if trashed is None:
            raise CorpusError(f"no removed source with id {source_id!r} to restore")
        try:
            return trashed, read_source_named(trashed, source_id, self.max_source_bytes)
        except CorpusError as exc:
            return trashed, Source(id=source_id, title=str(exc), text="")

    def restore(self, source_id: str) -> Source:
        """Bring back the most recently removed source with this id."""
        trashed, source = self.restorable(source_id)
        path = self.path_for(source_id)
        taken = CorpusError(f"a source with id {source_id!r} exists; remove it first")
        try:
            os.link(trashed, path)  # fails instead of replacing a source added meanwhile
        except FileExistsError as exc:
            raise taken from exc
        except OSError:  # no hard links on this file system
            if path.exists():
                raise taken from None
            os.replace(trashed, path)
        trashed.unlink(missing_ok=True)
        fsync_dir(self.directory)
        fsync_dir(self.trash)
        return source

    def new_id(self, title: str, taken: Iterable[str] = ()) -> str:
        """A readable, unused id made from a title: 'netflix-defends-cuties', '...-2'."""
        taken = set(taken) | self.ids()
        words = re.findall(r"[a-z0-9]+", _ascii(title).lower())
        base = ""
        for word in words:  # whole words only: no "...-600-000-signat"
            longer = f"{base}-{word}" if base else word
            if len(longer) > NEW_ID_LENGTH:
                break
            base = longer
        base = base or (words[0][:NEW_ID_LENGTH] if words else "source")
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        return candidate


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
