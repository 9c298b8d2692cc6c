"""Weights integrity: every weights file the tool writes is listed with its sha256 in a record written last.

A folder's record is ``sha256.json`` (``{"files": {relative path: hex digest}}``). Loading verifies
every listed file and names the first missing or damaged one, so a truncated or overwritten file
never turns into quietly different pictures. Folders written before records existed (no
``sha256.json``) load unverified. The record is also the generation provenance: weight identities
are read from it, never from a cache that could outlive the files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from seas.errors import ModelLoadError
from seas.files import atomic_write_json

__all__ = [
    "RECORD",
    "combined_id",
    "file_sha256",
    "record_weights",
    "recorded_hashes",
    "verify_weights",
    "weight_files",
    "weights_problem",
]

RECORD = "sha256.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".pkl")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (read in 8 MB blocks)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 23):
            digest.update(block)
    return digest.hexdigest()


def weight_files(folder: Path) -> list[Path]:
    """Every weights file under ``folder`` (by suffix), sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)


def record_weights(folder: Path, files: Iterable[Path] | None = None) -> dict[str, str]:
    """Write ``folder/sha256.json`` for ``files`` (default: every weights file under ``folder``); returns it."""
    chosen = weight_files(folder) if files is None else sorted(files)
    hashes = {p.relative_to(folder).as_posix(): file_sha256(p) for p in chosen}
    atomic_write_json(folder / RECORD, {"files": hashes})
    return hashes


def recorded_hashes(folder: Path) -> dict[str, str] | None:
    """The record of ``folder`` (relative path -> sha256), or None when it has none."""
    from seas.records import read_json

    path = folder / RECORD
    if not path.is_file():
        return None
    fix = f"delete {folder} and rerun the command that wrote it (a checkpoint: training resumes from the one before)"
    return read_json(path, fix, lambda r: {str(k): str(v) for k, v in r["files"].items()})


def verify_weights(folder: Path, fix: str | None) -> bool:
    """Check every file listed in ``folder``'s record; False when the folder has no record.

    Raises:
        ModelLoadError: A listed file is missing or its bytes differ from the record (``fix`` is the way out).
    """
    hashes = recorded_hashes(folder)
    if hashes is None:
        return False
    for name, expected in sorted(hashes.items()):
        path = folder / name
        if not path.is_file():
            raise ModelLoadError(path, "missing (listed in the folder's sha256.json)", fix)
        if file_sha256(path) != expected:
            raise ModelLoadError(path, "damaged: its sha256 differs from the one recorded when it was written", fix)
    return True


def weights_problem(folder: Path) -> str | None:
    """Why ``folder``'s recorded weights cannot be used (the one-line :func:`verify_weights` error), or None."""
    try:
        verify_weights(folder, None)
    except ModelLoadError as exc:
        return str(exc)
    return None


def combined_id(hashes: dict[str, str], names: Iterable[str] | None = None) -> str:
    """A 16-hex identity of a set of recorded files (all, or those whose relative path is in ``names``)."""
    wanted = sorted(hashes if names is None else [n for n in hashes if n in set(names)])
    digest = hashlib.sha256("".join(f"{n}:{hashes[n]};" for n in wanted).encode())
    return digest.hexdigest()[:16]
