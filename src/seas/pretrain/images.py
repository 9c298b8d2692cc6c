"""Which images a prior trains on, and how one augmented view of each is made.

Only defect-free images ever reach a prior: by default the normal *training* images of the
product's layout (``train/good``), never ``test/`` (the downstream evaluation holds those out).
Folders given with ``--images`` are refused when they hold any of the product's test images.
Every draw (order, rotation, flip) is a pure function of (seed, phase, step), so a resumed run
continues exactly where it stopped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seas.config import DataConfig, PretrainConfig
from seas.data.augment import augment_draw, rotate_flip, to_training_rgb
from seas.data.catalog import load_product
from seas.data.imageio import read_rgb
from seas.data.samples import Label, Split, list_images
from seas.errors import DatasetLayoutError, flag

__all__ = ["NormalImages", "list_prior_images"]


def list_prior_images(data_cfg: DataConfig, cfg: PretrainConfig) -> tuple[str, list[Path]]:
    """(product name, sorted defect-free image paths) the prior trains on.

    Raises:
        DatasetLayoutError: An empty listing, or an ``--images`` folder holding test images.
    """
    data = load_product(data_cfg)
    name = cfg.product_name or data.product
    if not cfg.images:
        paths = [s.image_path for s in data.samples if s.label == Label.NORMAL and s.split == Split.TRAIN]
        if not paths:
            raise DatasetLayoutError(data.root / data.product, "has no normal training images", "pass --images DIR")
        return name, paths
    held_out = {s.image_path.resolve() for s in data.samples if s.split == Split.TEST}
    paths = []
    for folder in map(Path, cfg.images):
        if not folder.is_dir():
            raise DatasetLayoutError(folder, "image folder not found", f"check {flag('images')}")
        found = list_images(folder, data_cfg.extensions)
        if not found:
            raise DatasetLayoutError(
                folder, "holds no image files", f"extensions searched: {', '.join(data_cfg.extensions)}"
            )
        leaked = [p for p in found if p.resolve() in held_out]
        if leaked:
            fix = "a prior must never see evaluation images; pass train/good or your own folder"
            raise DatasetLayoutError(leaked[0], "is a held-out test image of the product", fix)
        paths.extend(found)
    return name, paths


class NormalImages:
    """The prior's images at training resolution, each augmented view made once and kept in memory."""

    def __init__(self, paths: list[Path], resolution: int, resize: str, augment: str) -> None:
        self.paths, self.resolution, self.resize, self.augment = paths, resolution, resize, augment
        self._rgb = [read_rgb(p) for p in paths]  # decoded up front: a bad file fails before training
        self._views: dict[tuple[int, int, int], torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def sizes(self) -> set[tuple[int, int]]:
        """The distinct (width, height) of the decoded images."""
        return {(int(rgb.shape[1]), int(rgb.shape[0])) for rgb in self._rgb}

    def view(self, index: int, turns: int, flip: int) -> torch.Tensor:
        """``[3, R, R]`` float32 in [-1, 1] of image ``index`` rotated by ``turns`` and flipped."""
        key = (index, turns, flip)
        if key not in self._views:
            rgb = rotate_flip(self._rgb[index], turns, flip)
            self._views[key] = torch.from_numpy(to_training_rgb(rgb, self.resolution, self.resize))
        return self._views[key]

    def plan(self, seed: int, phase: int, step: int, batch: int) -> list[tuple[int, int, int]]:
        """(image index, turns, flip) of each image of optimiser step ``step``: fresh shuffles, cycled."""
        items = []
        aug_rng = np.random.default_rng([seed, phase, 1, step])
        for j in range(batch):
            epoch, offset = divmod(step * batch + j, len(self))
            order = np.random.default_rng([seed, phase, 0, epoch]).permutation(len(self))
            items.append((int(order[offset]), *augment_draw(aug_rng, self.augment)))
        return items

    def batch(self, plan: list[tuple[int, int, int]]) -> torch.Tensor:
        """``[B, 3, R, R]`` images of a plan."""
        return torch.stack([self.view(*item) for item in plan])

    def crops(self, plan: list[tuple[int, int, int]], size: int, seed: int, phase: int, step: int) -> torch.Tensor:
        """``[B, 3, size, size]`` random crops of a plan's images (offsets drawn from (seed, phase, step))."""
        rng = np.random.default_rng([seed, phase, 9, step])
        out = []
        for item in plan:
            top, left = (int(v) for v in rng.integers(0, self.resolution - size + 1, size=2))
            out.append(self.view(*item)[:, top : top + size, left : left + size])
        return torch.stack(out)
