"""The picture conversions every stage shares."""

from __future__ import annotations

import numpy as np

from seas.data.augment import from_training_rgb, to_training_rgb


def test_a_picture_comes_back_from_the_model_range_unchanged() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    back = from_training_rgb(to_training_rgb(rgb, 16, "crop"))  # same size: the resize changes nothing
    assert back.dtype == np.uint8
    assert np.array_equal(back, rgb)


def test_values_beyond_the_model_range_are_clipped_not_wrapped() -> None:
    chw = np.stack([np.full((2, 2), -1.5), np.full((2, 2), 1.5), np.full((2, 2), 0.0)]).astype(np.float32)
    assert from_training_rgb(chw)[0, 0].tolist() == [0, 255, 128]
