"""Named errors for user-facing failures.

Every error a user can cause by their input derives from :class:`SeasError`; the CLI prints its
message as one line (``error: <path>: <what is wrong>; <how to fix>``) and exits with status 2.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import re
import shutil
from pathlib import Path

__all__ = [
    "ConfigError",
    "DatasetLayoutError",
    "InputFileError",
    "ModelLoadError",
    "SeasError",
    "StorageError",
    "flag",
    "storage_error",
]


class SeasError(Exception):
    """Base class of errors caused by user input (files, flags, models)."""


def flag(field_name: str) -> str:
    """The command-line spelling of a config field (``num_normals`` -> ``--num-normals``)."""
    return "--" + field_name.replace("_", "-")


def _compose(subject: str | Path | None, problem: str, fix: str | None) -> str:
    text = f"{subject}: {problem}" if subject is not None else problem
    return f"{text}; {fix}" if fix else text


class DatasetLayoutError(SeasError, ValueError):
    """A dataset folder does not have the expected layout (missing folder, mask, empty listing)."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))
        self.path = subject


class InputFileError(SeasError, ValueError):
    """One input file cannot be used (unreadable, truncated, wrong size)."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))
        self.path = subject


class ConfigError(SeasError, ValueError):
    """A configuration value or combination of values is invalid."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))


class ModelLoadError(SeasError, OSError):
    """Model weights or configs cannot be obtained (offline, wrong path, unsupported file)."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))


class StorageError(SeasError, OSError):
    """The operating system refused a read or write (disk full, read-only, permission, not a folder)."""

    def __init__(self, subject: str | Path | None, problem: str, fix: str | None = None) -> None:
        super().__init__(_compose(subject, problem, fix))
        self.path = subject


_RERUN = "finished work is kept: training resumes from its last checkpoint, generation skips finished pairs"
_BY_ERRNO = {
    errno.ENOSPC: ("no space left on device", f"free space and rerun ({_RERUN})"),
    errno.EDQUOT: ("disk quota exceeded", f"free space or raise the quota and rerun ({_RERUN})"),
    errno.EROFS: ("read-only file system", "choose a writable output folder"),
    errno.EACCES: ("permission denied", "choose a folder you may write to, or fix its permissions"),
    errno.EPERM: ("operation not permitted", "choose a folder you may write to, or fix its permissions"),
    errno.ENOTDIR: ("a part of this path is a file, not a folder", "choose another path"),
    errno.EEXIST: ("a file stands where a folder is needed", "choose another path or move the file"),
    errno.EISDIR: ("is a folder where a file was expected", "choose another path"),
    errno.ENOENT: ("no such file or folder", "check the path"),
}
# torch.save and safetensors report a failed write without an OSError: "... file write failed" /
# "IoError(Os { code: 28, ...".
_OS_CODE = re.compile(r"os error (\d+)|code: (\d+)", re.IGNORECASE)


def _free_mb(path: Path) -> str:
    for folder in (path, *path.parents):
        try:
            return f"{shutil.disk_usage(folder).free / 2**20:.0f} MB free there"
        except OSError:
            continue
    return "free space unknown"


def storage_error(path: Path, exc: BaseException) -> StorageError | None:
    """The one-line error for a failed write of ``path``, or None when ``exc`` is not a storage failure."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code is None:
        found = _OS_CODE.search(str(exc))
        if found:
            code = int(found.group(1) or found.group(2))
        elif any(sign in str(exc) for sign in ("write failed", "failed writing", "inline_container")):
            return StorageError(path, f"could not be written ({_free_mb(path)})", f"free space and rerun ({_RERUN})")
    if code not in _BY_ERRNO:
        return None
    problem, fix = _BY_ERRNO[code]
    if code in (errno.ENOSPC, errno.EDQUOT):
        problem = f"{problem} ({_free_mb(path)})"
    return StorageError(path, problem, fix)
