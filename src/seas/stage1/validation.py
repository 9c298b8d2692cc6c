"""Validation grid during stage 1: one image per defect type (and the normal prompt), fixed seeds.

As in the diffusers training scripts: a stock pipeline is built from the live modules, sampled with
seeded generators, and the grid is written as ``<run>/validation/step-<N>.png`` (atomically) and
to TensorBoard when available. Masks are not part of it (the RMP head does not exist yet).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline
from PIL import Image

from seas.files import atomic_write_bytes
from seas.run_folder import RunFolder
from seas.stage1.tokens import TokenMap

__all__ = ["write_validation_grid"]


@torch.no_grad()
def write_validation_grid(
    parts: Any,
    unet: Any,
    text_encoder: Any,
    token_map: TokenMap,
    *,
    run_dir: Path,
    step: int,
    resolution: int,
    seed: int,
    steps: int = 25,
    guidance: float = 8.0,
) -> Path:
    """Sample one image per prompt (every defect type, then the normal prompt) and save them side by side."""
    # Any above: the base-model components and the live (unwrapped) diffusers/transformers modules
    scheduler = DPMSolverMultistepScheduler.from_config(
        parts.scheduler.config, algorithm_type="dpmsolver++", final_sigmas_type="sigma_min"
    )
    pipe = StableDiffusionPipeline(
        vae=parts.vae,
        text_encoder=text_encoder,
        tokenizer=parts.tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    was_training = unet.training
    unet.eval()
    prompts = [token_map.prompt(t) for t in token_map.defect_types] + [token_map.prompt(None)]
    device = next(unet.parameters()).device
    # Under bf16 training the frozen VAE is held in bf16 while the pipeline hands it fp32 latents.
    low = parts.vae.dtype if parts.vae.dtype != torch.float32 else None
    images = []
    for k, prompt in enumerate(prompts):  # one generator per prompt: the grid does not depend on batching
        generator = torch.Generator(device).manual_seed(seed + k)
        with torch.autocast(device.type, dtype=low, enabled=low is not None):
            out = pipe(
                prompt,
                height=resolution,
                width=resolution,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=generator,
                output_type="np",
            ).images[0]
        images.append((out * 255).round().astype(np.uint8))
    unet.train(was_training)
    grid = np.concatenate(images, axis=1)  # [R, R * len(prompts), 3]
    buffer = io.BytesIO()
    Image.fromarray(grid).save(buffer, format="PNG")
    path = RunFolder(run_dir).validation / f"step-{step}.png"
    atomic_write_bytes(path, buffer.getvalue())
    return path
