"""The user's own masks (``seas generate --mask-source DIR``): one folder of binary masks per defect type.

``DIR/<type>/`` (``DIR/a+b/`` for a ``--combine`` mixture) holds mask images at the run's training
resolution; pair ``n`` of the type takes the ``n``-th file in sorted order (cycling when there are
fewer files than pairs), and its written mask is that file, bit for bit: no resize, turn or flip.
Every file is checked before any weights load, in one line each: readable, the right size, binary
(two values, 0 and one other), not empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from seas.data.imageio import read_mask
from seas.errors import InputFileError

__all__ = ["MASK_SUFFIXES", "check_user_masks"]

MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")


def _check(path: Path, resolution: int) -> None:
    mask = read_mask(path)  # one line for a missing or unreadable file
    if mask.shape != (resolution, resolution):
        height, width = mask.shape
        raise InputFileError(
            path,
            f"is {width}x{height} px, the run generates at {resolution}x{resolution}",
            f"resize it to {resolution} px",
        )
    with Image.open(path) as image:
        values = np.unique(np.asarray(image.convert("L")))
    if len(values) > 2:
        raise InputFileError(path, f"is not binary ({len(values)} grey levels)", "save it with 0 and 255 only")
    if not mask.any():
        raise InputFileError(path, "is empty (no defect pixel)", "draw the defect, or remove the file")


def check_user_masks(root: Path, folders: list[str], resolution: int) -> dict[str, list[Path]]:
    """The sorted mask files of each folder under ``root``, every one checked.

    Raises:
        InputFileError: A folder without masks, or a file that is unreadable, mis-sized, not binary or empty.
    """
    out = {}
    for folder in folders:
        where = root / folder
        files = sorted(p for p in where.iterdir() if p.suffix.lower() in MASK_SUFFIXES) if where.is_dir() else []
        if not files:
            raise InputFileError(
                where, "holds no mask for this defect type", f"add {resolution}x{resolution} binary PNG masks there"
            )
        for path in files:
            _check(path, resolution)
        out[folder] = files
    return out
