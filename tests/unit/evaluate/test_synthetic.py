from __future__ import annotations

import numpy as np

from seas.evaluate.synthetic import cutpaste, perlin_defect, perlin_noise


def test_perlin_noise_is_smooth_bounded_and_seeded() -> None:
    a = perlin_noise((64, 64), (4, 4), np.random.default_rng(0))
    b = perlin_noise((64, 64), (4, 4), np.random.default_rng(0))
    assert np.array_equal(a, b)  # same machine: seeded draws, same process
    assert np.abs(a).max() <= 1.5
    assert np.abs(np.diff(a, axis=0)).max() < 0.3  # neighbouring pixels differ little: smooth noise
    assert a[0, 0] == 0.0  # lattice points have zero gradient noise


def test_perlin_defect_changes_only_its_mask() -> None:
    rng = np.random.default_rng(1)
    image, texture = np.full((32, 32, 3), 0.5), np.zeros((32, 32, 3))
    out, mask = perlin_defect(image, texture, rng)
    assert mask.any()
    assert np.array_equal(out[~mask], image[~mask])  # pixels outside the mask are copied


def test_cutpaste_pastes_a_rectangle() -> None:
    rng = np.random.default_rng(2)
    image = np.random.default_rng(3).random((40, 48, 3))
    out, mask = cutpaste(image, rng)
    ys, xs = np.nonzero(mask)
    assert mask.sum() == (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)  # one filled rectangle
    assert np.array_equal(out[~mask], image[~mask])  # pixels outside the mask are copied
    assert 0.01 * 40 * 48 <= mask.sum() <= 0.2 * 40 * 48
