"""Which images form each micro-batch, and how they are loaded (method spec 2.2 "Sampling").

Two independent seeded streams, each cycling through fresh shuffles of its set: the training
defect images and the normal images. Every micro-batch takes ``batch_anomaly`` from the first and
``batch_normal`` from the second, so every normal image is used and none is tied to a defect image
(pitfall 10). Every draw (order, augmentation, noise) is a pure function of (seed, micro-batch
index), so a resumed run continues exactly where an interrupted one stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seas.data.augment import augment_draw, rotate_flip, to_training_mask, to_training_rgb
from seas.data.imageio import read_mask, read_rgb

__all__ = ["Item", "MicroBatchPlan", "load_item", "plan_micro_batch", "step_generator"]

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
    rgb = rotate_flip(read_rgb(item.image), item.turns, item.flip)
    image = to_training_rgb(rgb, resolution, resize)
    if item.mask is None:
        return image, None
    mask = rotate_flip(read_mask(item.mask), item.turns, item.flip)
    return image, to_training_mask(mask, resolution, resize)
