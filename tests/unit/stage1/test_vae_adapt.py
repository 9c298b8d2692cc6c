"""VAE adaptation (seas.stage1.vae_adapt): its losses, determinism, and that it learns what the masks mark."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seas.data.split import DataSplit, TypeSplit
from seas.models.loading import load_base_model
from seas.stage1.vae_adapt import adapt_vae, adaptation_losses

RES = 32


def _vae() -> torch.nn.Module:
    return load_base_model("tiny", seed=0, resolution=RES).vae


def _split(tmp_path: Path) -> DataSplit:
    """Grey 'products' with an orange spot (defect) and without (normals); 32 x 32, so nothing is resized."""
    rng = np.random.default_rng(0)
    pairs, normals = [], []
    for i in range(3):
        grey = rng.integers(40, 90, (RES, RES, 1)).repeat(3, axis=2).astype(np.uint8)
        Image.fromarray(grey).save(tmp_path / f"n{i}.png")
        normals.append(tmp_path / f"n{i}.png")
        spot, mask = grey.copy(), np.zeros((RES, RES), np.uint8)
        spot[8 + 4 * i : 20 + 4 * i, 10:22] = (240, 140, 30)
        mask[8 + 4 * i : 20 + 4 * i, 10:22] = 255
        Image.fromarray(spot).save(tmp_path / f"d{i}.png")
        Image.fromarray(mask).save(tmp_path / f"d{i}_mask.png")
        pairs.append((tmp_path / f"d{i}.png", tmp_path / f"d{i}_mask.png"))
    return DataSplit("p", Fraction(1, 3), {"spot": TypeSplit(train=tuple(pairs), heldout=())}, tuple(normals))


def _adapt(split: DataSplit, steps: int, mask_weight: float = 2.0) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    return adapt_vae(_vae(), split, steps=steps, mask_weight=mask_weight, lr=1e-3, per_group=2, resolution=RES,
                     resize="crop", augment="rot90_flip", seed=0, device=torch.device("cpu"))  # fmt: skip


def test_losses_of_an_unchanged_vae() -> None:
    vae = _vae()
    images = torch.rand(2, 3, RES, RES) * 2 - 1
    masks = torch.zeros(2, 1, RES, RES)
    masks[0, :, :8, :8] = 1.0
    losses = adaptation_losses(vae, vae, images, masks, mask_weight=3.0)
    assert float(losses["latent"].detach()) == 0.0  # the original encoder is the reference
    with torch.no_grad():
        recon = vae.decode(vae.encode(images).latent_dist.mean).sample
    error = (recon - images).abs()
    torch.testing.assert_close(losses["inside"], error[0, :, :8, :8].mean(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses["l1"], error.mean(), rtol=1e-5, atol=1e-6)
    assert float(losses["total"].detach()) > float(
        (losses["l1"] + 3.0 * losses["inside"]).detach()
    )  # plus gradient and texture terms


def test_adaptation_is_deterministic_and_leaves_the_base_vae_alone(tmp_path: Path) -> None:
    split = _split(tmp_path)
    base = {k: v.clone() for k, v in _vae().state_dict().items()}
    first, log = _adapt(split, steps=3)
    second, _ = _adapt(split, steps=3)
    assert all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True)
    )
    assert any(not torch.equal(base[k], v) for k, v in first.state_dict().items())
    assert not first.training
    assert not any(p.requires_grad for p in first.parameters())
    assert [r["step"] for r in log] == [1, 3]
    assert set(log[0]) == {"step", "total", "l1", "inside", "latent"}


def test_it_learns_the_masked_spot(tmp_path: Path) -> None:
    """A random VAE reconstructs the spot badly; the mask term makes it learn the spot much faster than plain L1."""
    split = _split(tmp_path)
    weighted = _adapt(split, steps=40, mask_weight=8.0)[1]
    plain = _adapt(split, steps=40, mask_weight=0.0)[1]
    assert weighted[-1]["inside"] < 0.5 * weighted[0]["inside"]
    assert weighted[-1]["inside"] < plain[-1]["inside"]
