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

from seas.files import atomic_write_bytes, atomic_write_json, atomic_write_text

__all__ = ["PairFolder", "export_anomalib"]


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


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
                lines.append(json.dumps(json.loads(path.read_text(encoding="utf-8")), sort_keys=True))
        atomic_write_text(self.root / "manifest.jsonl", "".join(f"{line}\n" for line in lines))
        return len(lines)


def export_anomalib(tree: Path, product: str, target: Path, normal_images: list[Path]) -> dict[str, int]:
    """Write an anomalib ``Folder`` dataset of symlinks: ``normal/``, ``abnormal/`` and ``mask/`` (same names).

    Defect pairs of every type folder become ``<type>_NNNN.png``; the normal images are the generated
    ``good/`` images if there are any, else ``normal_images`` (the real normal training images).

    Returns:
        Counts per folder.
    """
    base = target / product
    for sub in ("normal", "abnormal", "mask"):
        (base / sub).mkdir(parents=True, exist_ok=True)

    def link(source: Path, dest: Path) -> None:
        if dest.is_symlink() or dest.exists():
            dest.unlink()
        dest.symlink_to(os.path.relpath(source.resolve(), dest.parent.resolve()))

    counts = {"normal": 0, "abnormal": 0, "mask": 0}
    product_dir = tree / product
    for type_dir in sorted(p for p in product_dir.iterdir() if p.is_dir() and p.name != "good"):
        for image in sorted((type_dir / "image").glob("*.png")):
            if not (type_dir / ".records" / f"{image.stem}.json").is_file():
                continue  # unfinished pair of an interrupted run
            name = f"{type_dir.name}_{image.name}"
            link(image, base / "abnormal" / name)
            link(type_dir / "mask" / image.name, base / "mask" / name)
            counts["abnormal"] += 1
            counts["mask"] += 1
    generated_good = sorted((product_dir / "good" / "image").glob("*.png")) if (product_dir / "good").is_dir() else []
    for i, image in enumerate(generated_good or normal_images):
        link(image, base / "normal" / f"{i:04d}{image.suffix}")
        counts["normal"] += 1
    return counts
