"""SeaS stage-1 losses: Decoupled Anomaly Alignment (DA) and Normal-image Alignment (NA).

Paper 3.2-3.3; docs/method.md §2.4-2.5. One shared step per micro-batch: the anomaly rows (first
``B_a`` rows) get the denoising MSE plus DA; the normal rows get the denoising MSE under the
normal prompt (NA). DA pulls the mean anomaly-token map onto the mask (``g_r``) and pushes the
product-token map to 0 inside the defect region ``R_r``:

    L_r = mean_all (Â_a - g_r)² + mean_{R_r} (Â_n - (1 - g_r))²,   L_DA = L_32 + L_16

Project differences from the reference, all named options: ``da_region: half`` (``g >= 0.5``; the
reference uses ``== 1``, which is often empty); an empty region gives exactly 0, never NaN, and
min-max denominators are clamped at 1e-8 (pitfall 6); ``da_normalize: sample`` normalises each
image's map on its own instead of jointly over the batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from seas.stage1.attention import da_layer_names, level_factor

__all__ = [
    "LEVELS",
    "LossSettings",
    "aggregate_level_maps",
    "da_level_loss",
    "da_targets",
    "denoise_target",
    "step_losses",
]

# DA levels by downsampling factor of the latent, named by their size at 512² (latent 64²).
LEVELS: dict[int, str] = {2: "32", 4: "16"}


def da_targets(masks: torch.Tensor, latent_hw: tuple[int, int]) -> dict[int, torch.Tensor]:
    """Soft DA targets ``g_r`` per level.

    Args:
        masks: ``[B_a, 1, H_px, W_px]`` float in [0, 1] (soft after resizing, as in the reference).
        latent_hw: Latent size.

    Returns:
        Factor -> ``[B_a, H, W]``: mask bilinearly resized to the latent, then 2×2 max-pooled per level.
    """
    g = F.interpolate(masks.float(), size=latent_hw, mode="bilinear", align_corners=False)  # [B_a, 1, h, w]
    out, factor = {}, 1
    for target in sorted(LEVELS):
        while factor < target:
            g = F.max_pool2d(g, 2)
            factor *= 2
        out[target] = g[:, 0]
    return out


def aggregate_level_maps(maps: Mapping[str, torch.Tensor], da_layers: str) -> dict[int, torch.Tensor]:
    """Mean of the captured layer maps per level (``down_up``: mean of the down mean and the up mean).

    Args:
        maps: Layer name -> ``[B_a, m, H, W]``.
        da_layers: ``down`` or ``down_up``.

    Returns:
        Factor -> ``[B_a, m, H, W]``.
    """
    out = {}
    names = da_layer_names(da_layers)
    for factor in LEVELS:
        groups = []
        for block in ("down_blocks", "up_blocks"):
            layer_maps = [maps[n] for n in names if n.startswith(block) and level_factor(n) == factor]
            if layer_maps:
                groups.append(torch.stack(layer_maps).mean(dim=0))
        out[factor] = torch.stack(groups).mean(dim=0)
    return out


def _min_max(maps: torch.Tensor, per_sample: bool) -> torch.Tensor:
    """Min-max normalise ``[B_a, H, W]`` jointly over the batch (reference) or per sample."""
    dims = (1, 2) if per_sample else (0, 1, 2)
    low = maps.amin(dim=dims, keepdim=True)
    high = maps.amax(dim=dims, keepdim=True)
    return (maps - low) / (high - low).clamp_min(1e-8)


def _region(g: torch.Tensor, rule: str) -> torch.Tensor:
    if rule == "half":
        return g >= 0.5
    if rule == "one":
        return g == 1
    return g > 0


def da_level_loss(
    level_maps: torch.Tensor, n_normal: int, g: torch.Tensor, normalize: str, region: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """DA loss at one level.

    Args:
        level_maps: ``[B_a, m, H, W]``; the first ``n_normal`` columns are product tokens.
        n_normal: Number of product-token columns.
        g: ``[B_a, H, W]`` soft target.
        normalize: ``batch`` (one min/max over all anomaly rows) or ``sample`` (one per row).
        region: ``half`` (g ≥ 0.5), ``one`` (g == 1) or ``any`` (g > 0).

    Returns:
        (anomaly term, normal term, is_empty) as 0-dim tensors; the normal term is 0 when the region is empty.
    """
    per_sample = normalize == "sample"
    normal_map = _min_max(level_maps[:, :n_normal].mean(dim=1), per_sample)
    anomaly_map = _min_max(level_maps[:, n_normal:].mean(dim=1), per_sample)
    anomaly_term = (anomaly_map - g).square().mean()
    inside = _region(g, region)
    count = inside.sum()
    normal_term = ((normal_map - (1 - g)).square() * inside).sum() / count.clamp(min=1)
    return anomaly_term, normal_term, count == 0


def denoise_target(
    scheduler: object, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
) -> torch.Tensor:
    """ε for ε-models; ``v = sqrt(ᾱ)·ε − sqrt(1−ᾱ)·z0`` for v-models (from the scheduler config)."""
    prediction = scheduler.config.prediction_type  # type: ignore[attr-defined]
    if prediction == "epsilon":
        return noise
    if prediction == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)  # type: ignore[attr-defined, no-any-return]
    msg = f"unsupported prediction_type {prediction!r}"
    raise ValueError(msg)


@dataclass(frozen=True)
class LossSettings:
    """How the stage-1 losses are formed (the loss options of ``seas train``).

    Attributes:
        n_normal_tokens: Product-token columns at the start of each map.
        da_layers: ``down`` or ``down_up`` (docs/method.md §2.4).
        da_normalize: ``batch`` or ``sample`` min-max normalisation (see :func:`da_level_loss`).
        da_region: ``half``, ``one`` or ``any`` product-token region.
        da_weight: Weight of ``da_32 + da_16``.
        na_weight: Weight of the normal-image MSE.
    """

    n_normal_tokens: int = 1
    da_layers: str = "down"
    da_normalize: str = "batch"
    da_region: str = "half"
    da_weight: float = 1.0
    na_weight: float = 1.0

    @classmethod
    def of(cls, cfg: Any, n_normal_tokens: int) -> LossSettings:  # Any: seas.config.TrainConfig
        """The settings a stage-1 config gives."""
        return cls(
            n_normal_tokens=n_normal_tokens,
            da_layers=cfg.da_layers,
            da_normalize=cfg.da_normalize,
            da_region=cfg.da_region,
            da_weight=cfg.da_weight,
            na_weight=cfg.na_weight,
        )


def step_losses(
    model_pred: torch.Tensor,
    target: torch.Tensor,
    n_anomaly: int,
    maps: Mapping[str, torch.Tensor],
    masks: torch.Tensor,
    settings: LossSettings,
) -> dict[str, torch.Tensor]:
    """All stage-1 loss terms of one micro-batch.

    Args:
        model_pred: ``[B, 4, h, w]`` U-Net output; rows ``:n_anomaly`` are anomaly images, the rest normal.
        target: Same shape; ε or v.
        n_anomaly: Number of anomaly rows ``B_a``.
        maps: Captured layer maps, layer name -> ``[B_a, m, H, W]`` (see :mod:`seas.stage1.attention`).
        masks: ``[B_a, 1, H_px, W_px]`` soft masks in [0, 1].
        settings: Which layers, normalisation, region and weights.

    Returns:
        0-dim tensors: ``total``, ``anomaly_mse``, ``na``, ``da_32``, ``da_16``, their anomaly/normal
        terms (``da_32_anomaly_term``, ...), and ``empty_regions`` (count of levels with an empty region).
    """
    pred, tgt = model_pred.float(), target.float()
    out = {"anomaly_mse": F.mse_loss(pred[:n_anomaly], tgt[:n_anomaly])}
    out["na"] = F.mse_loss(pred[n_anomaly:], tgt[n_anomaly:]) if pred.shape[0] > n_anomaly else pred.new_zeros(())
    latent_hw = (model_pred.shape[-2], model_pred.shape[-1])
    targets = da_targets(masks, latent_hw)
    empty = pred.new_zeros((), dtype=torch.long)
    da_total = pred.new_zeros(())
    levels = aggregate_level_maps(maps, settings.da_layers) if maps else {}  # no maps: DA switched off (da_weight 0)
    for factor in LEVELS:
        if factor not in levels:
            for part in ("", "_anomaly_term", "_normal_term"):
                out[f"da_{LEVELS[factor]}{part}"] = pred.new_zeros(())
            continue
        level_maps = levels[factor]
        name = LEVELS[factor]
        anomaly_term, normal_term, is_empty = da_level_loss(
            level_maps, settings.n_normal_tokens, targets[factor], settings.da_normalize, settings.da_region
        )
        out[f"da_{name}_anomaly_term"], out[f"da_{name}_normal_term"] = anomaly_term, normal_term
        out[f"da_{name}"] = anomaly_term + normal_term
        da_total = da_total + out[f"da_{name}"]
        empty = empty + is_empty.long()
    out["empty_regions"] = empty
    out["total"] = out["anomaly_mse"] + settings.na_weight * out["na"] + settings.da_weight * da_total
    return out
