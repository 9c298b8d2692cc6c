"""The per-type train / held-out split (docs/method.md §2.2) and its single record, ``split.json``.

Per defect type the sorted images are split into the first ``k = max(floor(n * f), 1)`` for
training and the rest held out for downstream testing. ``split.json`` written by stage 1 is the
only source later stages read, so the held-out images are never seen by the generator.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from seas.data.catalog import ProductData
from seas.errors import DatasetLayoutError
from seas.files import atomic_write_json

__all__ = ["DataSplit", "TypeSplit", "make_split", "portable_name", "read_split", "write_split"]

SPLIT_VERSION = 1


@dataclass(frozen=True)
class TypeSplit:
    """One defect type's images: (image, mask) pairs for training and held out."""

    train: tuple[tuple[Path, Path], ...]
    heldout: tuple[tuple[Path, Path], ...]


@dataclass(frozen=True)
class DataSplit:
    """A product's split: per defect type (sorted) the train and held-out pairs, plus the normals."""

    product: str
    train_fraction: Fraction
    types: dict[str, TypeSplit]
    normals: tuple[Path, ...]

    @property
    def train_pairs(self) -> list[tuple[str, Path, Path]]:
        """All training (defect type, image, mask) triples, types sorted, files sorted."""
        return [(t, img, m) for t in sorted(self.types) for img, m in self.types[t].train]


def train_count(n: int, ratio: Fraction) -> int:
    """``k = max(floor(n * ratio), 1)``: at least one training image per type."""
    return max(math.floor(n * ratio), 1)


def make_split(data: ProductData, ratio: Fraction) -> DataSplit:
    """Split every selected defect type of ``data`` by sorted file name."""
    types = {}
    for defect_type in data.defect_types:
        pairs = [(s.image_path, s.mask_path) for s in data.defect_images(defect_type)]
        k = train_count(len(pairs), ratio)
        types[defect_type] = TypeSplit(train=tuple(pairs[:k]), heldout=tuple(pairs[k:]))  # type: ignore[arg-type]
    return DataSplit(data.product, ratio, types, data.normals)


def portable_name(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form when under it (a moved dataset keeps its records), else as given."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def write_split(split: DataSplit, root: Path, path: Path) -> None:
    """Write ``split`` as JSON with paths relative to ``root`` (absolute when outside it)."""

    def pairs(items: tuple[tuple[Path, Path], ...]) -> list[dict[str, str]]:
        return [{"image": portable_name(i, root), "mask": portable_name(m, root)} for i, m in items]

    record: dict[str, Any] = {
        "version": SPLIT_VERSION,
        "product": split.product,
        "root": str(root),
        "train_fraction": str(split.train_fraction),
        "types": {t: {"train": pairs(s.train), "heldout": pairs(s.heldout)} for t, s in split.types.items()},
        "normals": [portable_name(p, root) for p in split.normals],
    }
    atomic_write_json(path, record)


def read_split(path: Path, data: ProductData) -> DataSplit:
    """Read a ``split.json`` and check it against the product's current files.

    Paths are resolved against ``data.root`` (so a run folder can move with its dataset).

    Raises:
        DatasetLayoutError: Unreadable file, other product, or files that are not in the dataset.
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        raw_types = record["types"]
    except FileNotFoundError as exc:
        raise DatasetLayoutError(path, "split file not found", "check --split-file") from exc
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetLayoutError(path, "not a valid split.json", "pass a split.json written by seas") from exc
    if record.get("product") != data.product:
        raise DatasetLayoutError(path, f"split is for product {record.get('product')!r}, not {data.product!r}", None)
    known = {(s.image_path, s.mask_path) for t in data.defect_types for s in data.defect_images(t)}

    def resolve(items: list[dict[str, str]]) -> tuple[tuple[Path, Path], ...]:
        out = []
        for item in items:
            pair = (data.root / item["image"], data.root / item["mask"])
            if pair not in known:
                raise DatasetLayoutError(path, f"lists {item['image']}, which is not a selected defect image", None)
            out.append(pair)
        return tuple(out)

    missing = sorted(set(data.defect_types) - set(raw_types))
    if missing:
        raise DatasetLayoutError(path, f"has no entry for defect type(s) {', '.join(missing)}", "re-create the split")
    types = {t: TypeSplit(resolve(raw_types[t]["train"]), resolve(raw_types[t]["heldout"])) for t in data.defect_types}
    normals = tuple(data.root / p for p in record.get("normals", [])) or data.normals
    return DataSplit(data.product, Fraction(record.get("train_fraction", "1/3")), types, normals)
