"""Where does the defect prompt change the picture? A check read from the generated files alone.

Generated image ``n`` of every folder starts from the same reference image and seed (``good/`` with
the normal prompt "a <ob>", each defect type with its prompt), so ``|defect_n − good_n|`` is exactly
what the defect tokens changed. A generator that draws a defect where its mask says changes the
pixels inside the mask far more than outside (ratio ≫ 1); one whose tokens only shift the whole
picture scores about 1. The baseline is the same ratio against another pair's mask of the type (a
seeded derangement): what a mask in an unrelated place scores on these images. Also reported: the
mean change inside and outside in grey levels, and the share of mask pixels changed by more than
``VISIBLE`` grey levels (about what one notices on a dark product at 100 % zoom).

Pairs redrawn by the mask-fraction filter have another seed than their ``good`` twin and are left
out (counted as ``skipped``), and so are pairs with a placed mask (``--mask-source train``): outside
their mask they are the reference image, not a generated twin, so the ratio would be large by
construction. Needs ``seas generate --normals N`` with N ≥ the pairs per type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seas.data.imageio import read_mask, read_rgb
from seas.evaluate.inside_outside import InsideOutside
from seas.evaluate.pairs import derangement
from seas.generate.outputs import read_manifest

__all__ = ["VISIBLE", "grey_change", "prompt_effect"]

VISIBLE = 8  # grey levels (of 255)


def _records(folder: Path) -> dict[int, dict[str, Any]]:  # Any: JSON
    return {int(r["index"]): r for r in read_manifest(folder)}


def grey_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[H, W]`` float32 mean absolute difference of two ``[H, W, 3]`` uint8 pictures over the colour channels."""
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=2, dtype=np.float32)


def _change(a: Path, b: Path) -> np.ndarray:
    """``[H, W]`` float32 mean absolute difference of two picture files, in grey levels."""
    return grey_change(read_rgb(a), read_rgb(b))


def prompt_effect(tree: Path, types: list[str], seed: int) -> dict[str, Any] | None:  # Any: JSON
    """Per defect type: the change the prompt makes inside vs outside the masks (module docstring).

    Args:
        tree: ``<generated>/<product>``.
        types: Defect types to measure.
        seed: Seeds the derangement of the baseline.

    Returns:
        ``{type: {"pairs", "skipped", "generated": {...}, "shuffled_masks": {...}}}``, or None when
        ``tree/good`` holds no normal images to compare with.
    """
    good = _records(tree / "good")
    if not good:
        return None
    out: dict[str, Any] = {}
    for t in types:
        records = sorted(_records(tree / t).items())
        pairs = [
            (r, good[i])
            for i, r in records
            if i in good
            and "mask" in r
            and good[i]["seed"] == r["seed"]
            and good[i]["reference"] == r["reference"]
            and "mask_from" not in r
        ]
        masks = [read_mask(tree / t / r["mask"]) for r, _ in pairs]  # bool: small beside the images
        order = derangement(len(masks), seed)
        own, shuffled = InsideOutside(VISIBLE), InsideOutside(VISIBLE)
        for k, (r, twin) in enumerate(pairs):
            change = _change(tree / t / r["image"], tree / "good" / twin["image"])
            own.add(change, masks[k])
            shuffled.add(change, masks[order[k]])
        placed = sum("mask_from" in r for _, r in records)
        out[t] = {
            "pairs": len(pairs),
            "skipped": len(records) - len(pairs),
            "placed_masks": placed,
            "generated": own.result(),
            "shuffled_masks": shuffled.result(),
        }
    return out
