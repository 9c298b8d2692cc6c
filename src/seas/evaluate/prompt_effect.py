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
out (counted as ``skipped``). Needs ``seas generate --normals N`` with N ≥ the pairs per type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from seas.data.imageio import read_mask, read_rgb
from seas.evaluate.pairs import derangement

__all__ = ["VISIBLE", "prompt_effect"]

VISIBLE = 8  # grey levels (of 255)


def _records(folder: Path) -> dict[int, dict[str, Any]]:  # Any: JSON
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        return {}
    rows = (json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines())
    return {int(r["index"]): r for r in rows}


def _change(a: Path, b: Path) -> np.ndarray:
    """``[H, W]`` mean absolute difference over the colour channels, in grey levels."""
    return np.abs(read_rgb(a).astype(np.int16) - read_rgb(b).astype(np.int16)).mean(axis=2)


def _ratio(changes: list[np.ndarray], masks: list[np.ndarray]) -> dict[str, float | None]:
    inside = sum(float(d[m].sum()) for d, m in zip(changes, masks, strict=True))
    n_in = sum(int(m.sum()) for m in masks)
    outside = sum(float(d[~m].sum()) for d, m in zip(changes, masks, strict=True))
    n_out = sum(int((~m).sum()) for m in masks)
    if not n_in or not n_out:
        return {"inside": None, "outside": None, "ratio": None, "visible_inside": None}
    visible = sum(int((d[m] > VISIBLE).sum()) for d, m in zip(changes, masks, strict=True))
    mean_in, mean_out = inside / n_in, outside / n_out
    return {"inside": mean_in, "outside": mean_out, "ratio": mean_in / max(mean_out, 1e-9),
            "visible_inside": visible / n_in}  # fmt: skip


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
        changes, masks, skipped = [], [], 0
        for index, r in sorted(_records(tree / t).items()):
            twin = good.get(index)
            if twin is None or twin["seed"] != r["seed"] or twin["reference"] != r["reference"] or "mask" not in r:
                skipped += 1
                continue
            changes.append(_change(tree / t / r["image"], tree / "good" / twin["image"]))
            masks.append(read_mask(tree / t / r["mask"]))
        row: dict[str, Any] = {"pairs": len(changes), "skipped": skipped, "generated": _ratio(changes, masks)}
        order = derangement(len(masks), seed) if len(masks) > 1 else np.arange(len(masks))
        row["shuffled_masks"] = _ratio(changes, [masks[i] for i in order])
        out[t] = row
    return out
