"""Writing files so that a crash never leaves half of one: the one atomic-write helper.

Every file storybot writes (corpus sources, passage caches, reports) goes through
:func:`atomic_write`: a temp file in the same directory, fsync, rename, fsync of the directory.
A process killed half-way leaves the old file (or none) and a ``.<name>.<random>.tmp`` that
:func:`remove_stale_temp_files` deletes at the next start. It never replaces what is not a
regular file (a symlink, a directory, a device): a report written "onto" a symlink must not
silently swap the link for a file.

Every file storybot reads on someone's say-so (corpus files, ``sources add --file``) goes
through :func:`read_regular_file`: regular files only, checked on the opened file, and never
read past the size limit, so a FIFO cannot hang a command and ``/dev/zero`` cannot fill memory.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# A temp file of an interrupted write older than this is removed at start; a younger one may
# belong to a write in progress in another process.
STALE_TEMP_SECONDS = 60.0


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _current_umask()  # read once, at import, before any thread could race on it
READ_CHUNK = 1024 * 1024


class NotRegularFile(OSError):
    """A path that is a directory, FIFO, device or (when writing) symlink, not a plain file."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(errno.EINVAL, "not a regular file", str(path))


class FileTooLarge(OSError):
    """A file over the size limit; ``size`` is what was seen (at least limit + 1)."""

    def __init__(self, path: Path | str, size: int) -> None:
        super().__init__(errno.EFBIG, "file too large", str(path))
        self.size = size


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file (symlinks followed) of at most
    ``max_bytes``; NotRegularFile, FileTooLarge or another OSError if not.

    Opened without blocking (opening a FIFO would wait for a writer) and checked on the open
    file, so nothing can be swapped in between; the size is checked while reading too, since
    a file can grow after its size was read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(path)
        if info.st_size > max_bytes:
            raise FileTooLarge(path, info.st_size)
        data = bytearray()
        while chunk := os.read(fd, min(READ_CHUNK, max_bytes + 1 - len(data))):
            data += chunk
            if len(data) > max_bytes:
                raise FileTooLarge(path, len(data))
        return bytes(data)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, replace: bool = True, private: bool = False) -> None:
    """Write to a temp file in the same directory, fsync, then rename over ``path``.

    The file gets the mode a plain write would (mkstemp's are 0600), or 0600 with ``private``
    (secrets). Readers never see it half-written. With ``replace=False`` an
    existing ``path`` is never replaced: FileExistsError instead (the temp file is hard-linked
    into place, which fails atomically if the name is taken). An existing ``path`` that is not
    a regular file (symlink, directory, FIFO, device) is never replaced: NotRegularFile."""
    path = Path(path)
    if replace:
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                raise NotRegularFile(path)
        except FileNotFoundError:
            pass
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600 if private else 0o666 & ~UMASK)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _link_new(tmp: str, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system: check, then rename
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)
    else:
        Path(tmp).unlink()


class StillLocked(TimeoutError):
    """Another process held the directory lock for longer than the timeout."""


@contextmanager
def locked_directory(directory: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive OS lock (``flock``) on ``directory`` itself: one holder at a time
    across all processes, released when the holder leaves or dies (a ``kill -9`` never leaves
    it held), and no lock file to litter the directory. StillLocked after ``timeout`` s."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        give_up = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > give_up:
                    raise StillLocked(f"{directory} stayed locked for {timeout:g} s") from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def remove_stale_temp_files(directory: Path, max_age: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Delete the temp files (``.<name>.<random>.tmp``) that writes killed half-way left in
    ``directory`` and that are older than ``max_age`` seconds; return what was deleted."""
    removed: list[Path] = []
    cutoff = time.time() - max_age
    try:
        candidates = list(Path(directory).glob(".*.tmp"))
    except OSError:
        return removed
    for path in candidates:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except OSError:  # gone meanwhile, or not ours to delete: leave it
            continue
    return removed


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (best effort: some file systems refuse)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def create_private(path: Path) -> None:
    """Create an empty file readable by its owner only (0600), in a directory made 0700 if
    missing, unless it exists (e.g. the state database: it holds what members asked; SQLite
    gives its -wal and -shm files the database file's permissions)."""
    if path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
