"""One writer per output folder: an OS file lock held for the whole command.

Two ``seas`` commands writing the same run or output folder would interleave their files (pairs
with one run's image and another's mask, weights of neither seed). Every command that writes a
folder holds ``fcntl.flock`` on a lock file named after the folder's resolved path, so the
same folder spelled differently (relative, absolute, through a link) is one lock. The kernel
releases the lock when the process ends, however it ends: a killed run never leaves a stale lock.
The lock files live in the temporary directory, not in the folder, so outputs stay byte-identical
between runs; each holds the holder's PID for the refusal message. Once the lock is held, whatever
killed writers left in the folder (temporary files, a folder half replaced) is cleaned up.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from seas.errors import SeasError
from seas.files import remove_leftovers

__all__ = ["FolderBusyError", "lock_path", "writer_lock", "writer_locks"]

logger = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # not POSIX: no locking (documented in the README)
    fcntl = None  # type: ignore[assignment]


class FolderBusyError(SeasError, RuntimeError):
    """Another process is writing the folder."""


def lock_path(folder: Path) -> Path:
    """The lock file of ``folder`` (by its resolved path) in ``$TMPDIR/seas-locks``."""
    key = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / "seas-locks" / f"{key}.lock"


@contextmanager
def writer_lock(folder: Path) -> Iterator[None]:
    """Hold the exclusive writer lock of ``folder`` for the block; refuse at once if another process has it.

    Raises:
        FolderBusyError: One line naming the folder and the holder's PID.
    """
    if fcntl is None or int(os.environ.get("RANK", "0")) > 0:
        # Under accelerate/torchrun the ranks of one launch share the folder: rank 0 holds the lock for all.
        yield
        return
    path = lock_path(folder)
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            path.parent.chmod(0o1777)  # shared by every user, like /tmp itself
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").split("\n")[0].strip() or "unknown"
        os.close(fd)
        message = (
            f"{folder}: another seas process (PID {holder}) is writing this folder; wait for it to "
            "finish or stop it, then rerun (finished work is kept)"
        )
        raise FolderBusyError(message) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n{folder.resolve()}\n".encode(), 0)
        if int(os.environ.get("WORLD_SIZE", "1")) == 1:  # other ranks may already be writing their own
            for path in remove_leftovers(folder):
                logger.info("removed what a killed run left: %s", path)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays, so no second holder can race on a new inode


@contextmanager
def writer_locks(folders: list[Path]) -> Iterator[None]:
    """:func:`writer_lock` on each distinct folder (resolved), taken in sorted order (no lock-order deadlock)."""
    distinct = sorted({str(f.resolve()): f for f in folders}.items())
    with ExitStack() as stack:
        for _, folder in distinct:
            stack.enter_context(writer_lock(folder))
        yield
