"""Are the generated pairs right? Two checks that need no human: mask agreement and RMP as a segmenter.

* **Mask agreement**: a segmenter trained on real data only (the downstream ``real`` recipe) is run
  on the generated images; pixel AUROC and AP of its output against the *generated* masks, per defect
  type. If the generator draws a defect where its mask says, a segmenter that knows real defects
  finds it there. Baselines in the same run: the same images against the masks of other generated
  pairs of the type (a seeded derangement; ≈ 0.5 AUROC: what unrelated masks score) and the same
  segmenter on the real held-out pairs (the ceiling this segmenter reaches on real defects).
* **RMP as a segmenter of real defects**: each held-out real defect image is encoded, noised to a few
  small timesteps (the last steps of generation, where the masks are made), and the stage-1 U-Net with
  the type's prompt plus the RMP head predict its mask; pixel AUROC, AP and AUPRO@0.3 against the
  true mask, next to the defect-pixel rate (the AP of a scorer that knows nothing).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seas.data.augment import to_training_mask, to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.data.split import DataSplit
from seas.evaluate.segmentation import aupro, auroc, average_precision
from seas.stage2.features import unet_features, vae_decoder_features

__all__ = ["RMP_TIMESTEPS", "derangement", "pixel_scores", "rmp_segmentation"]

RMP_TIMESTEPS = (40, 80, 120)  # about the last three of 25 DPM-Solver++ steps (linspace 999 ... 40)


def pixel_scores(probs: np.ndarray, masks: np.ndarray) -> dict[str, float | None]:
    """Pooled pixel AUROC and AP of ``[N, H, W]`` scores against bool masks (None where a class is missing)."""
    masks = np.asarray(masks, dtype=bool)
    if not masks.any() or masks.all():
        return {"pixel_auroc": None, "pixel_ap": None, "defect_rate": float(masks.mean())}
    return {"pixel_auroc": auroc(probs, masks), "pixel_ap": average_precision(probs, masks),
            "defect_rate": float(masks.mean())}  # fmt: skip


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of ``range(n)`` with no fixed point (n >= 2): pairs every image with another's mask."""
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        if n < 2 or not np.any(order == np.arange(n)):
            return order


@torch.no_grad()
def rmp_segmentation(parts: Any, rmp: torch.nn.Module, prompts: dict[str, torch.Tensor], split: DataSplit,
                     resolution: int, seed: int, device: torch.device) -> dict[str, Any]:  # fmt: skip
    """Score the RMP head's masks of the real held-out defect images against their true masks.

    Args:
        parts: Stage-1 components (U-Net, VAE) in eval mode on ``device``.
        rmp: The RMP head prepared for inference (running BatchNorm statistics).
        prompts: Defect type -> ``[T, D]`` text context of its UA prompt.
        split: The run's split (held-out pairs per type).
        resolution: Generation resolution (images cropped as in training).
        seed: Seeds the added noise.
        device: Where the models are.

    Returns:
        Per type and pooled: ``pixel_auroc``, ``pixel_ap``, ``aupro_0.3``, ``defect_rate``, ``images``.
    """
    scale = float(parts.vae.config.scaling_factor)
    generator = torch.Generator(device).manual_seed(seed)
    per_type: dict[str, Any] = {}
    pooled_scores, pooled_masks = [], []
    for defect_type in sorted(split.types):
        scores, masks = [], []
        for image_path, mask_path in split.types[defect_type].heldout:
            image = torch.from_numpy(to_training_rgb(read_rgb(image_path), resolution, "crop"))[None].to(device)
            masks.append(to_training_mask(read_mask(mask_path), resolution, "crop")[0] >= 0.5)
            latent = parts.vae.encode(image).latent_dist.mean * scale
            prob = torch.zeros((resolution, resolution), device=device)
            for t in RMP_TIMESTEPS:
                timestep = torch.tensor([t], device=device)
                noise = torch.randn(latent.shape, generator=generator, device=device)
                noisy = parts.scheduler.add_noise(latent, noise, timestep)
                with unet_features(parts.unet) as feats:
                    parts.unet(noisy, timestep, prompts[defect_type][None])
                vae_feats = vae_decoder_features(parts.vae, noisy / scale)
                prob += rmp(feats[0].float(), feats[1].float(), [v.float() for v in vae_feats])[0, 1]
            scores.append((prob / len(RMP_TIMESTEPS)).cpu().numpy())
        if not scores:
            continue
        per_type[defect_type] = _segmentation_scores(np.stack(scores), np.stack(masks))
        pooled_scores += scores
        pooled_masks += masks
    pooled = _segmentation_scores(np.stack(pooled_scores), np.stack(pooled_masks)) if pooled_scores else {}
    return {"per_type": per_type, "pooled": pooled, "timesteps": list(RMP_TIMESTEPS)}


def _segmentation_scores(scores: np.ndarray, masks: np.ndarray) -> dict[str, Any]:  # Any: floats / None
    out: dict[str, Any] = {**pixel_scores(scores, masks), "images": len(scores)}
    out["aupro_0.3"] = aupro(scores, masks) if masks.any() and not masks.all() else None
    return out
