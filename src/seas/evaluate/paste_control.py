"""The no-model control of placed-mask pairs: the real training defect pasted at the pair's mask, no generator.

A pair made with ``--mask-source train`` records which training mask it took and how it was turned
(``mask_from``). Its control image is the pair's reference photo with that training defect's image,
turned and flipped the same way, faded in over the pair's ``--mask-margin`` (the start the sampler
uses with ``--placed-start defect``), under the pair's own mask. A segmenter trained on these scores
what the training defects themselves are worth at those masks; the SeaS row beside it shows what the
generator adds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from seas.data.augment import from_training_rgb, to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.data.split import DataSplit
from seas.errors import ConfigError
from seas.generate.outputs import read_manifest
from seas.generate.placed_masks import defect_start_rgb
from seas.review.decisions import accepted

__all__ = ["has_placed_masks", "pasted_pairs"]


def has_placed_masks(tree: Path, types: list[str]) -> bool:
    """Whether every pair of ``types`` under ``tree`` has a mask placed from a training defect (``mask_from``)."""
    records = [r for t in types if (tree / t / "manifest.jsonl").is_file() for r in read_manifest(tree / t)]
    return bool(records) and all("mask_from" in r and r["mask_from"].get("source") != "user" for r in records)


def pasted_pairs(tree: Path, types: list[str], split: DataSplit, size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The control of every pair of ``types``, in manifest order, as ``[size, size, 3]`` uint8 and bool arrays.

    Raises:
        ConfigError: A pair has a mask the RMP head drew or the user gave (no training defect belongs to it).
    """
    image_of = {str(mask): image for t in split.types for image, mask in split.types[t].train}
    for t in types:
        for record in accepted(tree, t, read_manifest(tree / t)):  # the pairs the seas row uses
            origin = record.get("mask_from")
            if origin is None or origin.get("source") == "user":
                subject = "--variants paste"
                raise ConfigError(
                    subject,
                    f"{tree / t}: pair {record['index']} has a mask the RMP head drew or the user gave, "
                    "not a training mask",
                    "generate with --mask-source train, or leave paste out of --variants",
                )
            mask = read_mask(tree / t / record["mask"])
            resolution = mask.shape[0]
            reference = to_training_rgb(read_rgb(Path(record["reference"])), resolution, "crop")
            defect = Path(origin.get("image") or image_of[origin["mask"]])
            margin = int(record["settings"]["mask_margin"])
            pixels = from_training_rgb(defect_start_rgb(reference, defect, origin, mask, margin))
            image = np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR))
            small = np.asarray(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST)) > 0
            yield image, small
