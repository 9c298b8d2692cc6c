"""COCO and YOLO exports of planted pairs: exact round trips, what is included, ownership."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from pycocotools.coco import COCO
from scipy import ndimage

from seas.generate.exports import export_coco, export_yolo, regions
from seas.generate.outputs import finished_pairs
from seas.ownership import OwnershipError

H, W = 24, 32


def _masks() -> dict[str, list[np.ndarray]]:
    ring = np.zeros((H, W), bool)
    ring[2:9, 2:9] = True
    ring[4:7, 4:7] = False  # a region with a hole
    blobs = np.zeros((H, W), bool)
    blobs[15, 20] = True  # one pixel
    blobs[10:13, 25:31] = True  # a bar ...
    blobs[13, 31] = True  # ... and a pixel touching it only by a corner: the same 8-connected region
    blobs[18:22, 3:6] = True
    slanted = np.zeros((H, W), bool)
    for row in range(5, 20):
        slanted[row, row : row + 4] = True  # a diagonal band
    return {"crack": [ring, blobs], "hole": [slanted, blobs]}


def _product(tmp_path: Path) -> Path:
    """A pair tree as seas generate writes it: crack 0-1 and hole 0-1 finished, hole 2 unfinished."""
    product = tmp_path / "pairs" / "tire"
    rng = np.random.default_rng(0)
    for folder, masks in _masks().items():
        root = product / folder
        for sub in ("image", "mask", ".records"):
            (root / sub).mkdir(parents=True)
        for index, mask in enumerate([*masks, masks[0]]):
            stem = f"{index:04d}"
            Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(root / "image" / f"{stem}.png")
            Image.fromarray(mask.astype(np.uint8) * 255).save(root / "mask" / f"{stem}.png")
            if not (folder == "hole" and index == 2):
                (root / ".records" / f"{stem}.json").write_text(json.dumps({"index": index}))
    return product


def test_finished_pairs_are_the_recorded_ones_below_the_counts(tmp_path: Path) -> None:
    product = _product(tmp_path)
    names = [p.name for p in finished_pairs(product, {"crack": 2, "hole": 3})]
    assert names == ["crack_0000", "crack_0001", "hole_0000", "hole_0001"]  # hole 2 has no record
    assert [p.name for p in finished_pairs(product, {"crack": 1})] == ["crack_0000"]


def test_coco_decodes_back_to_every_mask_exactly(tmp_path: Path) -> None:
    product = _product(tmp_path)
    counts = export_coco(product, tmp_path / "coco" / "tire", {"crack": 2, "hole": 3})
    coco = COCO(str(tmp_path / "coco" / "tire" / "annotations.json"))
    assert counts == {"images": 4, "annotations": len(coco.anns)}
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["crack", "hole"]
    for image in coco.loadImgs(coco.getImgIds()):
        folder, index = image["file_name"].removeprefix("images/").removesuffix(".png").split("_")
        expected = _masks()[folder][int(index)]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        assert len(anns) == len(regions(expected))  # one annotation per connected region
        decoded = [coco.annToMask(a).astype(bool) for a in anns]
        assert np.array_equal(np.logical_or.reduce(decoded), expected)  # bit for bit
        for ann, region in zip(anns, decoded, strict=True):
            assert ndimage.label(region, structure=np.ones((3, 3)))[1] == 1
            assert ann["area"] == region.sum()
            ys, xs = np.nonzero(region)
            assert ann["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            assert coco.cats[ann["category_id"]]["name"] == folder
        linked = tmp_path / "coco" / "tire" / image["file_name"]
        assert linked.is_symlink()
        assert linked.read_bytes() == (product / folder / "image" / f"{index}.png").read_bytes()


def _fill(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre lies inside ``polygon`` (even-odd rule), the way segmentation trainers rasterise."""
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    inside = np.zeros(shape, bool)
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
        crosses = (ay > ys) != (by > ys)
        at = ax + (ys - ay) * (bx - ax) / np.where(by == ay, 1, by - ay)
        inside ^= crosses & (xs < at)
    return inside


def test_yolo_polygons_fill_back_to_each_region(tmp_path: Path) -> None:
    product = _product(tmp_path)
    out = tmp_path / "yolo" / "tire"
    counts = export_yolo(product, out, {"crack": 2, "hole": 3})
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "crack", 1: "hole"}
    assert counts["images"] == 4
    assert sorted(p.name for p in (out / "labels").iterdir()) == [
        f"{n}.txt" for n in ("crack_0000", "crack_0001", "hole_0000", "hole_0001")
    ]
    lines_total = 0
    for label in sorted((out / "labels").iterdir()):
        folder, index = label.stem.split("_")
        expected = _masks()[folder][int(index)]
        lines = label.read_text().splitlines()
        lines_total += len(lines)
        assert len(lines) == len(regions(expected))
        filled = np.zeros((H, W), bool)
        for line in lines:
            cls, *values = line.split()
            assert data["names"][int(cls)] == folder
            points = np.array(values, float).reshape(-1, 2)
            assert ((points >= 0) & (points <= 1)).all()
            filled |= _fill(points * [W, H], (H, W))
        assert np.array_equal(filled, ndimage.binary_fill_holes(expected))  # exact, holes filled (documented)
    assert counts["labels"] == lines_total


def test_exports_are_rebuilt_and_never_replace_foreign_folders(tmp_path: Path) -> None:
    product = _product(tmp_path)
    out = tmp_path / "coco" / "tire"
    export_coco(product, out, {"crack": 2, "hole": 3})
    (product / "crack" / ".records" / "0001.json").unlink()  # that pair is no longer finished
    assert export_coco(product, out, {"crack": 2, "hole": 3})["images"] == 3
    assert not (out / "images" / "crack_0001.png").exists()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OwnershipError):
        export_coco(product, out, {"crack": 2})
    assert (out / "notes.txt").read_text() == "mine"
    mine = tmp_path / "yolo_of_mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    with pytest.raises(OwnershipError):
        export_yolo(product, mine, {"crack": 2})
    assert (mine / "keep.txt").read_text() == "mine"


def test_a_missing_package_is_one_line_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from seas.errors import ConfigError

    real = importlib.import_module

    def without_coco(name: str, *args: object) -> object:
        if name.startswith("pycocotools"):
            raise ImportError(name)
        return real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", without_coco)
    with pytest.raises(ConfigError, match=r'needs the pycocotools package; install it: pip install "seas\[export\]"'):
        export_coco(_product(tmp_path), tmp_path / "coco" / "tire", {"crack": 2})
    assert not (tmp_path / "coco").exists()  # refused before anything was written
