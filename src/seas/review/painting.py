"""Masks painted on the review page (``/paint``), saved where ``seas generate --mask-source DIR`` reads them.

The page paints on the run's normal images as generation sees them (centre-cropped and resized to the run's
resolution), so a painted mask lands where it was drawn. Each save writes a new file ``DIR/<type>/NNNN.png``
(the next free number; an existing file is never replaced), atomically, and only after the same checks
``--mask-source`` applies (size, binary, not empty).
"""

from __future__ import annotations

import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from seas.data.augment import from_training_rgb, to_training_rgb
from seas.data.imageio import read_rgb
from seas.errors import SeasError
from seas.files import atomic_write_bytes
from seas.generate.user_masks import MASK_SUFFIXES

__all__ = ["MaskPainter"]

_NUMBERED = re.compile(r"^(\d{4,})\.png$")


@dataclass
class MaskPainter:
    """The normal pictures to paint on and the folder painted masks go to (``out/<type>/NNNN.png``)."""

    normals: list[Path]
    resolution: int
    types: list[str]
    out: Path
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def picture(self, index: int) -> bytes:
        """Normal image ``index`` as a PNG at the run's resolution, cropped as generation crops it."""
        rgb = from_training_rgb(to_training_rgb(read_rgb(self.normals[index]), self.resolution, "crop"))
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="PNG")
        return buffer.getvalue()

    def saved(self) -> dict[str, int]:
        """How many masks each type's folder holds."""
        return {t: len(self._masks(t)) for t in self.types}

    def _masks(self, defect_type: str) -> list[Path]:
        where = self.out / defect_type
        return sorted(p for p in where.iterdir() if p.suffix.lower() in MASK_SUFFIXES) if where.is_dir() else []

    def save(self, defect_type: str, bits: bytes) -> Path:
        """Write one painted mask (``bits``: R*R bytes, 0 or 1, row by row); returns the new file.

        Raises:
            SeasError: An unknown type, or a mask of the wrong size, not binary or empty (one line).
        """
        if defect_type not in self.types:
            msg = f"no defect type {defect_type!r} in this run (one of {', '.join(self.types)})"
            raise SeasError(msg)
        side = self.resolution
        if len(bits) != side * side:
            msg = f"a painted mask has {len(bits)} pixels, the run generates {side}x{side}"
            raise SeasError(msg)
        mask = np.frombuffer(bits, dtype=np.uint8).reshape(side, side)
        if not set(np.unique(mask).tolist()) <= {0, 1}:
            msg = "a painted mask must hold 0 and 1 only"
            raise SeasError(msg)
        if not mask.any():
            msg = "the painted mask is empty: paint the defect first"
            raise SeasError(msg)
        buffer = io.BytesIO()
        Image.fromarray(mask * 255).save(buffer, format="PNG")
        with self._lock:  # two saves at once must not pick the same number
            numbers = [int(m.group(1)) for p in self._masks(defect_type) if (m := _NUMBERED.match(p.name))]
            path = self.out / defect_type / f"{max(numbers, default=-1) + 1:04d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, buffer.getvalue())
        return path
