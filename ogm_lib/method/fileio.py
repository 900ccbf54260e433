"""Atomic file writes: a reader (or a rerun after a crash) never sees half a file.

Every file this project writes and later trusts (result JSONs, checkpoints, fetched recordings, the
avdigits cache, prepared clips and stores) goes through `atomic_write`: the content is written to a
temporary file in the same folder, made world-readable, then renamed over the target in one step.

A file that is there but cannot be trusted (truncated, not what its name says) raises `DamagedFileError`,
which names it; `set_aside` renames it to `<name>.damaged` (kept for inspection, never read again).
`check_writable` tells, before any work, whether a folder can take the files a run will write.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Call `write(file)` on a temporary file next to `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; data files are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


class DamagedFileError(ValueError):
    """A file this project wrote (a result, a checkpoint) that is unreadable or not what its name says."""

    def __init__(self, path: str | os.PathLike, problem: str, fix: str = ""):
        self.path, self.problem, self.fix = Path(path), problem, fix
        super().__init__(f"damaged file {self.path}: {problem}" + (f"; {fix}" if fix else ""))


def set_aside(path: str | os.PathLike) -> Path:
    """Rename a damaged file to `<name>.damaged` (`<name>.damaged-<time>` if that exists) and return the
    new path; it is kept for inspection and never read again."""
    path = Path(path)
    target = path.with_name(path.name + ".damaged")
    if target.exists():
        target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    os.replace(path, target)
    return target


def check_folder(path: str | os.PathLike, what: str) -> Path:
    """`path` as a Path, refused (NotADirectoryError naming it) when something that is not a folder is there
    (a file given where a folder is meant)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} {path} is a file, not a folder")
    return path


def check_writable(folder: str | os.PathLike, what: str = "folder") -> Path:
    """Create `folder` if needed and prove that a file can be written in it (a temporary file, removed);
    otherwise a PermissionError (or the OSError met) naming the folder. Returns the folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".write-test.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise PermissionError(f"the {what} {folder} cannot be written ({reason})") from None
    return folder
