"""Refined Mask Prediction (RMP) head (paper 3.4; docs/method.md §2.7) and its focal loss (docs/method.md §2.8).

Coarse mask features come from the U-Net decoder (``U32`` = output of ``unet.up_blocks[1]``,
``U64`` = output of ``unet.up_blocks[2]``), fused by a 4-layer self-attention transformer at 64²;
three Mask Refinement Modules (MRM) then multiply in VAE-decoder features (``V128``, ``V256``,
``V512`` = outputs of ``vae.decoder.up_blocks[0..2]``) up to full resolution. The head gives 2
softmax channels; channel 1 is the defect probability. The reference's dead parts (one unused
conv per MRM, a time-embedding input) are left out: about 5.45 M parameters at SD 1.x width.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from diffusers.models.transformers.transformer_2d import Transformer2DModel
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["MRM", "RMPHead", "focal_loss", "focal_targets", "load_reference_rmp_state", "recalibrate_batchnorm"]

WIDTH = 192  # working channels: 128 from U32 + 64 from U64


def _cbr(in_ch: int, out_ch: int, kernel: int) -> nn.Sequential:
    """Conv (no bias) -> BatchNorm -> ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU()
    )


class MRM(nn.Module):
    """Mask Refinement Module: doubles the coarse features' size and gates them with fine VAE features."""

    def __init__(self, fine_channels: int) -> None:
        super().__init__()
        self.fine = _cbr(fine_channels, WIDTH, 1)
        self.branch_in = nn.Sequential(_cbr(WIDTH, WIDTH, 1), _cbr(WIDTH, WIDTH, 3), _cbr(WIDTH, WIDTH, 1))
        self.skip = _cbr(WIDTH, WIDTH, 1)
        self.branch_out = nn.Sequential(_cbr(WIDTH, WIDTH, 1), _cbr(WIDTH, WIDTH, 3), _cbr(WIDTH, WIDTH, 1))

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        """``coarse`` ``[B, 192, h, w]``, ``fine`` ``[B, C, 2h, 2w]`` -> ``[B, 192, 2h, 2w]``."""
        c = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=True)
        c1 = self.branch_in(c)
        gate = c1 + self.skip(c) + self.branch_out(c1)
        return self.fine(fine) * gate + c


