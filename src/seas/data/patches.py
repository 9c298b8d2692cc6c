"""Native-resolution patches of a product (``seas patches``): small squares cut at the photos' own scale.

Training at 128 px shrinks a whole 384 x 512 photo 3x, and a small defect (a tire cut is ~16 x 19 px) falls
under one 8-px latent cell, which no generator on that latent grid can draw (the positive control in
docs/research/pair_quality). Cutting ``size``-px patches at the photo's own resolution keeps such a defect
~3 latent cells wide at the same cost per step. The patches form an MVTec-layout dataset, so every later stage
(pretrain, train, generate, evaluate) runs on it unchanged:

* each normal training image gives ``per_normal`` patches named ``<k>_<stem>.png`` (the first N sorted names,
  stage 1's normals, are one patch each of N different photos), each test normal one patch;
* each defect image gives one patch, same stem, that holds the defect's bounding box (centred, with seeded
  jitter; a box wider than the patch is cut to it), and its mask is cut with it.

Normal patches are placed on the product, not on the background: a patch is accepted when at least
``min_content`` of its pixels differ from the photo's border (median grey, after a box blur) by more than
``content_grey``; otherwise the best of ``TRIES`` random places is taken. ``patches.json`` records every
patch's source and box. Seeded; listings sorted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from seas.config import PatchConfig
from seas.data.catalog import ProductData
from seas.data.imageio import read_mask, read_rgb
from seas.data.samples import Label, Sample, Split
from seas.data.split import portable_name
from seas.errors import InputFileError
from seas.files import atomic_write_dir, atomic_write_json
from seas.ownership import refuse_overlap
from seas.records import read_json

__all__ = ["content_table", "cut_patches", "defect_corner", "normal_corner"]

TRIES = 400
BLUR = 12  # box-blur radius (px) before the content test: sensor grain on a dark background is not product


def content_table(rgb: np.ndarray, content_grey: int) -> np.ndarray:
    """Summed-area table of "product" pixels (blurred grey far from the border's median), zero-padded."""
    grey = np.asarray(Image.fromarray(rgb).convert("L").filter(ImageFilter.BoxBlur(BLUR)), dtype=np.int64)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    content = (np.abs(grey - np.median(border)) > content_grey).astype(np.int64)
    return np.pad(content.cumsum(0).cumsum(1), ((1, 0), (1, 0)))


def normal_corner(table: np.ndarray, size: int, settings: PatchConfig, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a patch on the product (the first of ``TRIES`` random places that is enough product)."""
    height, width = table.shape[0] - 1, table.shape[1] - 1
    best, best_share = (0, 0), -1.0
    for _ in range(TRIES):
        x, y = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
        inside = table[y + size, x + size] - table[y, x + size] - table[y + size, x] + table[y, x]
        share = float(inside) / size**2
        if share >= settings.min_content:
            return x, y
        if share > best_share:
            best, best_share = (x, y), share
    return best


def defect_corner(mask: np.ndarray, size: int, jitter: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a patch holding the mask's bounding box, moved by up to ``jitter`` px where it fits."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        ys, xs = np.array([mask.shape[0] // 2]), np.array([mask.shape[1] // 2])
    corner = []
    for low, high, extent in ((xs.min(), xs.max(), mask.shape[1]), (ys.min(), ys.max(), mask.shape[0])):
        reach = min(max(0, (size - int(high - low + 1)) // 2), jitter)
        start = (int(low) + int(high) + 1) // 2 - size // 2 + int(rng.integers(-reach, reach + 1))
        corner.append(int(np.clip(start, 0, extent - size)))
    return corner[0], corner[1]


def _crop(array: np.ndarray, corner: tuple[int, int], size: int) -> np.ndarray:
    x, y = corner
    return array[y : y + size, x : x + size]


def _checked_rgb(path: Path, size: int) -> np.ndarray:
    rgb = read_rgb(path)
    if min(rgb.shape[:2]) < size:
        found = f"is {rgb.shape[1]} x {rgb.shape[0]} px, smaller than the patch size {size}"
        raise InputFileError(path, found, "pass a smaller --size")
    return rgb


def _cut_normal(
    sample: Sample,
    count: int,
    folder: Path,
    settings: PatchConfig,
    rng: np.random.Generator,
    record: dict[str, Any],
    root: Path,
) -> None:
    rgb = _checked_rgb(sample.image_path, settings.size)
    table = content_table(rgb, settings.content_grey)
    stem, source = sample.image_path.stem, portable_name(sample.image_path, root)
    for k in range(count):
        corner = normal_corner(table, settings.size, settings, rng)
        name = f"{k}_{stem}.png" if sample.split == Split.TRAIN else f"{stem}.png"
        Image.fromarray(_crop(rgb, corner, settings.size)).save(folder / name)
        record[f"{folder.parent.name}/{folder.name}/{name}"] = {"source": source, "xy": corner}


def _cut_defect(
    sample: Sample,
    image_dir: Path,
    mask_dir: Path,
    settings: PatchConfig,
    rng: np.random.Generator,
    record: dict[str, Any],
    root: Path,
) -> None:
    assert sample.mask_path is not None
    rgb, mask = _checked_rgb(sample.image_path, settings.size), read_mask(sample.mask_path)
    if mask.shape != rgb.shape[:2]:
        found = f"is {mask.shape[1]} x {mask.shape[0]} px, its image {rgb.shape[1]} x {rgb.shape[0]}"
        raise InputFileError(sample.mask_path, found, "give each defect image a mask of its own size")
    corner = defect_corner(mask, settings.size, settings.jitter, rng)
    stem = sample.image_path.stem
    Image.fromarray(_crop(rgb, corner, settings.size)).save(image_dir / f"{stem}.png")
    Image.fromarray(_crop(mask, corner, settings.size).astype(np.uint8) * 255).save(mask_dir / f"{stem}_mask.png")
    record[f"test/{sample.defect_type}/{stem}.png"] = {"source": portable_name(sample.image_path, root), "xy": corner}


def cut_patches(data: ProductData, settings: PatchConfig) -> Path:
    """Write ``<output_dir>/<product>``: the patch dataset of ``data`` in MVTec layout, with ``patches.json``.

    A folder already cut with the same settings from the same files is kept (reruns skip it); one cut with other
    settings is replaced atomically, never left half-written.

    Returns:
        The product folder of the patch dataset (``--data out --product <product>`` reads it).
    """
    target = settings.output_dir / data.product
    refuse_overlap(
        "--output-dir", settings.output_dir, "the data set", data.root, "choose a folder outside it", contains=False
    )
    refuse_overlap("--output-dir", target, "the data set", data.root, "choose a folder outside it")
    files = sorted({p for s in data.samples for p in (s.image_path, s.mask_path) if p is not None})
    sources = [[portable_name(p, data.root), p.stat().st_size] for p in files]  # a changed file means a new cut
    shape = {k: v for k, v in vars(settings).items() if k != "output_dir"}  # what the patches depend on
    wanted = {"settings": shape, "sources": sources}
    done = target / "patches.json"
    if done.is_file():
        previous = read_json(done, f"delete {target} and rerun seas patches", lambda r: dict(r))
        if {k: previous.get(k) for k in wanted} == wanted:
            return target

    def fill(tmp: Path) -> None:
        rng = np.random.default_rng(settings.seed)
        record: dict[str, Any] = {}
        for sample in data.samples:  # sorted: the same patches every time
            split = "train" if sample.label == Label.NORMAL and sample.split == Split.TRAIN else "test"
            folder = tmp / split / sample.defect_type
            folder.mkdir(parents=True, exist_ok=True)
            if sample.label == Label.NORMAL:
                count = settings.per_normal if sample.split == Split.TRAIN else 1
                _cut_normal(sample, count, folder, settings, rng, record, data.root)
            else:
                masks = tmp / "ground_truth" / sample.defect_type
                masks.mkdir(parents=True, exist_ok=True)
                _cut_defect(sample, folder, masks, settings, rng, record, data.root)
        # The root is a hint for seas paste (sources are relative to it, so a moved dataset keeps its record).
        atomic_write_json(tmp / "patches.json", {**wanted, "data_root": str(data.root.resolve()), "patches": record})

    atomic_write_dir(target, fill, "patches")
    return target
