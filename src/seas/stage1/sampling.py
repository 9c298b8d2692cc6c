"""Which images form each micro-batch, and how they are loaded (docs/method.md §2.2 "Sampling").

Two independent seeded streams, each cycling through fresh shuffles of its set: the training
defect images and the normal images. Every micro-batch takes ``batch_anomaly`` from the first and
``batch_normal`` from the second, so every normal image is used and none is tied to a defect image
(pitfall 10). Every draw (order, augmentation, noise) is a pure function of (seed, micro-batch
index), so a resumed run continues exactly where an interrupted one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seas.data.augment import augment_draw, rotate_flip, to_training_mask, to_training_rgb
from seas.data.imageio import read_mask, read_rgb

__all__ = [
    "Item",
    "LatentEncoder",
    "MicroBatchPlan",
    "load_item",
    "plan_micro_batch",
    "step_generator",
]

_ANOMALY_STREAM, _NORMAL_STREAM, _AUGMENT, _NOISE = 0, 1, 2, 3


@dataclass(frozen=True)
class Item:
    """One image of a micro-batch with its augmentation draw; ``defect_type`` is None for normals."""

    image: Path
    mask: Path | None
    defect_type: str | None
    turns: int
    flip: int


@dataclass(frozen=True)
class MicroBatchPlan:
    """The items of one micro-batch: anomalies first, then normals."""

    items: tuple[Item, ...]
    n_anomaly: int


def _stream_item(seed: int, stream: int, size: int, position: int) -> int:
    epoch, offset = divmod(position, size)
    order = np.random.default_rng([seed, stream, epoch]).permutation(size)
    return int(order[offset])


def plan_micro_batch(
    seed: int,
    index: int,
    anomalies: list[tuple[str, Path, Path]],
    normals: list[Path],
    batch_anomaly: int,
    batch_normal: int,
    augment: str,
) -> MicroBatchPlan:
    """Compose micro-batch number ``index`` (0-based over the whole run and all processes).

    Args:
        seed: Run seed.
        index: Global micro-batch index.
        anomalies: Training (defect type, image, mask) triples.
        normals: Normal training images.
        batch_anomaly: Defect images per micro-batch.
        batch_normal: Normal images per micro-batch.
        augment: ``rot90_flip`` or ``none``; every image gets its own draw (an image and its mask share it).
    """
    rng = np.random.default_rng([seed, _AUGMENT, index])
    items = []
    for j in range(batch_anomaly):
        defect_type, image, mask = anomalies[
            _stream_item(seed, _ANOMALY_STREAM, len(anomalies), index * batch_anomaly + j)
        ]
        items.append(Item(image, mask, defect_type, *augment_draw(rng, augment)))
    for j in range(batch_normal):
        image = normals[_stream_item(seed, _NORMAL_STREAM, len(normals), index * batch_normal + j)]
        items.append(Item(image, None, None, *augment_draw(rng, augment)))
    return MicroBatchPlan(tuple(items), batch_anomaly)


def step_generator(seed: int, index: int, device: torch.device) -> torch.Generator:
    """Generator for micro-batch ``index``'s timesteps, noise and VAE sample, on ``device``."""
    state = np.random.SeedSequence([seed, _NOISE, index]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


def load_item(item: Item, resolution: int, resize: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Read, augment and resize one item.

    Returns:
        (``[3, R, R]`` float32 image in [-1, 1], ``[1, R, R]`` float32 soft mask or None).
    """
    rgb = read_rgb(item.image)
    image = to_training_rgb(rotate_flip(rgb, item.turns, item.flip), resolution, resize)
    if item.mask is None:
        return image, None
    mask = read_mask(item.mask)
    return image, to_training_mask(rotate_flip(mask, item.turns, item.flip), resolution, resize)


class LatentEncoder:
    """Scaled VAE latents of planned items, with the frozen posterior cached per augmented image.

    Caching is exact: the posterior (mean, std) of an (image, rotation, flip) never changes, and the
    sample is still drawn every time. Images are encoded one at a time, so a value never depends on
    which other images shared its batch (cached and fresh values are bit-identical).
    """

    def __init__(
        self, vae: Any, resolution: int, resize: str, use_cache: bool, device: torch.device
    ) -> None:  # Any: AutoencoderKL
        self.vae, self.resolution, self.resize, self.use_cache, self.device = (
            vae,
            resolution,
            resize,
            use_cache,
            device,
        )
        self.scale = float(vae.config.scaling_factor)
        self.posteriors: dict[tuple[Path, int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self.masks: dict[tuple[Path, int, int], torch.Tensor] = {}

    def _posterior(self, item: Item) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        key = (item.image, item.turns, item.flip)
        if key not in self.posteriors:
            image, mask = load_item(item, self.resolution, self.resize)
            with torch.no_grad():
                dist = self.vae.encode(torch.from_numpy(image)[None].to(self.device, self.vae.dtype)).latent_dist
            mean, std = dist.mean.float(), dist.std.float()
            mask_t = torch.from_numpy(mask).to(self.device) if mask is not None else None
            if not self.use_cache:
                return mean, std, mask_t
            self.posteriors[key] = (mean, std)
            if mask_t is not None:
                self.masks[key] = mask_t
        mean, std = self.posteriors[key]
        return mean, std, self.masks.get(key)

    def encode(self, plan: MicroBatchPlan, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents and masks of a planned micro-batch.

        Returns:
            (``[B, 4, h, w]`` latents, posterior sampled with ``generator`` and scaled by the VAE factor;
            ``[B_a, 1, R, R]`` soft masks of the anomaly rows).
        """
        means, stds, masks = [], [], []
        for item in plan.items:
            mean, std, mask = self._posterior(item)
            means.append(mean)
            stds.append(std)
            if mask is not None:
                masks.append(mask)
        mean, std = torch.cat(means), torch.cat(stds)
        sample = mean + std * torch.randn(mean.shape, generator=generator, device=self.device)
        return sample * self.scale, torch.stack(masks)
