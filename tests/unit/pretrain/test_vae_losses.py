"""The VAE losses: the texture term measures how much edge energy a region holds, not where each edge is."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seas.pretrain.vae import gradient_l1, texture_l1


def _grain(seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_texture_l1_is_zero_for_equal_images_and_large_for_a_blur() -> None:
    x = _grain()
    assert float(texture_l1(x, x)) == 0.0
    blurred = F.avg_pool2d(x, 3, stride=1, padding=1)
    assert float(texture_l1(blurred, x)) > 0.3  # most of the edge energy is gone


def test_texture_l1_forgives_where_the_grain_is_while_gradient_l1_does_not() -> None:
    # Another draw of the same grain: the same amount of texture, every edge in another place. The
    # gradient term punishes it more than a flat grey image (hence blur); the texture term hardly at all.
    x, other = _grain(0), _grain(1)
    flat = torch.zeros_like(x)
    assert float(gradient_l1(other, x)) > float(gradient_l1(flat, x))
    assert float(texture_l1(other, x)) < 0.2 * float(texture_l1(flat, x))


def test_texture_l1_gradients_push_a_blur_towards_more_texture() -> None:
    x = _grain()
    recon = F.avg_pool2d(x, 3, stride=1, padding=1).clone().requires_grad_(True)
    before = float(texture_l1(recon.detach(), x))
    texture_l1(recon, x).backward()
    with torch.no_grad():
        after = float(texture_l1(recon - 0.05 * recon.grad.sign(), x))
    assert after < before
