"""Writing files so that a crash never leaves half of one: the one atomic-write helper.

Every file storybot writes (corpus sources, passage caches, reports) goes through
:func:`atomic_write`: a temp file in the same directory, fsync, rename, fsync of the directory.
A process killed half-way leaves the old file (or none) and a ``.<name>.<random>.tmp`` that
:func:`remove_stale_temp_files` deletes at the next start.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

# A temp file of an interrupted write older than this is removed at start; a younger one may
# belong to a write in progress in another process.
STALE_TEMP_SECONDS = 60.0


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _current_umask()  # read once, at import, before any thread could race on it


def atomic_write(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write to a temp file in the same directory, fsync, then rename over ``path``.

    The file gets the mode a plain write would (mkstemp's are 0600). With ``replace=False`` an
    existing ``path`` is never replaced: FileExistsError instead (the temp file is hard-linked
    into place, which fails atomically if the name is taken)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o666 & ~UMASK)
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
