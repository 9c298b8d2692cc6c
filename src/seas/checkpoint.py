"""Resumable checkpoints shared by both training stages.

Layout follows the diffusers training scripts: ``<run>/checkpoint-<step>/`` holding accelerate's
state (models, optimiser, RNG) plus ``seas_state.json``. Folders are written under a temporary name
and renamed when complete, so a killed run never leaves a half checkpoint that ``latest`` would
pick; the oldest are pruned beyond the total limit.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seas.errors import ConfigError
from seas.files import atomic_write_dir, atomic_write_json, read_mark
from seas.integrity import RECORD, record_weights, recorded_hashes, verify_weights, weights_problem
from seas.ownership import foreign_files

__all__ = ["list_checkpoints", "resolve_resume", "save_checkpoint"]

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^checkpoint-(\d+)$")


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run as (step, folder), oldest first.

    A ``checkpoint-N`` folder without ``seas_state.json`` (damaged or edited by hand: ours are renamed
    into place whole) is passed over with a warning, so ``latest`` falls back to the one before it.
    """
    if not run_dir.is_dir():
        return []
    found = []
    for path in sorted(run_dir.iterdir()):
        match = _NAME.match(path.name)
        if not (match and path.is_dir()):
            continue
        if (path / "seas_state.json").is_file():
            found.append((int(match.group(1)), path))
        else:
            logger.warning("%s has no seas_state.json: not a complete checkpoint, passed over", path)
    return sorted(found)


def resolve_resume(run_dir: Path, resume: str | None) -> Path | None:
    """The checkpoint folder to resume from: ``latest`` (None if there is none yet) or an explicit folder.

    Raises:
        ConfigError: An explicit folder that is not a checkpoint.
    """
    if resume is None:
        return None
    if resume == "latest":
        for _, folder in reversed(list_checkpoints(run_dir)):
            problem = weights_problem(folder)
            if problem is None:
                return folder
            logger.warning("%s; checkpoint passed over, trying the one before it", problem)
        return None
    path = Path(resume)
    if not (path / "seas_state.json").is_file():
        raise ConfigError(
            path, "not a seas checkpoint folder (no seas_state.json)", "pass 'latest' or a checkpoint-N folder"
        )
    verify_weights(path, "pass an undamaged checkpoint (--resume latest takes the newest one)")
    return path


def save_checkpoint(
    run_dir: Path, step: int, write_state: Callable[[Path], None], extra: dict[str, Any], total_limit: int | None
) -> Path:  # Any: JSON values
    """Write ``checkpoint-<step>`` atomically, then prune the oldest beyond ``total_limit``.

    Args:
        run_dir: Run folder.
        step: Completed optimiser steps.
        write_state: Writes the framework state into the given folder (``accelerator.save_state``).
        extra: Our own resumable state, stored as ``seas_state.json``.
        total_limit: Keep at most this many checkpoints (None: keep all).
    """
    target = run_dir / f"checkpoint-{step}"

    def fill(folder: Path) -> None:
        write_state(folder)
        record_weights(folder)  # every weights file with its sha256, checked on resume
        atomic_write_json(folder / "seas_state.json", {"step": step, **extra})

    atomic_write_dir(target, fill, "checkpoint")
    if total_limit is not None:
        for _, old in list_checkpoints(run_dir)[:-total_limit]:
            _prune(old)
    return target


def _prune(folder: Path) -> None:
    """Delete an old checkpoint the tool wrote; keep (with a warning) one that holds anything else."""
    problem, _ = foreign_files(folder, "checkpoint")
    if problem is None:
        shutil.rmtree(folder)
        return
    hashes = recorded_hashes(folder) if (folder / "seas_state.json").is_file() else None
    legacy = {*(hashes or {}), "seas_state.json", RECORD}  # a checkpoint written before ownership marks
    if hashes is not None and read_mark(folder) is None and {p.name for p in folder.iterdir()} <= legacy:
        shutil.rmtree(folder)
        return
    logger.warning("%s %s; kept, not pruned (move your files out to let seas prune it)", folder, problem)
