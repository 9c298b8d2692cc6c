"""Masks painted on the review page: checked as --mask-source checks them, new files only."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.errors import SeasError
from seas.review.painting import MaskPainter


def _painter(tmp_path: Path) -> MaskPainter:
    normal = tmp_path / "normal.png"
    picture = np.zeros((40, 80, 3), np.uint8)
    picture[:, 20:60] = 200  # the centre square generation keeps after the crop
    Image.fromarray(picture).save(normal)
    return MaskPainter([normal], 8, ["hole"], tmp_path / "painted")


def test_the_picture_is_the_crop_generation_uses(tmp_path: Path) -> None:
    shown = np.asarray(Image.open(io.BytesIO(_painter(tmp_path).picture(0))))
    assert shown.shape == (8, 8, 3)
    assert shown.min() > 150  # only the bright centre square is left


def test_saves_are_numbered_new_files_and_bad_masks_write_nothing(tmp_path: Path) -> None:
    painter = _painter(tmp_path)
    bits = np.zeros(64, np.uint8)
    bits[9:12] = 1
    first, second = painter.save("hole", bits.tobytes()), painter.save("hole", bits.tobytes())
    assert [first.name, second.name] == ["0000.png", "0001.png"]
    assert np.array_equal(np.asarray(Image.open(first)) > 0, bits.reshape(8, 8) > 0)
    for kind, data, text in (
        ("crack", bits.tobytes(), "no defect type 'crack'"),
        ("hole", bits[:60].tobytes(), "has 60 pixels, the run generates 8x8"),
        ("hole", (bits * 3).tobytes(), "0 and 1 only"),
        ("hole", bytes(64), "empty"),
    ):
        with pytest.raises(SeasError, match=text):
            painter.save(kind, data)
    assert painter.saved() == {"hole": 2}
