"""Quality scores of every generated pair, recorded in its manifest line, and the ``--keep`` rule on them.

Mask sanity (defect pairs): ``mask_fraction`` (share of the picture, 0-1), ``area_ratio`` (that share
over the median share of the folder's training masks: 1 is a training defect's size), ``on_object``
(share of the mask on the object found from the reference photos, :mod:`seas.data.foreground`;
0-1, 1 expected) and ``components`` (8-connected regions). Change against the start (the reference
photo the pair was drawn from, at the training resolution), in grey levels 0-255: ``change_inside``
and ``change_outside`` (mean absolute difference inside and outside the mask), and ``change_ratio`` =
``(inside + 1) / (outside + 1)``: above 1 when the pair shows more inside its mask than elsewhere.
A normal image gets ``change_outside`` (over the whole picture) only.

The ``--keep`` rules on these scores are read by :mod:`seas.generate.keep_rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from seas.data.augment import from_training_rgb, to_training_mask, to_training_rgb
from seas.data.foreground import object_mask
from seas.data.imageio import read_mask, read_rgb

__all__ = ["PairScorer"]


@dataclass
class PairScorer:
    """Scores pairs of one run at ``resolution``: the object of its reference photos, its types' mask sizes."""

    resolution: int
    references: list[Path]
    training_masks: dict[str, list[Path]]

    def __post_init__(self) -> None:
        self._starts: dict[Path, np.ndarray] = {}
        self._typical: dict[tuple[str, ...], float] = {}
        masks = {t: [self._mask(p) for p in paths] for t, paths in self.training_masks.items()}
        self._fractions = {t: [float(m.mean()) for m in ms] for t, ms in masks.items()}
        starts = [self.start(p) for p in self.references]
        self.object = object_mask(starts, [m for ms in masks.values() for m in ms]).mask

    def _mask(self, path: Path) -> np.ndarray:
        return to_training_mask(read_mask(path) > 0, self.resolution, "crop")[0] > 0.5

    def start(self, reference: Path) -> np.ndarray:
        """The reference photo at the training resolution, ``[R, R, 3]`` uint8, as the sampler starts from it."""
        if reference not in self._starts:
            self._starts[reference] = from_training_rgb(to_training_rgb(read_rgb(reference), self.resolution, "crop"))
        return self._starts[reference]

    def typical_fraction(self, types: list[str]) -> float:
        """Median share of the picture the training masks of ``types`` cover."""
        key = tuple(types)
        if key not in self._typical:
            values = [f for t in types for f in self._fractions.get(t, [])]
            self._typical[key] = float(np.median(values)) if values else float("nan")
        return self._typical[key]

    def __call__(
        self, image: np.ndarray, mask: np.ndarray | None, reference: Path, types: list[str]
    ) -> dict[str, float]:
        """The scores of one pair (``mask`` None: a normal image)."""
        change = np.abs(image.astype(np.float64) - self.start(reference).astype(np.float64)).mean(axis=-1)
        if mask is None:
            return {"change_outside": float(change.mean())}
        fraction = float(mask.mean())
        inside = float(change[mask].mean()) if mask.any() else 0.0
        outside = float(change[~mask].mean()) if not mask.all() else 0.0
        typical = self.typical_fraction(types)
        return {
            "mask_fraction": fraction,
            "area_ratio": fraction / typical if typical > 0 else float("nan"),
            "on_object": float((mask & self.object).sum() / mask.sum()) if mask.any() else 0.0,
            "components": float(ndimage.label(mask, structure=np.ones((3, 3)))[1]),
            "change_inside": inside,
            "change_outside": outside,
            "change_ratio": (inside + 1.0) / (outside + 1.0),
        }
