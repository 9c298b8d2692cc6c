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

__all__ = ["RMP_TIMESTEPS", "PooledPixelScores", "derangement", "pixel_scores", "rmp_segmentation"]

RMP_TIMESTEPS = (40, 80, 120)  # about the last three of 25 DPM-Solver++ steps (linspace 999 ... 40)


def pixel_scores(probs: np.ndarray, masks: np.ndarray) -> dict[str, float | None]:
    """Pooled pixel AUROC and AP of ``[N, H, W]`` scores against bool masks (None where a class is missing)."""
    masks = np.asarray(masks, dtype=bool)
    if not masks.any() or masks.all():
        return {"pixel_auroc": None, "pixel_ap": None, "defect_rate": float(masks.mean())}
    return {
        "pixel_auroc": auroc(probs, masks),
        "pixel_ap": average_precision(probs, masks),
        "defect_rate": float(masks.mean()),
    }


class PooledPixelScores:
    """Pooled pixel AUROC and AP of scores in [0, 1], accumulated batch by batch in fixed memory.

    Scores are counted in ``bins`` equal bins (two int64 histograms, 16 MB at 2^20), so a thousand
    256² masks cost what one does; the exact functions sort every pixel (65 M per type at that scale,
    several GB). The results equal the exact definitions (ties counted half, step-wise AP) for scores
    on the bin edges ``k / bins`` (a score of exactly 1 shares the top bin); otherwise only pixels whose
    scores share a bin count as tied (a difference below 1e-5 on random score maps; tested).
    """

    def __init__(self, bins: int = 2**20) -> None:
        self.bins = bins
        self.positive = np.zeros(bins, dtype=np.int64)
        self.negative = np.zeros(bins, dtype=np.int64)

    def add(self, scores: np.ndarray, masks: np.ndarray) -> None:
        """Count ``[N, H, W]`` scores against their bool masks."""
        index = np.clip((np.asarray(scores, dtype=np.float64) * self.bins).astype(np.int64), 0, self.bins - 1).ravel()
        labels = np.asarray(masks, dtype=bool).ravel()
        self.positive += np.bincount(index[labels], minlength=self.bins)
        self.negative += np.bincount(index[~labels], minlength=self.bins)

    def result(self) -> dict[str, float | None]:
        """``pixel_auroc``, ``pixel_ap`` (None where a class is missing), ``defect_rate``: as :func:`pixel_scores`."""
        n_pos, n_neg = int(self.positive.sum()), int(self.negative.sum())
        rate = n_pos / max(n_pos + n_neg, 1)
        if n_pos == 0 or n_neg == 0:
            return {"pixel_auroc": None, "pixel_ap": None, "defect_rate": rate}
        pos, neg = self.positive.astype(np.float64), self.negative.astype(np.float64)
        below = np.cumsum(neg) - neg  # negatives with a lower score than each bin
        auroc_value = float(np.sum(pos * (below + neg / 2)) / (n_pos * n_neg))
        filled = (pos + neg)[::-1] > 0  # thresholds at each occupied bin, highest first
        tp, fp = np.cumsum(pos[::-1])[filled], np.cumsum(neg[::-1])[filled]
        recall = tp / n_pos
        ap = float(np.sum(np.diff(np.concatenate([[0.0], recall])) * tp / (tp + fp)))
        return {"pixel_auroc": auroc_value, "pixel_ap": ap, "defect_rate": rate}


def derangement(n: int, seed: int) -> np.ndarray:
    """A seeded permutation of ``range(n)`` with no fixed point: pairs every image with another's mask.

    With fewer than two items there is no such permutation; the identity comes back.
    """
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        if n < 2 or not np.any(order == np.arange(n)):
            return order


@torch.no_grad()
def rmp_segmentation(
    parts: Any,
    rmp: torch.nn.Module,
    prompts: dict[str, torch.Tensor],
    split: DataSplit,
    resolution: int,
    seed: int,
    device: torch.device,
) -> dict[str, Any]:
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
