"""Augmentation and resizing of training images and masks (docs/method.md §2.2).

``rot90_flip`` draws a rotation in {0, 90, 180, 270} degrees and a flip in {none, left-right,
top-bottom}, the reference's distribution, but rotates by exact pixel transposes, so nothing is
cropped or interpolated for any aspect ratio (pitfall 11). An image and its mask share a draw.
Then the shorter side goes to the resolution (bilinear, antialiased) and the centre is cropped
(``crop``), or the image is stretched to a square (``stretch``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

__all__ = ["augment_draw", "from_training_rgb", "rotate_flip", "to_training_mask", "to_training_rgb"]


def augment_draw(rng: np.random.Generator, augment: str) -> tuple[int, int]:
    """(quarter turns 0-3, flip 0 none / 1 left-right / 2 top-bottom) for one item."""
    if augment == "none":
        return 0, 0
    return int(rng.integers(0, 4)), int(rng.integers(0, 3))


def rotate_flip(array: np.ndarray, turns: int, flip: int) -> np.ndarray:
    """Rotate ``[H, W, ...]`` by ``turns`` quarter turns counter-clockwise, then flip; lossless."""
    out = np.rot90(array, k=turns, axes=(0, 1))
    if flip == 1:
        out = out[:, ::-1]
    elif flip == 2:
        out = out[::-1]
    return np.ascontiguousarray(out)


def _resize(image: Image.Image, resolution: int, resize: str) -> Image.Image:
    width, height = image.size
    if resize == "stretch":
        return image.resize((resolution, resolution), Image.Resampling.BILINEAR)
    scale = resolution / min(width, height)
    new_w, new_h = max(resolution, round(width * scale)), max(resolution, round(height * scale))
    image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)  # PIL antialiases when shrinking
    left, top = (new_w - resolution) // 2, (new_h - resolution) // 2
    return image.crop((left, top, left + resolution, top + resolution))


def to_training_rgb(rgb: np.ndarray, resolution: int, resize: str) -> np.ndarray:
    """``[H, W, 3]`` uint8 -> ``[3, R, R]`` float32 in [-1, 1]."""
    out = np.asarray(_resize(Image.fromarray(rgb), resolution, resize), dtype=np.float32)
    return out.transpose(2, 0, 1) / 127.5 - 1.0


def from_training_rgb(rgb: np.ndarray) -> np.ndarray:
    """``[3, R, R]`` float in [-1, 1] -> ``[R, R, 3]`` uint8, rounded: the inverse of :func:`to_training_rgb`."""
    return np.clip(np.round((rgb.transpose(1, 2, 0) + 1) * 127.5), 0, 255).astype(np.uint8)


def to_training_mask(mask: np.ndarray, resolution: int, resize: str) -> np.ndarray:
    """``[H, W]`` bool -> ``[1, R, R]`` float32 in [0, 1], soft at the edges after the bilinear resize."""
    image = Image.fromarray(mask.astype(np.float32), mode="F")
    return np.clip(np.asarray(_resize(image, resolution, resize), dtype=np.float32), 0.0, 1.0)[None]
