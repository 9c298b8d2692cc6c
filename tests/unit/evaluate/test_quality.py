"""Reconstruction metrics and the mask-agreement helpers on hand-built tensors."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from seas.evaluate.pairs import derangement, pixel_scores
from seas.evaluate.reconstruction import detail_ratio, psnr, ssim


def _images(seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand((3, 3, 32, 32), generator=g)


def test_psnr_matches_its_definition() -> None:
    x = _images()
    y = (x + 0.1).clamp(0, 1)
    expected = -10 * torch.log10(((x - y) ** 2).flatten(1).mean(1))
    assert torch.allclose(psnr(y, x), expected)
    assert psnr(x, x).min() > 100  # identical images: capped at 120 dB, never inf


def test_ssim_is_one_for_identical_images_and_drops_for_blur_and_noise() -> None:
    x = _images()
    assert torch.allclose(ssim(x, x), torch.ones(3), atol=1e-5)
    blurred = F.avg_pool2d(x, 3, stride=1, padding=1)
    noisy = (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).clamp(0, 1)
    assert (ssim(blurred, x) < 0.9).all()
    assert (ssim(noisy, x) < 0.9).all()


def test_detail_ratio_is_one_for_identical_and_small_for_a_constant_image() -> None:
    x = _images()
    assert abs(detail_ratio(x, x) - 1.0) < 1e-6
    assert detail_ratio(x.mean(0, keepdim=True).expand_as(x) * 0 + 0.5, x) == 0.0
    assert detail_ratio(F.avg_pool2d(x, 5, stride=1, padding=2), x) < 0.5


def test_derangement_has_no_fixed_point_and_is_seeded() -> None:
    for n in (2, 3, 10):
        order = derangement(n, seed=4)
        assert sorted(order.tolist()) == list(range(n))
        assert not np.any(order == np.arange(n))
        assert np.array_equal(order, derangement(n, seed=4))  # integer permutation


def test_pixel_scores_perfect_chance_and_missing_class() -> None:
    masks = np.zeros((2, 8, 8), dtype=bool)
    masks[0, 2:4, 2:4] = True
    perfect = pixel_scores(masks.astype(float), masks)
    assert perfect["pixel_auroc"] == 1.0
    assert perfect["pixel_ap"] == 1.0
    assert perfect["defect_rate"] == 4 / 128
    flat = pixel_scores(np.ones((2, 8, 8)), masks)
    assert flat["pixel_auroc"] == 0.5  # constant scores: chance
    assert flat["pixel_ap"] == 4 / 128  # AP of a scorer that knows nothing = the defect-pixel rate
    empty = pixel_scores(np.ones((2, 8, 8)), np.zeros((2, 8, 8), dtype=bool))
    assert empty["pixel_auroc"] is None
    assert empty["pixel_ap"] is None
