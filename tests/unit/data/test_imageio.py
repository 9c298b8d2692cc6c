from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.data.imageio import read_mask, read_rgb
from seas.errors import InputFileError

RGB = np.array([[[200, 10, 30], [0, 255, 0]], [[5, 5, 5], [90, 80, 70]]], dtype=np.uint8)


def test_modes_become_rgb(tmp_path: Path) -> None:
    grey = Image.fromarray(np.array([[0, 128], [255, 7]], dtype=np.uint8))
    grey.save(tmp_path / "g.png")
    assert read_rgb(tmp_path / "g.png")[0, 1].tolist() == [128, 128, 128]
    rgba = Image.fromarray(np.dstack([RGB, np.full((2, 2), 17, np.uint8)]), "RGBA")
    rgba.save(tmp_path / "a.png")
    assert np.array_equal(read_rgb(tmp_path / "a.png"), RGB)  # uint8 pixels of a lossless file
    Image.fromarray(RGB).convert("P").save(tmp_path / "p.png")
    assert read_rgb(tmp_path / "p.png").shape == (2, 2, 3)
    Image.fromarray(RGB).convert("CMYK").save(tmp_path / "c.tif")
    assert np.abs(read_rgb(tmp_path / "c.tif").astype(int) - RGB).max() <= 2
    Image.fromarray(RGB).save(tmp_path / "t.tiff")
    assert np.array_equal(read_rgb(tmp_path / "t.tiff"), RGB)  # uint8 pixels of a lossless file


def test_16_bit_is_scaled_not_clipped(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 65535], [32768, 257]], dtype=np.uint16)).save(tmp_path / "d.png")
    assert read_rgb(tmp_path / "d.png")[:, :, 0].tolist() == [[0, 255], [128, 1]]


def test_jpeg_exif_orientation_is_applied(tmp_path: Path) -> None:
    wide = Image.fromarray(np.zeros((20, 40, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    wide.save(tmp_path / "o.jpg", exif=exif)
    assert read_rgb(tmp_path / "o.jpg").shape == (40, 20, 3)


@pytest.mark.parametrize("value", [1, 255, 3])
def test_any_nonzero_mask_value_is_defect(tmp_path: Path, value: int) -> None:
    Image.fromarray(np.array([[0, value], [0, 0]], dtype=np.uint8)).save(tmp_path / "m.png")
    assert read_mask(tmp_path / "m.png").tolist() == [[False, True], [False, False]]


def test_multichannel_and_palette_masks(tmp_path: Path) -> None:
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[1, 1, 2] = 9  # defect only in the blue channel
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert read_mask(tmp_path / "rgb.png").tolist() == [[False, False], [False, True]]
    pal = Image.fromarray(np.array([[0, 2], [0, 0]], dtype=np.uint8), "P")
    pal.putpalette([255, 255, 255] + [0, 0, 0] * 255)  # index 0 is drawn white: indices, not colours, count
    pal.save(tmp_path / "pal.png")
    assert read_mask(tmp_path / "pal.png").tolist() == [[False, True], [False, False]]


def test_truncated_file_is_refused_with_its_name(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((64, 64, 3), dtype=np.uint8) + 40).save(tmp_path / "x.png")
    data = (tmp_path / "x.png").read_bytes()
    (tmp_path / "x.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match=r"x\.png: unreadable or truncated image"):
        read_rgb(tmp_path / "x.png")
