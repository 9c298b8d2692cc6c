"""The prior's denoiser phase: a text-conditioned U-Net on the frozen VAE's latents.

Standard Stable Diffusion training: ``x_t = √ᾱ_t·z + √(1−ᾱ_t)·ε`` under the model's noise schedule,
the U-Net predicts ε (or v, from the scheduler config) for the prompt "a photo of a <product>";
``cond_dropout`` of the samples see the empty prompt instead, which is what classifier-free
guidance needs at generation. Min-SNR weighting (Hang et al. 2023, γ = 5) stops the many easy,
low-noise timesteps from dominating a short training run.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DPMSolverMultistepScheduler
from PIL import Image

from seas.files import atomic_write_bytes

__all__ = ["denoising_loss", "min_snr_weight", "sample_images", "write_sample_grid"]


def denoising_loss(
    unet: Any,
    scheduler: Any,
    latents: torch.Tensor,
    context: torch.Tensor,
    generator: torch.Generator,
    snr_gamma: float,
    autocast: Any,
) -> torch.Tensor:
    """Mean (min-SNR weighted) denoising MSE of one batch.

    Args:
        unet: ``UNet2DConditionModel`` in training mode.
        scheduler: The model's DDPM training scheduler.
        latents: ``[B, 4, h, w]`` scaled VAE latents.
        context: ``[B, T, D]`` text context (empty prompt for dropped rows).
        generator: Draws timesteps and noise.
        snr_gamma: Min-SNR gamma; 0 gives plain MSE.
        autocast: The accelerator's autocast context factory.
    """
    batch = latents.shape[0]
    timesteps = torch.randint(
        0, scheduler.config.num_train_timesteps, (batch,), generator=generator, device=latents.device
    )
    noise = torch.randn(latents.shape, generator=generator, device=latents.device)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    with autocast():
        pred = unet(noisy, timesteps, context).sample
    if scheduler.config.prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    else:
        target = noise
    per_sample = ((pred.float() - target) ** 2).mean(dim=(1, 2, 3))  # [B]
    if snr_gamma > 0:
        per_sample = per_sample * min_snr_weight(scheduler, timesteps, snr_gamma)
    return per_sample.mean()


def min_snr_weight(scheduler: Any, timesteps: torch.Tensor, gamma: float) -> torch.Tensor:  # Any: DDPM scheduler
    """Min-SNR-γ loss weight per sample: ``min(SNR, γ) / SNR`` for ε, ``min(SNR, γ) / (SNR + 1)`` for v.

    ``SNR(t) = ᾱ_t / (1 − ᾱ_t)`` (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting").
    """
    alpha_bar = scheduler.alphas_cumprod.to(timesteps.device)[timesteps].float()
    snr = alpha_bar / (1 - alpha_bar)
    clipped = torch.clamp(snr, max=gamma)
    return clipped / (snr + 1) if scheduler.config.prediction_type == "v_prediction" else clipped / snr


@torch.no_grad()
def sample_images(
    parts: Any, unet: Any, prompt: str, seeds: list[int], resolution: int, steps: int = 25, guidance: float = 3.0
) -> np.ndarray:
    """``[N, R, R, 3]`` uint8 images of ``prompt`` from pure noise, one per seed (DPM-Solver++, CFG).

    Each image's start noise comes from its own seeded generator, so an image does not depend on
    which others share its batch (up to the rounding of batched kernels).
    """
    # Any above: the base-model components and the live (unwrapped) U-Net
    scheduler = DPMSolverMultistepScheduler.from_config(
        parts.scheduler.config, algorithm_type="dpmsolver++", final_sigmas_type="sigma_min"
    )
    device = next(unet.parameters()).device
    scheduler.set_timesteps(steps, device=device)
    was_training = unet.training
    unet.eval()
    tok = parts.tokenizer
    ids = tok(
        ["", prompt], padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids.to(device)
    context = parts.text_encoder.to(device)(ids)[0]  # [2, T, D]: empty, prompt
    latent = resolution // 8
    x = (
        torch.cat(
            [
                torch.randn((1, 4, latent, latent), generator=torch.Generator(device).manual_seed(s), device=device)
                for s in seeds
            ]
        )
        * scheduler.init_noise_sigma
    )
    hidden = context.repeat_interleave(len(seeds), dim=0)  # [2N, T, D]: N empty, then N prompt
    for t in scheduler.timesteps:
        eps_u, eps_c = unet(torch.cat([x, x]), t, hidden).sample.chunk(2)
        x = scheduler.step(eps_u + guidance * (eps_c - eps_u), t, x).prev_sample
    unet.train(was_training)
    vae = parts.vae.to(device)
    images = vae.decode(x / vae.config.scaling_factor).sample.float().clamp(-1, 1)
    return ((images + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def write_sample_grid(
    parts: Any, unet: Any, prompt: str, path: Path, resolution: int, seed: int, count: int = 8
) -> Path:
    """Save ``count`` samples of ``prompt`` (seeds ``seed .. seed + count - 1``) side by side as one PNG."""
    # Any above: the base-model components and the live (unwrapped) U-Net
    images = sample_images(parts, unet, prompt, [seed + k for k in range(count)], resolution)
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate(list(images), axis=1)).save(buffer, format="PNG")  # [R, R * count, 3]
    atomic_write_bytes(path, buffer.getvalue())
    return path
