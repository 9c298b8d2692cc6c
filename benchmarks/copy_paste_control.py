"""A control for placed-mask pairs: the real training defect itself, pasted into the real photo, no diffusion.

Reads a folder made by ``seas generate --mask-source train --placed-start defect`` and writes a copy
of it whose images are the pair's reference photo with its training defect (the image the mask came
from, turned and flipped as the mask was) pasted over the mask, fading over ``--mask-margin`` px as the
sampler's start does. Masks and records are copied unchanged, so ``seas evaluate segmentation
--generated OUT`` scores the same masks with real pixels: what pairs whose defects are the training
defects themselves, at the placed masks, are worth to a segmenter, with no VAE and no generator.

    python benchmarks/copy_paste_control.py runs/X/generated_defect/tire runs/X/copy_paste/tire
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from PIL import Image

from seas.data.augment import from_training_rgb, to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.generate.placed_masks import defect_start_rgb
from seas.ownership import remove_owned


def copy_paste(source: Path, out: Path) -> int:
    """Write the control for every pair under ``source`` (a product's generated folder); the number written."""
    remove_owned(out, "pairs", "choose another output folder")  # only an earlier control (a pair tree copy)
    shutil.copytree(source, out)
    written = 0
    for manifest in sorted(out.glob("*/manifest.jsonl")):
        for line in manifest.read_text().splitlines():
            record = json.loads(line)
            origin = record.get("mask_from", {})
            if "image" not in origin:
                msg = f"{manifest}: pair {record['index']} has no training image; generate with --placed-start defect"
                raise SystemExit(msg)
            mask = read_mask(manifest.parent / record["mask"])
            resolution = mask.shape[0]
            reference = to_training_rgb(read_rgb(Path(record["reference"])), resolution, "crop")
            rgb = defect_start_rgb(reference, Path(origin["image"]), origin, mask, record["settings"]["mask_margin"])
            pixels = from_training_rgb(rgb)
            Image.fromarray(pixels).save(manifest.parent / record["image"])
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="generated pairs of one product (--placed-start defect)")
    parser.add_argument("out", type=Path, help="where the control goes (replaced)")
    args = parser.parse_args()
    print(f"{copy_paste(args.source, args.out)} pairs with the training defects pasted in: {args.out}")


if __name__ == "__main__":
    main()
