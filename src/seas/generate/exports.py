"""Generated pairs as training sets other trainers read directly: COCO instance segmentation and YOLO.

Both hold exactly the finished pairs ``0..count-1`` of the requested folders (the anomalib export's
rule), as links to the pair images, and are rebuilt whole and swapped in on every run, so nothing of
an earlier export lingers. One annotation (COCO) or label line (YOLO) per connected defect region
(8-connected, the way ``seas inspect`` counts regions); category = the pair's folder (its defect type,
``a+b`` for a combination).

* COCO: ``annotations.json`` with ``images``, ``annotations`` and ``categories``; each region's
  segmentation is compressed RLE (pycocotools' encoding, ``iscrowd`` 0), so decoding it gives the
  region's pixels exactly; ``bbox`` and ``area`` are the region's.
* YOLO segmentation: ``labels/<name>.txt``, one line ``class x1 y1 x2 y2 ...`` per region, coordinates
  normalised to [0, 1], and ``data.yaml`` naming the classes. The polygon runs a quarter pixel inside
  the region's outer boundary (traced on the mask at twice its size), so filling it by pixel centres
  gives the region back; a region's holes are not representable and are filled.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from seas.data.imageio import read_mask
from seas.errors import ConfigError
from seas.files import atomic_write_dir
from seas.generate.outputs import finished_pairs, relative_link

__all__ = ["export_coco", "export_yolo", "regions", "yolo_polygons"]


def _needs(module: str, package: str) -> Any:  # Any: the imported module
    """``module``, or one line saying which package the exports need."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        subject = "--export-coco / --export-yolo"
        raise ConfigError(subject, f"needs the {package} package", 'install it: pip install "seas[export]"') from exc


def regions(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected regions of a ``[H, W]`` bool mask, each a bool mask, in label order (top to bottom)."""
    cv2 = _needs("cv2", "opencv-python-headless")
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    return [labels == label for label in range(1, count)]


def export_coco(product_dir: Path, base: Path, wanted: dict[str, int]) -> dict[str, int]:
    """Write a COCO instance-segmentation set of the finished pairs at ``base``; returns images, annotations."""
    mask_api = _needs("pycocotools.mask", "pycocotools")
    pairs = finished_pairs(product_dir, wanted)
    categories = [{"id": k + 1, "name": name, "supercategory": "defect"} for k, name in enumerate(sorted(wanted))]
    category_of = {c["name"]: c["id"] for c in categories}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id, pair in enumerate(pairs, 1):
        mask = read_mask(pair.mask) > 0
        height, width = mask.shape
        images.append({"id": image_id, "file_name": f"images/{pair.name}.png", "width": width, "height": height})
        for region in regions(mask):
            rle = mask_api.encode(np.asfortranarray(region.astype(np.uint8)))
            x, y, w, h = (float(v) for v in mask_api.toBbox(rle))
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": category_of[pair.folder],
                "segmentation": {"size": [height, width], "counts": rle["counts"].decode("ascii")},
                "area": int(region.sum()),
                "bbox": [x, y, w, h],
                "iscrowd": 0,
            }
            annotations.append(annotation)
    record = {"info": {"description": f"seas pairs of {product_dir.name}"}, "images": images}
    record.update(annotations=annotations, categories=categories)

    def fill(folder: Path) -> None:
        (folder / "images").mkdir()
        for pair in pairs:
            relative_link(pair.image, folder / "images" / f"{pair.name}.png", base / "images")
        (folder / "annotations.json").write_text(json.dumps(record), encoding="utf-8")

    atomic_write_dir(base, fill, "coco-export")
    return {"images": len(images), "annotations": len(annotations)}


def yolo_polygons(region: np.ndarray) -> list[list[tuple[float, float]]]:
    """Outer polygons of one region in pixel coordinates (x, y), a quarter pixel inside its boundary."""
    cv2 = _needs("cv2", "opencv-python-headless")
    doubled = np.kron(region.astype(np.uint8), np.ones((2, 2), np.uint8))  # a one-pixel region keeps an area
    contours, _ = cv2.findContours(doubled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    # sub-pixel p of the doubled mask has its centre at (p + 0.5) / 2 in the original pixel grid
    return [[((float(x) + 0.5) / 2, (float(y) + 0.5) / 2) for x, y in c[:, 0, :]] for c in contours]


def export_yolo(product_dir: Path, base: Path, wanted: dict[str, int]) -> dict[str, int]:
    """Write a YOLO segmentation set of the finished pairs at ``base``; returns images and label lines."""
    pairs = finished_pairs(product_dir, wanted)
    names = sorted(wanted)
    labels: dict[str, list[str]] = {}
    for pair in pairs:
        mask = read_mask(pair.mask) > 0
        height, width = mask.shape
        lines = []
        for region in regions(mask):
            for polygon in yolo_polygons(region):
                points = " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in polygon)
                lines.append(f"{names.index(pair.folder)} {points}")
        labels[pair.name] = lines
    data = {"path": ".", "train": "images", "val": "images", "names": dict(enumerate(names))}

    def fill(folder: Path) -> None:
        (folder / "images").mkdir()
        (folder / "labels").mkdir()
        for pair in pairs:
            relative_link(pair.image, folder / "images" / f"{pair.name}.png", base / "images")
            text = "".join(f"{line}\n" for line in labels[pair.name])
            (folder / "labels" / f"{pair.name}.txt").write_text(text, encoding="utf-8")
        (folder / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")

    atomic_write_dir(base, fill, "yolo-export")
    return {"images": len(pairs), "labels": sum(len(v) for v in labels.values())}
