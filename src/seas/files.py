"""Atomic file and folder writes, so an interrupted run never leaves a half-written output."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seas.errors import SeasError, storage_error

__all__ = [
    "MARK",
    "append_line",
    "atomic_write_bytes",
    "atomic_write_dir",
    "atomic_write_json",
    "atomic_write_text",
    "check_replaceable",
    "is_leftover",
    "read_mark",
    "remove_leftovers",
    "write_mark",
]

# The ownership mark of a folder the tool wrote (see :mod:`seas.ownership`).
MARK = ".seas-owned.json"
# Temporary names carry this suffix, so a leftover of a killed writer is never confused with a user's file.
_TMP_SUFFIX = ".seas-tmp"


def append_line(path: Path, line: str) -> None:
    """Append ``line`` and a newline to ``path``, on disk before returning (a journal's write).

    A last line cut by a kill is ended first, so the new line never joins it; readers skip the torn one.
    """
    with path.open("a+b") as handle:
        torn = False
        if handle.seek(0, os.SEEK_END) > 0:
            handle.seek(-1, os.SEEK_END)
            torn = handle.read(1) != b"\n"
        handle.write((("\n" if torn else "") + line + "\n").encode())
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        _raise_storage_error(path, exc)
        raise
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        _raise_storage_error(path, exc)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:  # Any: any JSON-serialisable value
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_mark(folder: Path, kind: str, files: list[str] | None = None) -> None:
    """Mark ``folder`` as the tool's own ``kind`` output, listing the ``files`` it wrote there (relative paths)."""
    record: dict[str, Any] = {"kind": kind}
    if files is not None:
        record["files"] = sorted(files)
    atomic_write_json(folder / MARK, record)


def read_mark(folder: Path) -> dict[str, Any] | None:  # Any: JSON
    """The ownership mark of ``folder``, or None when it has none.

    Raises:
        RecordError: The mark is damaged.
    """
    from seas.records import read_json

    path = folder / MARK
    if not path.is_file():
        return None
    fix = f"delete {path} if seas wrote this folder (or the folder if it holds nothing of yours), then rerun"
    return read_json(path, fix, lambda v: dict(v))


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def check_replaceable(path: Path, kind: str) -> None:
    """Refuse, before any work, a ``path`` that :func:`atomic_write_dir` could not replace (absent: fine).

    Raises:
        OwnershipError: ``path`` is not the tool's own ``kind`` folder, or holds other files.
    """
    from seas.ownership import OwnershipError, foreign_files

    if path.exists() or path.is_symlink():
        problem, _ = foreign_files(path, kind)
        if problem is not None:
            fix = "move it away (or your files out of it) and rerun"
            raise OwnershipError(path, f"{problem}, so seas will not replace it", fix)


def atomic_write_dir(path: Path, fill: Callable[[Path], None], kind: str) -> None:
    """Create folder ``path`` atomically: ``fill`` writes into a temporary sibling that is then renamed.

    The new folder carries the tool's mark of ``kind`` listing what ``fill`` wrote. An existing
    ``path`` is replaced only when it is the tool's own folder of the same ``kind`` holding nothing
    else (checked before ``fill`` runs), and only after the new content is complete.

    Args:
        path: Final folder.
        fill: Called with the temporary folder; writes everything the folder should hold.
        kind: What the folder is (``unet``, ``checkpoint``, ``anomalib-export``, ...).

    Raises:
        OwnershipError: ``path`` exists and is not the tool's own ``kind`` folder, or holds other files.
    """
    check_replaceable(path, kind)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=path.parent))
    except OSError as exc:
        _raise_storage_error(path, exc)
        raise
    try:
        fill(tmp)
        write_mark(tmp, kind, _listing(tmp))
        if path.exists():
            old = path.with_name(f".{path.name}{_OLD_SUFFIX}")
            shutil.rmtree(old, ignore_errors=True)
            path.replace(old)
            tmp.replace(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.replace(path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _raise_storage_error(path, exc)
        raise


def _raise_storage_error(path: Path, exc: BaseException) -> None:
    """Re-raise a failed write of ``path`` as one line naming it (disk full, read-only, ...); else return."""
    if isinstance(exc, Exception) and not isinstance(exc, SeasError):  # an inner write's error already names its path
        error = storage_error(path, exc)
        if error is not None:
            raise error from exc


# What the writers above leave behind when a process dies mid-write: ``.<name>.<8 random chars>.seas-tmp``
# (mkstemp / mkdtemp) and ``.<name>.seas-old`` (a folder being replaced).
_OLD_SUFFIX = ".seas-old"
_LEFTOVER_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.seas-tmp$")
_LEFTOVER_OLD = re.compile(r"^\.(.+)\.seas-old$")


def is_leftover(name: str) -> bool:
    """Whether a file or folder name is one a killed writer of this module left behind."""
    return bool(_LEFTOVER_TMP.match(name) or _LEFTOVER_OLD.match(name))


def remove_leftovers(folder: Path) -> list[Path]:
    """Clean what killed writers left in ``folder`` (recursively); call only while holding its writer lock.

    Only names this module makes are touched (``*.seas-tmp``, ``.<name>.seas-old``), so a user's own
    ``.tmp`` files are never taken for leftovers. Temporary files and folders are removed. A
    ``.<name>.seas-old`` folder is removed when ``<name>`` exists,
    else renamed back to ``<name>`` (the writer died between moving the old content aside and moving
    the new content in: the old content is the last complete one). Returns the paths acted on.
    """
    acted: list[Path] = []
    if not folder.is_dir():
        return acted
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in sorted(dirs + files):
            path = base / name
            old = _LEFTOVER_OLD.match(name)
            if _LEFTOVER_TMP.match(name):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            elif old and path.is_dir():
                target = base / old.group(1)
                shutil.rmtree(path) if target.exists() else path.replace(target)
            else:
                continue
            acted.append(path)
            if name in dirs:
                dirs.remove(name)  # nothing to walk into any more
    return sorted(acted)
