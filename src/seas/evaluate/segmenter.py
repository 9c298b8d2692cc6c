"""The downstream segmenter: a compact U-Net in plain torch with a fixed, versioned recipe (docs/method.md §2.12).

Recipe ``seas-unet-v1``: 4 levels (16-32-64-128 channels), ImageNet normalisation, AdamW (weight
decay 1e-4), class-weighted cross-entropy (1 normal : 4 defect, the LFD weights), random flips,
a fixed number of epochs and the last epoch evaluated (no test image ever chooses an epoch:
pitfall 21). About 0.47 M parameters, smaller than LFD's 0.94 M, so it trains on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from seas.progress import Progress

__all__ = ["RECIPE", "SegmentationUNet", "SegmenterTraining", "defect_probabilities", "train_segmenter"]

RECIPE = "seas-unet-v1"
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _block(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class SegmentationUNet(nn.Module):
    """Images ``[B, 3, H, W]`` in [0, 1] (H, W divisible by 8) -> defect logits ``[B, 2, H, W]``."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)) -> None:
        super().__init__()
        self.down = nn.ModuleList()
        channels = 3
        for w in widths:
            self.down.append(_block(channels, w))
            channels = w
        self.up = nn.ModuleList(_block(widths[i] + widths[i + 1], widths[i]) for i in reversed(range(len(widths) - 1)))
        self.out = nn.Conv2d(widths[0], 2, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of the two classes."""
        x = (images - _MEAN.to(images)) / _STD.to(images)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = block(
                torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1)
            )
        return self.out(x)


def _unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 images to float in [0, 1]; float images unchanged."""
    return images.float() / 255.0 if images.dtype == torch.uint8 else images


@torch.no_grad()
def defect_probabilities(model: nn.Module, images: torch.Tensor, device: torch.device, batch: int = 16) -> np.ndarray:
    """``[N, H, W]`` defect probability of ``images`` (as for :func:`train_segmenter`), ``batch`` at a time."""
    return torch.cat(
        [model(_unit(images[i : i + batch].to(device))).softmax(1)[:, 1].cpu() for i in range(0, len(images), batch)]
    ).numpy()


@dataclass(frozen=True)
class SegmenterTraining:
    """How long and how one segmenter trains (the ``seg_*`` options of the evaluations)."""

    epochs: int
    batch_size: int
    lr: float
    seed: int

    @classmethod
    def of(cls, cfg: Any, seed_offset: int = 0) -> SegmenterTraining:  # Any: Downstream- or QualityConfig
        """The training an evaluation config asks for; ``seed_offset`` numbers the repeats."""
        return cls(cfg.seg_epochs, cfg.seg_batch_size, cfg.seg_learning_rate, cfg.seed + seed_offset)


def train_segmenter(
    images: torch.Tensor,
    masks: torch.Tensor,
    training: SegmenterTraining,
    device: torch.device,
    desc: str | None = None,
) -> SegmentationUNet:
    """Train with recipe ``seas-unet-v1`` on ``images`` ``[N, 3, H, W]`` and ``masks`` ``[N, H, W]`` bool.

    ``images`` are uint8 (kept so in memory, a quarter of float32; each batch is scaled to [0, 1] on the
    device) or float in [0, 1]. ``desc`` labels a progress bar over the epochs (none without it).
    """
    epochs, batch_size, seed = training.epochs, training.batch_size, training.seed
    torch.manual_seed(seed)
    model = SegmentationUNet().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training.lr, weight_decay=1e-4)
    weights = torch.tensor([1.0, 4.0], device=device)
    order_gen = torch.Generator().manual_seed(seed)
    model.train()
    progress = Progress(epochs, desc or "segmenter", unit="epoch", enabled=desc is not None)
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=order_gen)
        for start in range(0, len(images), batch_size):
            idx = order[start : start + batch_size]
            x, y = _unit(images[idx].to(device)), masks[idx].to(device).long()
            flip = torch.rand(2, generator=order_gen)
            if flip[0] < 0.5:
                x, y = x.flip(-1), y.flip(-1)
            if flip[1] < 0.5:
                x, y = x.flip(-2), y.flip(-2)
            loss = F.cross_entropy(model(x), y, weight=weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        progress.update()
    progress.close()
    return model.eval()
