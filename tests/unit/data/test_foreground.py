"""The object mask of the on-object baselines: the object of a scene, the whole picture for a texture."""

from __future__ import annotations

import numpy as np

from seas.data.foreground import object_mask


def _scene(k: int, rng: np.random.Generator) -> np.ndarray:
    """A dark noisy backdrop with a textured grey box whose pattern changes from photo to photo."""
    image = rng.normal(20, 3, (64, 64, 3))
    image[16:48, 20:52] = rng.normal(90, 25, (32, 32, 3))  # the product: brighter, textured, never the same
    return np.clip(image + k % 3, 0, 255).astype(np.uint8)


def test_the_object_is_found_from_normals_and_joined_with_the_defects() -> None:
    rng = np.random.default_rng(0)
    normals = [_scene(k, rng) for k in range(12)]
    defect = np.zeros((64, 64), bool)
    defect[46:51, 30:34] = True  # a defect reaching past the box's edge
    found = object_mask(normals, [defect])
    box = np.zeros((64, 64), bool)
    box[16:48, 20:52] = True
    assert found.method == "silhouette"
    assert (found.mask & box).sum() >= 0.95 * box.sum()
    near = np.zeros((64, 64), bool)
    near[14:50, 18:54] = True  # the box and 2 pixels around it (the 5-pixel smoothing)
    assert not (found.mask & ~near & ~defect).any()  # the backdrop stays out
    assert not (defect & ~found.mask).any()
    record = found.record([defect])
    assert record["defects_on_it"] == 1.0
    assert abs(record["share"] - found.mask.mean()) < 1e-12


def test_a_texture_filling_the_frame_makes_the_whole_picture_the_object() -> None:
    rng = np.random.default_rng(1)
    normals = [rng.normal(120, 30, (64, 64, 3)).clip(0, 255).astype(np.uint8) for _ in range(8)]
    found = object_mask(normals, [np.zeros((64, 64), bool)])
    assert found.method == "whole picture"
    assert found.mask.all()
