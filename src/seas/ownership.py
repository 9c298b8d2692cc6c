"""What the tool may delete, and which folders must stay apart.

Ownership: the tool removes or replaces a folder only when it marked the folder as its own and the
folder holds nothing else. The mark is ``.seas-owned.json`` (``{"kind": ..., "files": [...]}``),
written into every folder the tool creates whole (:func:`seas.files.atomic_write_dir`: weights
folders, checkpoints, exports) with the list of files it wrote, and into every pair tree
(``<out>/<product>``, kind ``pairs``), whose content is fixed by name instead
(:data:`PAIR_TREE_FILES`). Anything else found in a folder the tool is about to delete (a file it
did not list, another kind of mark, no mark) stops the command with one line naming the folder and
what it holds, before anything is removed.

Apartness: an output folder must not overlap the data it reads, the run it reads, or another output
(:func:`refuse_overlap`); paths are resolved (symlinks, ``..``) before they are compared, and the
check runs before any work.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from seas.errors import ConfigError, SeasError
from seas.files import MARK, is_leftover, read_mark, write_mark

__all__ = [
    "PAIR_TREE_FILES",
    "OwnershipError",
    "check_pair_tree",
    "foreign_files",
    "mark_pair_tree",
    "refuse_overlap",
    "refuse_overlaps",
    "remove_owned",
]

# Relative paths a pair tree (``<out>/<product>``) holds: the run record, and per pair folder the
# manifest, the PNGs and the per-pair records.
PAIR_TREE_FILES = re.compile(
    r"^(config\.json|[^/]+/manifest\.jsonl|[^/]+/(image|mask)/\d{4,}\.png|[^/]+/\.records/\d{4,}\.json)$"
)


class OwnershipError(SeasError, PermissionError):
    """The tool was about to delete or replace something it did not write."""

    def __init__(self, folder: Path, problem: str, fix: str) -> None:
        super().__init__(f"{folder}: {problem}; {fix}")
        self.path = folder


def _files(folder: Path) -> list[str]:
    """Every file and link under ``folder`` (relative posix paths, sorted); folders are not entries."""
    found = []
    for root, dirs, names in os.walk(folder):
        base = Path(root)
        links = [d for d in dirs if (base / d).is_symlink()]  # a link to a folder is an entry, not walked
        dirs[:] = sorted(d for d in dirs if d not in links)
        found += [(base / n).relative_to(folder).as_posix() for n in [*names, *links]]
    return sorted(found)


def foreign_files(folder: Path, kind: str) -> tuple[str | None, list[str]]:
    """Why ``folder`` is not the tool's own ``kind`` (None: it is), and the files it holds that the tool did not write.

    A folder is the tool's own when it carries a mark of that kind and every file in it is one the
    mark lists (or, for a pair tree, one :data:`PAIR_TREE_FILES` names), leftovers of a killed
    writer aside. A pair tree written before marks existed is recognised by its content alone.
    """
    if folder.is_symlink() or not folder.is_dir():
        return "is not a folder seas wrote", []
    mark = read_mark(folder)
    files = [f for f in _files(folder) if f != MARK and not is_leftover(Path(f).name)]
    if mark is not None and mark.get("kind") != kind:
        return f"holds seas's {mark.get('kind')!r} output, not its {kind!r} output", []
    if kind == "pairs":
        foreign = [f for f in files if not PAIR_TREE_FILES.match(f)]
        if mark is None and "config.json" not in files:
            return "carries no seas mark (.seas-owned.json) and is not a pair tree seas wrote", foreign
    else:
        if mark is None:
            return "carries no seas mark (.seas-owned.json): seas did not write it", files
        listed = set(mark.get("files") or [])
        foreign = [f for f in files if f not in listed]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        return f"holds files seas did not write ({foreign[0]}{more})", foreign
    return None, []


def remove_owned(folder: Path, kind: str, fix: str) -> None:
    """Delete ``folder`` when it is the tool's own ``kind`` output and holds nothing else (absent: nothing to do).

    Raises:
        OwnershipError: One line naming the folder and what it holds; nothing is deleted.
    """
    if not folder.exists() and not folder.is_symlink():
        return
    problem, _ = foreign_files(folder, kind)
    if problem is not None:
        raise OwnershipError(folder, f"{problem}, so seas will not delete it", fix)
    shutil.rmtree(folder)


def check_pair_tree(folder: Path) -> None:
    """Refuse to write pairs into an existing folder that holds files the tool did not write.

    Raises:
        OwnershipError: The folder exists and holds other files.
    """
    if folder.is_dir() and any(folder.iterdir()):
        problem, _ = foreign_files(folder, "pairs")
        if problem is not None:
            raise OwnershipError(folder, problem, "choose an empty or new --output-dir folder for the pairs")


def mark_pair_tree(folder: Path) -> None:
    """Mark ``folder`` as a pair tree (:func:`check_pair_tree` first).

    Raises:
        OwnershipError: The folder exists and holds other files.
    """
    check_pair_tree(folder)
    if read_mark(folder) is None:
        write_mark(folder, "pairs")


def _resolved(path: Path) -> Path:
    return Path(path).expanduser().resolve()


def refuse_overlap(
    subject: str,
    path: Path,
    other_name: str,
    other: Path,
    fix: str,
    *,
    equal: bool = True,
    inside: bool = True,
    contains: bool = True,
) -> None:
    """Refuse ``path`` (named by ``subject``, e.g. the flag) when it equals, lies inside or contains ``other``.

    Args:
        subject: How the user named ``path`` (``--output-dir``).
        path: The folder to check.
        other_name: What ``other`` is, in words ("the data set").
        other: The folder it must stay apart from.
        fix: The way out.
        equal: Refuse ``path == other``.
        inside: Refuse ``path`` inside ``other``.
        contains: Refuse ``other`` inside ``path``.

    Raises:
        ConfigError: One line naming both folders; raised before any work.
    """
    a, b = _resolved(path), _resolved(other)
    if a == b:
        relation = "is" if equal else None
    elif b in a.parents:
        relation = "is inside" if inside else None
    elif a in b.parents:
        relation = "contains" if contains else None
    else:
        relation = None
    if relation is not None:
        named = f"{subject} {path}"
        raise ConfigError(named, f"{relation} {other_name} {other}; nothing was written", fix)


def refuse_overlaps(
    subject: str, path: Path, other_name: str, others: list[Path], fix: str, *, contains: bool = True
) -> None:
    """:func:`refuse_overlap` against each of ``others`` (the folders of a data set)."""
    for other in others:
        refuse_overlap(subject, path, other_name, other, fix, contains=contains)
