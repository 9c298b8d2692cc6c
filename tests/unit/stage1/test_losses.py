from __future__ import annotations

import math

import pytest
import torch

from seas.stage1.losses import LossSettings, da_level_loss, da_targets, denoise_target, step_losses


def _maps(normal: torch.Tensor, anomaly: torch.Tensor) -> torch.Tensor:
    """[B_a, m, H, W] with one product-token column and 4 identical defect-token columns."""
    return torch.stack([normal] + [anomaly] * 4, dim=1)


def test_perfect_maps_give_zero_da() -> None:
    g = torch.zeros(1, 4, 4)
    g[0, 1:3, 1:3] = 1.0
    anomaly_term, normal_term, empty = da_level_loss(_maps(1 - g, g), 1, g, "batch", "half")
    assert anomaly_term.item() == 0.0
    assert normal_term.item() == 0.0
    assert not empty


def test_hand_computed_values() -> None:
    g = torch.tensor([[[0.0, 1.0], [0.5, 0.0]]])  # [1, 2, 2]
    anomaly = torch.tensor([[[0.0, 2.0], [4.0, 4.0]]])  # min-max -> [[0, .5], [1, 1]]
    normal = torch.tensor([[[1.0, 3.0], [2.0, 1.0]]])  # min-max -> [[0, 1], [.5, 0]]
    a, n, _ = da_level_loss(_maps(normal, anomaly), 1, g, "batch", "half")
    assert a.item() == pytest.approx(((0 - 0) ** 2 + (0.5 - 1) ** 2 + (1 - 0.5) ** 2 + (1 - 0) ** 2) / 4)
    # region g >= 0.5: pixels (0,1) and (1,0); targets 1-g = 0 and 0.5
    assert n.item() == pytest.approx(((1 - 0) ** 2 + (0.5 - 0.5) ** 2) / 2)
    _, n_one, _ = da_level_loss(_maps(normal, anomaly), 1, g, "batch", "one")
    assert n_one.item() == pytest.approx(1.0)  # only (0,1)
    _, n_any, _ = da_level_loss(_maps(normal, anomaly), 1, g, "batch", "any")
    assert n_any.item() == pytest.approx(0.5)  # same two pixels as "half" here: (1 + 0) / 2


def test_empty_region_is_exactly_zero_not_nan() -> None:
    g = torch.full((2, 4, 4), 0.3)  # soft everywhere, never 1
    a, n, empty = da_level_loss(_maps(torch.rand(2, 4, 4), torch.rand(2, 4, 4)), 1, g, "batch", "one")
    assert n.item() == 0.0
    assert bool(empty)
    assert math.isfinite(a.item())
    flat = torch.ones(1, 4, 4)  # constant map: max == min, clamped denominator
    a, _, _ = da_level_loss(_maps(flat, flat), 1, torch.zeros(1, 4, 4), "batch", "any")
    assert math.isfinite(a.item())


def test_batch_versus_sample_normalisation() -> None:
    g = torch.zeros(2, 2, 2)
    anomaly = torch.stack([torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.tensor([[0.0, 3.0], [0.0, 0.0]])])
    a_batch, _, _ = da_level_loss(_maps(anomaly, anomaly), 1, g, "batch", "half")
    a_sample, _, _ = da_level_loss(_maps(anomaly, anomaly), 1, g, "sample", "half")
    assert a_batch.item() == pytest.approx(((1 / 3) ** 2 + 1) / 8)
    assert a_sample.item() == pytest.approx(2 / 8)


def test_targets_are_max_pooled_soft_masks() -> None:
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 0:8, 0:8] = 1.0
    g = da_targets(mask, (8, 8))
    assert g[2].shape == (1, 4, 4)
    assert g[4].shape == (1, 2, 2)
    assert g[2][0, 0, 0].item() == 1.0
    assert g[4][0, 0, 0].item() == 1.0
    assert g[4][0, 1, 1].item() == 0.0


def test_v_prediction_target() -> None:
    from diffusers import DDPMScheduler

    sched = DDPMScheduler(
        prediction_type="v_prediction", beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012
    )
    z0, eps, t = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8), torch.tensor([10, 900])
    a = sched.alphas_cumprod[t].sqrt().view(-1, 1, 1, 1)
    b = (1 - sched.alphas_cumprod[t]).sqrt().view(-1, 1, 1, 1)
    assert torch.allclose(denoise_target(sched, z0, eps, t), a * eps - b * z0, atol=1e-6)


def test_step_losses_weights_and_no_da_when_no_maps() -> None:
    pred, target = torch.zeros(4, 4, 8, 8), torch.ones(4, 4, 8, 8)
    masks = torch.zeros(2, 1, 64, 64)
    out = step_losses(pred, target, 2, {}, masks, LossSettings(na_weight=0.5))
    assert out["anomaly_mse"].item() == 1.0
    assert out["na"].item() == 1.0
    assert out["da_32"].item() == 0.0
    assert out["total"].item() == pytest.approx(1.5)
