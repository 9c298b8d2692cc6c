"""Reading images and masks as users' files really arrive (docs/method.md §2.2, "Masks").

Images of any PIL mode (grey, RGBA, palette, CMYK, 16-bit, float) become 8-bit RGB with the
JPEG/TIFF EXIF orientation applied. Masks become one boolean channel where any non-zero value is
defect, so 0/255, 0/1 and class-id encodings all work.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from seas.errors import InputFileError

__all__ = ["image_size", "read_mask", "read_rgb"]


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()  # decode now, so truncated files fail here and not mid-training
    except FileNotFoundError as exc:
        raise InputFileError(path, "file not found", "check the path") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(
            path, f"unreadable or truncated image ({reason})", "re-export or remove the file"
        ) from exc
    return ImageOps.exif_transpose(image)


def _to_uint8(array: np.ndarray, mode: str) -> np.ndarray:
    """Scale 16-bit, 32-bit integer or float pixel values to 0..255."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        peak = 1.0 if float(np.nanmax(array, initial=0.0)) <= 1.0 else 255.0
        return np.clip(np.nan_to_num(array) / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
    top = 65535 if (mode.startswith("I;16") or int(array.max(initial=0)) > 255) else 255
    return np.clip(array.astype(np.float64) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)


def read_rgb(path: Path) -> np.ndarray:
    """Read an image as RGB.

    Returns:
        ``[H, W, 3]`` uint8 array, orientation as displayed.

    Raises:
        InputFileError: The file is missing, unreadable or truncated.
    """
    image = _open(path)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        grey = _to_uint8(np.asarray(image), image.mode)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    # RGBA/LA: the alpha channel is dropped, colour kept (masks of defects never live in alpha).
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def read_mask(path: Path) -> np.ndarray:
    """Read a mask as one boolean channel: any non-zero value (in any colour channel) is defect.

    Palette masks use their indices (class ids), not the palette colours.

    Returns:
        ``[H, W]`` bool array.

    Raises:
        InputFileError: The file is missing, unreadable or truncated.
    """
    image = _open(path)
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGB") if image.mode == "RGBA" else image.convert("L")
    elif image.mode == "CMYK":
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim == 3:
        array = array.max(axis=2)
    return array != 0


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as displayed (EXIF orientation applied); decodes the file fully."""
    return _open(path).size