class RMPHead(nn.Module):
    """The RMP network.

    Args:
        unet_channels: Channels of (``U32``, ``U64``): (1280, 640) for SD 1.x/2.x.
        vae_channels: Channels of (``V128``, ``V256``, ``V512``): (512, 512, 256) for SD.
    """

    def __init__(
        self, unet_channels: tuple[int, int] = (1280, 640), vae_channels: tuple[int, int, int] = (512, 512, 256)
    ):
        super().__init__()
        self.stem_low = nn.Conv2d(unet_channels[0], 128, 1, bias=False)
        self.stem_mid = nn.Conv2d(unet_channels[1], WIDTH - 128, 1, bias=False)
        self.coarse = Transformer2DModel(
            num_attention_heads=8, attention_head_dim=WIDTH // 8, in_channels=WIDTH, num_layers=4, norm_num_groups=32
        )
        self.refine = nn.ModuleList(MRM(c) for c in vae_channels)
        self.head = nn.Sequential(nn.BatchNorm2d(WIDTH), nn.ReLU(), nn.Conv2d(WIDTH, 2, 3, padding=1))

    def coarse_features(self, u32: torch.Tensor, u64: torch.Tensor) -> torch.Tensor:
        """``H64`` ``[B, 192, h64, w64]`` from the U-Net decoder features."""
        low = F.interpolate(self.stem_low(u32), size=u64.shape[-2:], mode="bilinear", align_corners=False)
        h = torch.cat([low, self.stem_mid(u64)], dim=1)  # [B, 192, h64, w64]
        return self.coarse(h, return_dict=False)[0]

    def refine_features(self, h64: torch.Tensor, vae_features: list[torch.Tensor]) -> torch.Tensor:
        """Three MRMs: ``[B, 192, h, w]`` -> ``[B, 192, 8h, 8w]``."""
        h = h64
        for mrm, fine in zip(self.refine, vae_features, strict=True):
            h = mrm(h, fine)
        return h

    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        """Head: ``[B, 192, H, W]`` -> ``[B, 2, H, W]`` softmax (channel 1 = defect)."""
        return self.head(features).softmax(dim=1)

    def forward(self, u32: torch.Tensor, u64: torch.Tensor, vae_features: list[torch.Tensor]) -> torch.Tensor:
        """Inference: every row through the MRMs -> ``P512`` ``[B, 2, H, W]``."""
        return self.probabilities(self.refine_features(self.coarse_features(u32, u64), vae_features))

    def fused_for_inference(self) -> RMPHead:
        """A copy for ``rmp_bn: eval`` inference, in channels-last memory format.

        Each Conv -> BatchNorm pair is folded into one convolution with torch's ``fuse_conv_bn_eval``:
        exact up to float rounding, and about 30 % faster on CPU together with channels-last.
        """
        fused = copy.deepcopy(self).eval()
        for module in fused.modules():
            if not isinstance(module, nn.Sequential) or len(module) != 3:
                continue
            conv, norm = module[0], module[1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                module[0] = fuse_conv_bn_eval(conv, norm)
                module[1] = nn.Identity()
        return fused.to(memory_format=torch.channels_last)  # type: ignore[call-overload, no-any-return]

    def forward_train(
        self, u32: torch.Tensor, u64: torch.Tensor, vae_features: list[torch.Tensor], n_anomaly: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training forward with normal-image alignment (docs/method.md §2.7).

        Anomaly rows (the first ``n_anomaly``) pass the MRMs with their VAE features; normal rows have
        none and bypass them (``H64`` bilinearly upsampled). The head also runs on ``H64`` of all rows.

        Returns:
            (``P512`` ``[B, 2, H, W]``, ``P64`` ``[B, 2, h64, w64]``).
        """
        h64 = self.coarse_features(u32, u64)
        refined = self.refine_features(h64[:n_anomaly], vae_features)
        normal = F.interpolate(h64[n_anomaly:], size=refined.shape[-2:], mode="bilinear", align_corners=False)
        return self.probabilities(torch.cat([refined, normal])), self.probabilities(h64)


@torch.no_grad()
def recalibrate_batchnorm(
    head: RMPHead,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]],
) -> int:
    """Reset every BatchNorm's running statistics to their plain average over ``batches`` of the inference path.

    Training updates the statistics from two different passes (refined anomaly rows plus upsampled normal
    rows at full resolution, and every row at the 64 level) over timesteps 0-999, while generation runs
    refined rows only at small timesteps; re-estimating them on inference-like features removes that
    mismatch without touching a learned weight. Each batch is ``(u32, u64, vae_features)`` as
    :meth:`RMPHead.forward` takes them. Returns the number of batches used.
    """
    norms = [m for m in head.modules() if isinstance(m, nn.BatchNorm2d)]
    momenta = [m.momentum for m in norms]
    was_training = head.training
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: every batch counts the same
    head.train()
    count = 0
    for u32, u64, vae_features in batches:
        head(u32, u64, vae_features)
        count += 1
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    head.train(was_training)
    return count


def focal_targets(masks: torch.Tensor, rule: str) -> torch.Tensor:
    """Class index per pixel from soft masks: ``threshold`` (>= 0.5) or ``truncate`` (== 1, reference)."""
    return (masks >= 0.5).long() if rule == "threshold" else (masks >= 1.0).long()


def focal_loss(probs: torch.Tensor, classes: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss on softmax outputs, as the reference computes it (alpha 1, smoothed one-hot).

    Args:
        probs: ``[B, 2, H, W]`` class probabilities.
        classes: ``[B, H, W]`` int64 class index.
        gamma: Focusing exponent.
    """
    one_hot = F.one_hot(classes, probs.shape[1]).permute(0, 3, 1, 2).float().clamp(1e-5, 1 - 1e-5)  # [B, 2, H, W]
    p_t = (one_hot * probs.float()).sum(dim=1) + 1e-5
    return (-((1 - p_t) ** gamma) * p_t.log()).mean()


_BN = {"gain": "weight", "bias": "bias", "stored_mean": "running_mean", "stored_var": "running_var"}
# reference MRM conv index -> (our sub-module path); conv6 is built but never used by the reference
_MRM = {
    1: "fine",
    2: "branch_in.0",
    3: "branch_in.1",
    4: "branch_in.2",
    5: "skip",
    7: "branch_out.0",
    8: "branch_out.1",
    9: "branch_out.2",
}


def load_reference_rmp_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an RMP state dict saved by the authors' code to :class:`RMPHead` names.

    BatchNorm ``gain/bias/stored_mean/stored_var`` become ``weight/bias/running_mean/running_var``;
    the unused ``conv6`` of each MRM is dropped.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        new: str | None
        if key.startswith("low_feature_conv.0."):
            new = "stem_low." + key.split(".", 2)[2]
        elif key.startswith("mid_feature_conv.0."):
            new = "stem_mid." + key.split(".", 2)[2]
        elif key.startswith("mid_attn_block.attentions.0."):
            new = "coarse." + key.removeprefix("mid_attn_block.attentions.0.")
        elif key.startswith("out_layer."):
            index, rest = key.removeprefix("out_layer.").split(".", 1)
            new = f"head.{index}.{_BN.get(rest, rest) if index == '0' else rest}"
        elif m := re.match(r"MRM([123])\.conv(\d)\.([01])\.(\w+)$", key):
            block, conv, part, name = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
            if conv not in _MRM:
                continue
            name = _BN.get(name, name) if part == "1" else name
            new = f"refine.{block - 1}.{_MRM[conv]}.{part}.{name}"
        else:
            new = None
        if new is None:
            msg = f"unexpected key {key!r} in a reference RMP state dict"
            raise KeyError(msg)
        out[new] = value
    for key in [k for k in out if k.endswith("running_mean")]:
        out.setdefault(key.replace("running_mean", "num_batches_tracked"), torch.tensor(0))
    return out
