"""A picture of every training set of ``seas evaluate segmentation``: what each baseline's pairs look like.

One row per added set (the real training defects first, for comparison), four pairs per row, each
pair as the whole image with its mask outlined in red and, beside it, the region around the mask
magnified (a tire defect is a few pixels at 128 px). Written to ``RUN/evaluation/training_sets.png``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from seas.evaluate.reconstruction import outline, zoom_box
from seas.evaluate.segmentation import VARIANTS
from seas.files import atomic_write_bytes

__all__ = ["PER_ROW", "write_set_pictures"]

PER_ROW = 4
_TILE = 128
_LABEL = 18
_LABELS = {"real": "real training defects (in every set)"}


def _outlined(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = image.copy()
    out[outline(mask, 1)] = (255, 40, 40)
    return out


def _tiles(image: np.ndarray, mask: np.ndarray) -> list[Image.Image]:
    whole = Image.fromarray(_outlined(image, mask)).resize((_TILE, _TILE), Image.Resampling.NEAREST)
    square_image = np.asarray(Image.fromarray(image).resize((_TILE, _TILE), Image.Resampling.BILINEAR))
    square_mask = np.asarray(Image.fromarray(mask).resize((_TILE, _TILE), Image.Resampling.NEAREST))
    box = zoom_box(square_mask)
    zoom = Image.fromarray(_outlined(square_image, square_mask)).crop(box)
    return [whole, zoom.resize((_TILE, _TILE), Image.Resampling.NEAREST)]


def write_set_pictures(rows: dict[str, list[tuple[np.ndarray, np.ndarray]]], path: Path) -> None:
    """The grid of ``rows`` (set name -> its first pairs, uint8 image and bool mask) as a PNG."""
    rows = {name: pairs[:PER_ROW] for name, pairs in rows.items() if pairs}
    if not rows:
        return
    canvas = Image.new("RGB", (2 * PER_ROW * _TILE, len(rows) * (_TILE + _LABEL)), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, (name, pairs) in enumerate(rows.items()):
        top = r * (_TILE + _LABEL)
        draw.text((4, top + 3), _LABELS.get(name) or VARIANTS.get(name, name), fill=(0, 0, 0))
        for k, (image, mask) in enumerate(pairs):
            for j, tile in enumerate(_tiles(image, mask)):
                canvas.paste(tile, ((2 * k + j) * _TILE, top + _LABEL))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
