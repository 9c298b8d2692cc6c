"""The generated tree on disk: atomic PNG pairs, per-pair records, the manifest, the anomalib export.

Layout per (product, defect type): ``image/NNNN.png`` (RGB), ``mask/NNNN.png`` (grey 0/255, same
size and stem) and ``manifest.jsonl``. A pair counts as finished only when its record
(``.records/NNNN.json``) exists; the record is written after both PNGs, each file through a
temporary name and a rename. The manifest is rebuilt from the records, so a run killed at any
moment and rerun ends with no truncated, missing or duplicated file or line.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seas.files import atomic_write_bytes, atomic_write_dir, atomic_write_json, atomic_write_text
from seas.records import RecordError, read_json, read_jsonl
from seas.review.decisions import in_use, read_decisions

MANIFEST_FIX = "rerun seas generate with the same flags: it rebuilds the manifest from the pairs' records"

__all__ = [
    "MANIFEST_FIX",
    "FinishedPair",
    "PairFolder",
    "export_anomalib",
    "finished_pairs",
    "read_manifest",
    "recorded_generate_settings",
    "relative_link",
]


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def recorded_generate_settings(product_out: Path) -> dict[str, Any]:  # Any: JSON
    """The ``GenerateConfig`` the last ``seas generate`` into ``product_out`` recorded ({} without a record)."""
    record = product_out / "config.json"
    if not record.is_file():
        return {}
    fix = f"delete {record} and rerun seas generate with the settings its pairs were made with"
    return read_json(record, fix, lambda r: dict(r.get("config", {}).get("GenerateConfig", {})))


def read_manifest(folder: Path) -> list[dict[str, Any]]:  # Any: JSON
    """The pair records of ``folder/manifest.jsonl`` in order ([] without one); each names its image.

    Raises:
        RecordError: A damaged line, or a line without ``index`` and ``image``.
    """
    path = folder / "manifest.jsonl"
    rows = read_jsonl(path, MANIFEST_FIX)
    for number, row in enumerate(rows, 1):
        if not isinstance(row.get("index"), int) or not isinstance(row.get("image"), str):
            raise RecordError(path, f"damaged record on line {number} (no index or image)", MANIFEST_FIX)
    return rows


class PairFolder:
    """One ``<out>/<product>/<defect_type>`` folder."""

    def __init__(self, root: Path, with_masks: bool) -> None:
        self.root, self.with_masks = root, with_masks
        self.records = root / ".records"

    def name(self, index: int) -> str:
        """File name of pair ``index``."""
        return f"{index:04d}.png"

    def is_done(self, index: int) -> bool:
        """Whether pair ``index`` was finished by an earlier run."""
        return (self.records / f"{index:04d}.json").is_file()

    def write(
        self, index: int, image: np.ndarray, mask: np.ndarray | None, record: dict[str, Any]
    ) -> None:  # Any: JSON
        """Write image, mask, then the record (the commit point), each atomically."""
        name = self.name(index)
        atomic_write_bytes(self.root / "image" / name, _png(image))
        paths = {"image": f"image/{name}"}
        if mask is not None:
            atomic_write_bytes(self.root / "mask" / name, _png(mask.astype(np.uint8) * 255))
            paths["mask"] = f"mask/{name}"
        atomic_write_json(self.records / f"{index:04d}.json", {"index": index, **paths, **record})

    def finalize(self, count: int) -> int:
        """Rebuild ``manifest.jsonl`` from the records of pairs ``0..count-1``; returns how many there are."""
        lines = []
        for index in range(count):
            path = self.records / f"{index:04d}.json"
            if path.is_file():
                fix = f"delete {path} (pair {index} is drawn again) and rerun seas generate"
                lines.append(json.dumps(read_json(path, fix, lambda r: dict(r)), sort_keys=True))
        atomic_write_text(self.root / "manifest.jsonl", "".join(f"{line}\n" for line in lines))
        return len(lines)


@dataclass(frozen=True)
class FinishedPair:
    """One finished pair of a folder: its folder name, index and files."""

    folder: str
    index: int
    image: Path
    mask: Path

    @property
    def name(self) -> str:
        """File stem in an export: ``<folder>_NNNN``."""
        return f"{self.folder}_{self.index:04d}"


def finished_pairs(product_dir: Path, wanted: dict[str, int]) -> list[FinishedPair]:
    """Pairs ``0..count-1`` of each folder in ``wanted`` (sorted by name) that were finished (have a record).

    When the pairs were reviewed (``seas review``), only the accepted pairs of a defect folder count.
    """
    decisions = read_decisions(product_dir)
    pairs = []
    for folder, count in sorted(wanted.items()):
        root = product_dir / folder
        for index in range(count):
            stem = f"{index:04d}"
            if in_use(decisions, folder, index) and (root / ".records" / f"{stem}.json").is_file():
                pairs.append(
                    FinishedPair(folder, index, root / "image" / f"{stem}.png", root / "mask" / f"{stem}.png")
                )
    return pairs


def relative_link(source: Path, dest: Path, final_dir: Path) -> None:
    """Link ``dest`` to ``source`` by a path relative to ``final_dir``, where ``dest``'s folder ends up.

    Exports are filled in a temporary folder and renamed into place; a relative link survives the rename.
    """
    dest.symlink_to(os.path.relpath(source.resolve(), final_dir.resolve()))


def export_anomalib(
    product_dir: Path, base: Path, wanted: dict[str, int], normal_count: int, normal_images: list[Path]
) -> dict[str, int]:
    """Write an anomalib ``Folder`` dataset of symlinks at ``base``: ``normal/``, ``abnormal/`` and ``mask/``.

    It holds exactly this run's pairs: pairs ``0..count-1`` of each folder in ``wanted`` become
    ``<type>_NNNN.png``; the normal images are the first ``normal_count`` generated ``good/`` images
    when this run generated normals, else ``normal_images`` (the real normal training images). The
    folder is rebuilt whole and swapped in, so links from an earlier export never linger.

    Returns:
        Counts per folder.
    """
    counts = {"normal": 0, "abnormal": 0, "mask": 0}

    def fill(folder: Path) -> None:
        for sub in ("normal", "abnormal", "mask"):
            (folder / sub).mkdir()

        def link(source: Path, dest: Path) -> None:
            relative_link(source, dest, base / dest.parent.name)

        for pair in finished_pairs(product_dir, wanted):  # an interrupted run's unfinished pairs are left out
            link(pair.image, folder / "abnormal" / f"{pair.name}.png")
            link(pair.mask, folder / "mask" / f"{pair.name}.png")
            counts["abnormal"] += 1
            counts["mask"] += 1
        generated = [pair.image for pair in finished_pairs(product_dir, {"good": normal_count})]
        for i, image in enumerate(generated if normal_count else normal_images):
            link(image, folder / "normal" / f"{i:04d}{image.suffix}")
            counts["normal"] += 1

    atomic_write_dir(base, fill, "anomalib-export")
    return counts
