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
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seas.files import atomic_write_bytes, atomic_write_dir, atomic_write_json, atomic_write_text
from seas.records import RecordError, read_json, read_jsonl

MANIFEST_FIX = "rerun seas generate with the same flags: it rebuilds the manifest from the pairs' records"

__all__ = ["MANIFEST_FIX", "PairFolder", "export_anomalib", "read_manifest", "recorded_generate_settings"]


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
            # relative to the final location, so the links survive the rename into place
            dest.symlink_to(os.path.relpath(source.resolve(), (base / dest.parent.name).resolve()))

        for name, count in sorted(wanted.items()):
            folder_of_type = product_dir / name
            for index in range(count):
                stem = f"{index:04d}"
                if not (folder_of_type / ".records" / f"{stem}.json").is_file():
                    continue  # unfinished pair of an interrupted run
                link(folder_of_type / "image" / f"{stem}.png", folder / "abnormal" / f"{name}_{stem}.png")
                link(folder_of_type / "mask" / f"{stem}.png", folder / "mask" / f"{name}_{stem}.png")
                counts["abnormal"] += 1
                counts["mask"] += 1
        good = product_dir / "good"
        generated = [
            good / "image" / f"{i:04d}.png"
            for i in range(normal_count)
            if (good / ".records" / f"{i:04d}.json").is_file()
        ]
        for i, image in enumerate(generated if normal_count else normal_images):
            link(image, folder / "normal" / f"{i:04d}{image.suffix}")
            counts["normal"] += 1

    atomic_write_dir(base, fill, "anomalib-export")
    return counts
