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

__all__ = ["atomic_write_bytes", "atomic_write_dir", "atomic_write_json", "atomic_write_text", "remove_leftovers"]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def atomic_write_dir(path: Path, fill: Callable[[Path], None]) -> None:
    """Create folder ``path`` atomically: ``fill`` writes into a temporary sibling that is then renamed.

    An existing ``path`` is replaced only after the new content is complete.

    Args:
        path: Final folder.
        fill: Called with the temporary folder; writes everything the folder should hold.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        _raise_storage_error(path, exc)
        raise
    try:
        fill(tmp)
        if path.exists():
            old = path.with_name(f".{path.name}.old")
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


# What the writers above leave behind when a process dies mid-write: ``.<name>.<8 random chars>.tmp``
# (mkstemp / mkdtemp) and ``.<name>.old`` (a folder being replaced).
_LEFTOVER_TMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
_LEFTOVER_OLD = re.compile(r"^\.(.+)\.old$")


def remove_leftovers(folder: Path) -> list[Path]:
    """Clean what killed writers left in ``folder`` (recursively); call only while holding its writer lock.

    Temporary files and folders are removed. A ``.<name>.old`` folder is removed when ``<name>`` exists,
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
