"""The sampler settings and the start latent (docs/method.md §2.9; pitfalls 17, 18).

Every DPM-Solver++ setting is pinned, because current diffusers defaults differ from what the
reference ran: ``dpmsolver++``, order 2, midpoint, lower-order final step, last step to
``sigma_min`` (not 0), no Karras sigmas, ``linspace`` spacing (999, 959, ..., 40 for 25 steps).

Start latents:

* ``reference``: the reference's "t = 1500" start, ``x = sqrt(ᾱ')·(z/s) + sqrt(1−ᾱ')·ε`` where ᾱ' is
  the product of ``1 − β`` over an extended 1500-step scaled-linear schedule (3.183e-4 for SD), and
  ``z/s`` is the *unscaled* VAE latent. In the model's units this keeps about 1.43x more of the
  reference image than a proper ``x_999`` (docs/method.md §2.9); it is reproduced on purpose, by name.
* ``strength``: standard img2img on the scaled latent, keeping the last ``floor(steps·strength)`` steps.
* ``noise``: pure Gaussian noise, no reference image.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers import DPMSolverMultistepScheduler

from seas.errors import ConfigError, flag

__all__ = ["extended_alpha_bar", "make_scheduler", "start_latents"]


def make_scheduler(
    train_config: Any, prediction_type: str, spacing: str = "linspace"
) -> DPMSolverMultistepScheduler:  # Any: a scheduler config
    """DPM-Solver++ built from the base model's noise schedule, with every solver setting pinned."""
    return DPMSolverMultistepScheduler.from_config(
        train_config,
        algorithm_type="dpmsolver++",
        solver_order=2,
        solver_type="midpoint",
        lower_order_final=True,
        final_sigmas_type="sigma_min",
        euler_at_final=False,
        use_karras_sigmas=False,
        use_lu_lambdas=False,
        thresholding=False,
        timestep_spacing=spacing,
        prediction_type=prediction_type,
        variance_type=None,
    )


def extended_alpha_bar(beta_start: float, beta_end: float, steps: int) -> float:
    """``Π(1 − β_j)`` over a scaled-linear schedule of ``steps`` betas (``linspace(√β0, √β1, n)²``)."""
    betas = torch.linspace(math.sqrt(beta_start), math.sqrt(beta_end), steps, dtype=torch.float64) ** 2
    return float(torch.prod(1 - betas))


def start_latents(
    mode: str,
    raw_latents: torch.Tensor | None,
    noise: torch.Tensor,
    scheduler: DPMSolverMultistepScheduler,
    scale: float,
    strength: float = 1.0,
    extended_steps: int = 1500,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Start latent and the timesteps still to run (``scheduler.set_timesteps`` must have been called).

    Args:
        mode: ``reference``, ``strength`` or ``noise``.
        raw_latents: ``[B, 4, h, w]`` VAE sample of the reference image, unscaled (``z / s``); unused for ``noise``.
        noise: ``[B, 4, h, w]`` standard Gaussian noise.
        scheduler: The sampler.
        scale: VAE scaling factor ``s``.
        strength: ``strength`` mode: fraction of the schedule that is run.
        extended_steps: ``reference`` mode: length of the extended schedule.

    Returns:
        (``[B, 4, h, w]`` start latent, timesteps to run).
    """
    timesteps = scheduler.timesteps
    if mode == "noise":
        return noise * scheduler.init_noise_sigma, timesteps
    assert raw_latents is not None
    if mode == "reference":
        cfg = scheduler.config
        alpha_bar = extended_alpha_bar(cfg.beta_start, cfg.beta_end, extended_steps)
        return math.sqrt(alpha_bar) * raw_latents + math.sqrt(1 - alpha_bar) * noise, timesteps
    keep = math.floor(len(timesteps) * strength)
    if keep < 1:
        raise ConfigError(flag("strength"), f"{strength} keeps no step of {len(timesteps)}", "raise --strength")
    kept = timesteps[len(timesteps) - keep :]
    alpha_bar = scheduler.alphas_cumprod[int(kept[0])].to(noise.dtype)
    start = alpha_bar.sqrt() * raw_latents * scale + (1 - alpha_bar).sqrt() * noise
    scheduler.set_begin_index(len(timesteps) - keep)
    return start, kept
