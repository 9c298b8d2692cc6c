"""Look at generated pairs up close, and ask whether a mask depends on its defect type or on its start.

Writes one picture: a row per defect type, for each of the first ``--per-type`` pairs the generated
image magnified around its mask (red outline) next to its normal twin (``good/``, same seed and
reference) at the same crop. Prints the mean IoU between the masks of two defect types made from the
same seed, next to the same for different seeds: masks that follow the prompt differ between types;
masks that follow the start image agree.

Usage: python docs/research/scripts/pairs_zoom.py RUN/generated/PRODUCT OUT.png [--per-type 4]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
from PIL import Image

from seas.evaluate.reconstruction import zoom_box

TILE = 128


def _manifest(folder: Path) -> dict[int, dict[str, object]]:
    rows = (json.loads(line) for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines())
    return {int(r["index"]): r for r in rows}  # type: ignore[call-overload]


def _crop(image: np.ndarray, mask: np.ndarray, outline: bool) -> np.ndarray:
    left, top, right, bottom = zoom_box(mask)
    crop = image[top:bottom, left:right].copy()
    if outline:
        m = mask[top:bottom, left:right]
        crop[(m & ~np.roll(m, 1, 0)) | (m & ~np.roll(m, 1, 1))] = (255, 40, 40)
    return np.asarray(Image.fromarray(crop).resize((TILE, TILE), Image.Resampling.NEAREST))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path, help="Generated tree of one product: <type>/ and good/ folders.")
    parser.add_argument("out", type=Path, help="PNG to write.")
    parser.add_argument("--per-type", type=int, default=4)
    args = parser.parse_args()
    types = sorted(p.name for p in args.tree.iterdir() if (p / "manifest.jsonl").is_file() and p.name != "good")
    good = _manifest(args.tree / "good")
    masks: dict[tuple[str, int], np.ndarray] = {}
    rows = []
    for t in types:
        records = _manifest(args.tree / t)
        for i, r in records.items():
            masks[(t, i)] = np.asarray(Image.open(args.tree / t / str(r["mask"])).convert("L")) > 127
        tiles = []
        for i in sorted(records)[: args.per_type]:
            image = np.asarray(Image.open(args.tree / t / str(records[i]["image"])).convert("RGB"))
            twin = np.asarray(Image.open(args.tree / "good" / str(good[i]["image"])).convert("RGB"))
            tiles += [_crop(image, masks[(t, i)], True), _crop(twin, masks[(t, i)], False)]
        rows.append(np.concatenate(tiles, 1))
    Image.fromarray(np.concatenate(rows, 0)).save(args.out)

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        union = (a | b).sum()
        return float((a & b).sum() / union) if union else float("nan")

    indices = sorted({i for _, i in masks})
    same, other = [], []
    for a, b in itertools.combinations(types, 2):
        for k, i in enumerate(indices):
            j = indices[(k + 1) % len(indices)]
            if (a, i) in masks and (b, i) in masks:
                same.append(iou(masks[(a, i)], masks[(b, i)]))
            if (a, i) in masks and (b, j) in masks:
                other.append(iou(masks[(a, i)], masks[(b, j)]))
    print(f"mask IoU between defect types: same seed {np.nanmean(same):.3f}, different seeds {np.nanmean(other):.3f}")


if __name__ == "__main__":
    main()
