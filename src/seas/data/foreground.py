"""Where a product's defects can be: the object's silhouette, found from its defect-free images.

The frame of a photo (its outer sixteenth on every side) is taken to be backdrop. A pixel belongs to
the object when it is unlike that backdrop in either of two ways: its median colour over the normal
images is farther from the frame's median colour, or its colour varies more across the normal images
(a turned tire, a moved screw) than the frame's pixels do; "farther" and "more" mean beyond the 99th
percentile of the same quantity over the frame by a tenth of the way to its 99th percentile over the
whole picture (a faint reflection on the backdrop stays backdrop). The largest such region, holes
filled, is the object, joined with the training defects' masks (defects occur where they have
occurred). When that region is under 2 % or over 90 % of the picture (a texture filling the frame,
or a backdrop like the object), the whole picture counts as the object, and the record says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["ObjectMask", "object_mask"]

_FRAME = 16  # the frame is 1/16 of the side on every edge
_PLAUSIBLE = (0.02, 0.90)  # object shares outside this range mean "no object found"
_MARGIN = 0.1  # a pixel must be this share of the way from the backdrop's level to the picture's top


@dataclass(frozen=True)
class ObjectMask:
    """The object's ``[H, W]`` bool mask and how it was found (``silhouette`` or ``whole picture``)."""

    mask: np.ndarray
    method: str

    def record(self, defect_masks: list[np.ndarray]) -> dict[str, float | str]:
        """Its share of the picture and the share of the given defect pixels on it (a check: 1.0 expected)."""
        pixels = sum(int(m.sum()) for m in defect_masks)
        inside = sum(int((m & self.mask).sum()) for m in defect_masks)
        return {"method": self.method, "share": float(self.mask.mean()), "defects_on_it": inside / max(pixels, 1)}


def _beyond_frame(value: np.ndarray, frame: np.ndarray) -> np.ndarray:
    smooth = ndimage.uniform_filter(value, 5)
    backdrop, top = np.quantile(smooth[frame], 0.99), np.quantile(smooth, 0.99)
    return smooth > backdrop + _MARGIN * max(top - backdrop, 0.0)


def object_mask(normals: list[np.ndarray], defect_masks: list[np.ndarray]) -> ObjectMask:
    """The object of ``normals`` (``[H, W, 3]`` uint8, one size), joined with ``defect_masks`` (``[H, W]`` bool)."""
    stack = np.stack(normals).astype(np.float64) / 255.0
    height, width = stack.shape[1:3]
    border = max(1, min(height, width) // _FRAME)
    frame = np.zeros((height, width), dtype=bool)
    frame[:border], frame[-border:], frame[:, :border], frame[:, -border:] = True, True, True, True
    median = np.median(stack, axis=0)
    distance = np.linalg.norm(median - np.median(median[frame], axis=0), axis=-1)
    spread = stack.std(axis=0).mean(axis=-1)
    found = _beyond_frame(distance, frame) | _beyond_frame(spread, frame)
    labels, count = ndimage.label(found, structure=np.ones((3, 3)))
    region = np.zeros_like(found)
    if count:
        sizes = ndimage.sum(found, labels, index=range(1, count + 1))
        region = ndimage.binary_fill_holes(labels == 1 + int(np.argmax(sizes)))
    if not _PLAUSIBLE[0] <= region.mean() <= _PLAUSIBLE[1]:
        return ObjectMask(np.ones((height, width), dtype=bool), "whole picture")
    for mask in defect_masks:
        region |= mask
    return ObjectMask(region, "silhouette")
