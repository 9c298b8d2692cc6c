"""The prior's autoencoder phase: an SD-layout AutoencoderKL (8x, 4 latent channels) trained from scratch.

Loss per image batch ``x`` in [-1, 1] with reconstruction ``x̂ = D(z)``, ``z ~ E(x)``:

    L = |x̂ − x|₁ + w_grad · (|∂ₕx̂ − ∂ₕx|₁ + |∂ᵥx̂ − ∂ᵥx|₁) + w_KL · KL(E(x) ‖ N(0, I))

L1 alone blurs a dark product into a blob (its optimum is the median of the plausible textures); the
finite-difference term penalises lost edges directly, which keeps tire tread and small defects. The
KL weight is small (SD used 1e-6), so the latent stays informative while its scale stays bounded.
A freshly built VAE starts with posterior standard deviations near 1, larger than its means, so the
decoder first learns from mostly noise; :func:`start_near_deterministic` starts the log-variance at
−6 (std 0.05) instead, and the KL term lets it grow where the decoder tolerates it. After training,
``scaling_factor`` is set to 1 / std of the training latents (how SD derived 0.18215), so every later
stage sees unit-variance latents.

The optional *decoder phase* (:func:`decoder_losses`) then fine-tunes the decoder alone on the posterior
means, the encoder frozen, so the latents (and a U-Net trained on them) stay valid, as Stability did for
the SD 1.x decoders. It adds a texture term, :func:`texture_l1`: an 8x latent cannot hold the phase of
fine tread or sensor grain, so both L1 terms are minimised by their average, a blur; matching the
*amount* of edge energy per small window instead makes the decoder draw texture of the right strength
(its effect on the shipped tire prior: docs/benchmarks/tiny_tire_prior/).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any  # the diffusers AutoencoderKL is typed as Any (untyped library)

import torch
import torch.nn.functional as F
from PIL import Image

from seas.files import atomic_write_bytes

__all__ = [
    "decoder_losses",
    "gradient_l1",
    "latent_scaling_factor",
    "start_near_deterministic",
    "texture_l1",
    "vae_losses",
    "write_reconstruction_strip",
]


@torch.no_grad()
def start_near_deterministic(vae: Any, log_variance: float = -6.0) -> None:
    """Initialise the posterior log-variance outputs (``quant_conv`` channels C..2C) to ``log_variance``."""
    conv = vae.quant_conv  # type: ignore[union-attr]
    half = conv.out_channels // 2
    conv.weight[half:] *= 0.01
    conv.bias[half:] = log_variance


def gradient_l1(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 distance of horizontal and vertical finite differences of ``[B, C, H, W]`` images."""
    dx = (recon[..., :, 1:] - recon[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    dy = (recon[..., 1:, :] - recon[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


def texture_l1(recon: torch.Tensor, target: torch.Tensor, window: int = 4) -> torch.Tensor:
    """Mean L1 distance of the local edge energy (|∂ₕ| + |∂ᵥ| averaged over ``window``² cells) of two image batches."""

    def energy(x: torch.Tensor) -> torch.Tensor:
        dx = (x[..., :, 1:] - x[..., :, :-1])[..., :-1, :].abs()
        dy = (x[..., 1:, :] - x[..., :-1, :])[..., :, :-1].abs()
        return F.avg_pool2d(dx + dy, window)

    return (energy(recon) - energy(target)).abs().mean()


def decoder_losses(
    vae: Any, images: torch.Tensor, gradient_weight: float, texture_weight: float
) -> dict[str, torch.Tensor]:
    """Losses of one decoder-phase batch: the decoder reconstructs the frozen encoder's posterior mean.

    Returns:
        ``total``, ``l1``, ``gradient`` and ``texture``.
    """
    with torch.no_grad():
        latents = vae.encode(images).latent_dist.mean
    recon = vae.decode(latents).sample.float()
    l1 = (recon - images).abs().mean()
    grad = gradient_l1(recon, images)
    texture = texture_l1(recon, images)
    return {
        "total": l1 + gradient_weight * grad + texture_weight * texture,
        "l1": l1,
        "gradient": grad,
        "texture": texture,
    }


def vae_losses(
    vae: Any, images: torch.Tensor, generator: torch.Generator, kl_weight: float, gradient_weight: float
) -> dict[str, torch.Tensor]:
    """Losses of one batch.

    Args:
        vae: ``AutoencoderKL`` in training mode.
        images: ``[B, 3, R, R]`` float32 in [-1, 1].
        generator: Draws the posterior sample.
        kl_weight: Weight of the KL term.
        gradient_weight: Weight of the image-gradient term.

    Returns:
        ``total``, ``l1``, ``gradient`` and ``kl`` (KL summed over latent elements, mean over images).
    """
    posterior = vae.encode(images).latent_dist
    latents = posterior.mean + posterior.std * torch.randn(
        posterior.mean.shape, generator=generator, device=images.device, dtype=posterior.mean.dtype
    )
    recon = vae.decode(latents).sample.float()
    l1 = (recon - images).abs().mean()
    grad = gradient_l1(recon, images)
    kl = posterior.kl().float().mean()
    return {"total": l1 + gradient_weight * grad + kl_weight * kl, "l1": l1, "gradient": grad, "kl": kl}


@torch.no_grad()
def latent_scaling_factor(vae: Any, images: torch.Tensor, batch: int = 16) -> float:
    """1 / std of the posterior means of ``[N, 3, R, R]`` images (the SD recipe for ``scaling_factor``)."""
    means = [vae.encode(images[i : i + batch]).latent_dist.mean.float() for i in range(0, len(images), batch)]
    return float(1.0 / torch.cat(means).std().clamp_min(1e-6))


@torch.no_grad()
def write_reconstruction_strip(vae: Any, images: torch.Tensor, path: Path) -> Path:
    """Save originals (top row) over their mean-latent reconstructions (bottom row) as one PNG."""
    was_training = vae.training
    vae.eval()
    device = next(vae.parameters()).device
    recon = vae.decode(vae.encode(images.to(device)).latent_dist.mean).sample.float().cpu()
    vae.train(was_training)
    rows = [torch.cat(list(batch), dim=2) for batch in (images.cpu(), recon)]  # each [3, R, R * N]
    grid = ((torch.cat(rows, dim=1).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # [3, 2R, R * N]
    buffer = io.BytesIO()
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
    return path
