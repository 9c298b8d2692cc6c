"""Reconstruction metrics and the mask-agreement helpers on hand-built tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seas.evaluate.pairs import PooledPixelScores, derangement, pixel_scores
from seas.evaluate.reconstruction import DefectFidelity, detail_ratio, psnr, ssim, zoom_box, zoom_strip


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
    assert derangement(1, seed=4).tolist() == [0]  # one pair: no other mask, the identity (callers rely on it)
    assert derangement(0, seed=4).tolist() == []


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


def _scored_masks(seed: int, bins: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Scores that rank defects higher on average (on the bin edges ``k / bins`` when ``bins`` is given)."""
    rng = np.random.default_rng(seed)
    masks = rng.random((6, 16, 16)) < 0.1
    scores = np.clip(rng.normal(0.4, 0.2, masks.shape) + 0.3 * masks, 0, 1)
    if bins is not None:
        scores = np.minimum(np.floor(scores * bins), bins - 1) / bins  # 1.0 shares the top bin
    return scores, masks


def test_pooled_pixel_scores_equal_the_exact_definitions_batch_by_batch() -> None:
    # On the bin edges the binned counts are the exact ranking (ties included), added in any batches.
    scores, masks = _scored_masks(seed=3, bins=64)
    pooled = PooledPixelScores(bins=64)
    for k in range(0, 6, 4):
        pooled.add(scores[k : k + 4], masks[k : k + 4])
    got, exact = pooled.result(), pixel_scores(scores, masks)
    for key in ("pixel_auroc", "pixel_ap", "defect_rate"):
        assert abs(got[key] - exact[key]) < 1e-12, key  # type: ignore[operator]
    # Continuous scores: only pixels sharing one of the 2^20 bins count as tied.
    scores, masks = _scored_masks(seed=4, bins=None)
    pooled = PooledPixelScores()
    pooled.add(scores, masks)
    got, exact = pooled.result(), pixel_scores(scores, masks)
    assert abs(got["pixel_auroc"] - exact["pixel_auroc"]) < 1e-5  # type: ignore[operator]
    assert abs(got["pixel_ap"] - exact["pixel_ap"]) < 1e-5  # type: ignore[operator]


def test_pooled_pixel_scores_missing_class_and_perfect_scores() -> None:
    masks = np.zeros((2, 8, 8), dtype=bool)
    empty = PooledPixelScores(bins=16)
    empty.add(np.ones((2, 8, 8)), masks)
    assert empty.result()["pixel_auroc"] is None
    masks[0, 2:4, 2:4] = True
    perfect = PooledPixelScores(bins=16)
    perfect.add(masks.astype(float), masks)  # score 1.0 lands in the top bin, not past it
    assert perfect.result()["pixel_auroc"] == 1.0
    assert perfect.result()["pixel_ap"] == 1.0


def _spotted(n: int = 4, side: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat grey images, each with a bright 4x4 spot (its mask) in another place."""
    images = torch.full((n, 3, side, side), -0.5)
    masks = torch.zeros((n, side, side), dtype=torch.bool)
    for k in range(n):
        masks[k, 4 + 5 * k : 8 + 5 * k, 6:10] = True
        images[k][:, masks[k]] = 0.9
    return images, masks


def _fidelity(images: torch.Tensor, recon: torch.Tensor, masks: torch.Tensor, batch: int) -> dict[str, object]:
    order = torch.from_numpy(derangement(len(masks), 0))
    fidelity = DefectFidelity()
    for k in range(0, len(masks), batch):
        fidelity.add(images[k : k + batch], recon[k : k + batch], masks[k : k + batch], masks[order[k : k + batch]])
    return fidelity.result()


def test_defect_fidelity_tells_a_vae_that_erases_defects_from_one_that_keeps_them() -> None:
    images, masks = _spotted()
    grain = 0.01 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    kept = _fidelity(images, images + grain, masks, batch=4)  # uniform error: the defect is kept
    assert kept["images"] == 4
    assert kept["ratio"] == pytest.approx(kept["shuffled_ratio"], rel=0.2)
    erased = images.clone()
    for k in range(4):
        erased[k][:, masks[k]] = -0.5  # a normal-only autoencoder paints the product over the spot
    painted = _fidelity(images, erased + grain, masks, batch=4)
    assert painted["inside"] == pytest.approx(1.4 * 127.5, rel=0.02)  # the whole spot contrast is lost
    assert painted["ratio"] > 50 * painted["shuffled_ratio"]  # type: ignore[operator]
    in_batches = _fidelity(images, erased + grain, masks, batch=3)  # running sums: batching changes nothing
    assert in_batches["images"] == 4
    assert in_batches["ratio"] == pytest.approx(painted["ratio"], rel=1e-6)
    assert in_batches["shuffled_ratio"] == pytest.approx(painted["shuffled_ratio"], rel=1e-6)


def test_defect_fidelity_without_defect_pixels_has_no_ratio() -> None:
    images, masks = _spotted()
    result = _fidelity(images, images, torch.zeros_like(masks), batch=4)
    assert result["ratio"] is None
    assert result["shuffled_ratio"] is None
    assert result["images"] == 4


def test_zoom_strip_magnifies_each_image_around_its_own_mask() -> None:
    images, masks = _spotted(2)
    picture = zoom_strip([images, -images], masks)
    assert picture.shape == (64, 64, 3)  # two rows of two full-size tiles
    left, top, right, bottom = zoom_box(masks[1].numpy())
    assert (right - left, bottom - top) == (8, 8)  # a quarter of the side: the spot fills a quarter of it
    spot = picture[:32, 32:]  # second image, originals row
    assert (spot > 200).mean() == pytest.approx(0.25, abs=0.02)  # 4x4 of 8x8 pixels, enlarged 4x
    assert (picture[32:, 32:] < 60).mean() == pytest.approx(0.25, abs=0.02)  # the negated row keeps the layout
