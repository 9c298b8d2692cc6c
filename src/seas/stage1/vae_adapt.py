"""VAE adaptation before stage 1: teach a normal-only prior's VAE the run's training defects.

A project option (``vae_adapt_steps``, default 0 = the paper: the VAE stays frozen). Stable Diffusion's
VAE can carry any defect; a small prior made by ``seas pretrain`` has seen only normal images, and its
VAE returns the nearest normal image instead (on the tire data an orange spot 3 latent cells across
comes back as grey tread; ``docs/benchmarks/pair_quality/``). No U-Net on such a VAE can draw a defect.

The whole VAE is fine-tuned on the images stage 1 trains on (the split's training defects and normals,
the stage's own augmentation; never held-out images), with

* L1 + gradient L1 + 2 x texture L1 over all pixels (the prior's decoder-phase losses),
* ``mask_weight`` x the mean L1 inside the defect masks (a defect is 0.2-4 % of the pixels: plain L1
  hardly sees it),
* the squared distance of the posterior means from the original encoder's in latent cells that touch no
  defect pixel: the U-Net keeps the latents it was trained on everywhere but at the defects.

Every draw is a pure function of (seed, step), as in stage 1.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from seas.data.split import DataSplit
from seas.pretrain.vae import gradient_l1, texture_l1
from seas.stage1.sampling import DecodedFiles, load_item, plan_micro_batch

__all__ = ["adapt_vae", "adaptation_losses"]

logger = logging.getLogger(__name__)
_SEED_OFFSET = 7919  # its own data order, not stage 1's


def adaptation_losses(vae: Any, original: Any, images: torch.Tensor, masks: torch.Tensor,
                      mask_weight: float) -> dict[str, torch.Tensor]:  # fmt: skip
    """Losses of one batch: ``images`` ``[B, 3, R, R]`` in [-1, 1], ``masks`` ``[B, 1, R, R]`` in [0, 1]."""
    latents = vae.encode(images).latent_dist.mean
    recon = vae.decode(latents).sample.float()
    error = (recon - images).abs()
    inside = (error * masks).sum() / (3 * masks.sum()).clamp_min(1.0)
    with torch.no_grad():
        reference = original.encode(images).latent_dist.mean
    untouched = 1.0 - F.adaptive_max_pool2d(masks, latents.shape[-2:])
    latent = (((latents - reference) ** 2) * untouched).mean()
    l1 = error.mean()
    total = l1 + mask_weight * inside + gradient_l1(recon, images) + 2.0 * texture_l1(recon, images) + latent
    return {"total": total, "l1": l1, "inside": inside, "latent": latent}


def _batch(split: DataSplit, seed: int, step: int, per_group: int, resolution: int, resize: str, augment: str,
           device: torch.device, decoded: DecodedFiles) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    plan = plan_micro_batch(seed + _SEED_OFFSET, step, split.train_pairs, list(split.normals), per_group,
                            per_group, augment)  # fmt: skip
    images, masks = [], []
    for item in plan.items:
        image, mask = load_item(item, resolution, resize, decoded)
        images.append(image)
        masks.append(mask if mask is not None else np.zeros((1, resolution, resolution), np.float32))
    return torch.from_numpy(np.stack(images)).to(device), torch.from_numpy(np.stack(masks)).to(device)


def adapt_vae(vae: Any, split: DataSplit, *, steps: int, mask_weight: float, lr: float, per_group: int,
              resolution: int, resize: str, augment: str, seed: int,
              device: torch.device) -> tuple[Any, list[dict[str, float]]]:  # fmt: skip
    """Fine-tune a copy of ``vae`` (float32, AdamW, cosine lr) and return it in eval mode with its loss log.

    Each step takes ``per_group`` training defect images and ``per_group`` normals.
    """
    original = copy.deepcopy(vae).float().to(device).eval().requires_grad_(False)
    tuned = copy.deepcopy(vae).float().to(device).train().requires_grad_(True)
    optimizer = torch.optim.AdamW(tuned.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    log: list[dict[str, float]] = []
    decoded = DecodedFiles()  # every step re-reads the same few dozen files
    for step in tqdm(range(steps), desc="VAE adaptation", leave=False):
        images, masks = _batch(split, seed, step, per_group, resolution, resize, augment, device, decoded)
        losses = adaptation_losses(tuned, original, images, masks, mask_weight)
        optimizer.zero_grad(set_to_none=True)
        losses["total"].backward()
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == steps - 1:
            log.append({"step": step + 1} | {k: float(v.detach()) for k, v in losses.items()})
    logger.info("VAE adaptation: %d steps, last losses %s", steps, log[-1] if log else {})
    return tuned.eval().requires_grad_(False), log
