"""Small synthetic datasets on disk, one writer per layout, for tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIZE = (48, 40)  # W x H: non-square on purpose


def write_image(path: Path, seed: int, size: tuple[int, int] = SIZE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def write_mask(
    path: Path, box: tuple[int, int, int, int] = (10, 8, 30, 24), size: tuple[int, int] = SIZE, value: int = 255
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = np.zeros((size[1], size[0]), dtype=np.uint8)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = value
    Image.fromarray(mask).save(path)
    return path


DEFAULT_TYPES = {"crack": 6, "scratch": 4}


def make_mvtec(
    root: Path,
    product: str = "widget",
    types: dict[str, int] | None = None,
    normals: int = 5,
    mask_suffix: str = "_mask",
) -> Path:
    """MVTec AD layout (mask_suffix="" gives the VisA layout). Returns the dataset root."""
    base = root / product
    for i in range(normals):
        write_image(base / "train" / "good" / f"{i:03d}.png", seed=i)
    write_image(base / "test" / "good" / "000.png", seed=99)
    for t_idx, (name, n) in enumerate(sorted((types or DEFAULT_TYPES).items())):
        for i in range(n):
            write_image(base / "test" / name / f"{i:03d}.png", seed=100 * (t_idx + 1) + i)
            write_mask(base / "ground_truth" / name / f"{i:03d}{mask_suffix}.png")
    return root


def make_mvtec3d(root: Path, product: str = "widget", types: dict[str, int] | None = None, normals: int = 5) -> Path:
    base = root / product
    for i in range(normals):
        write_image(base / "train" / "good" / "rgb" / f"{i:03d}.png", seed=i)
        (base / "train" / "good" / "xyz").mkdir(parents=True, exist_ok=True)
    for t_idx, (name, n) in enumerate(sorted((types or DEFAULT_TYPES).items())):
        for i in range(n):
            write_image(base / "test" / name / "rgb" / f"{i:03d}.png", seed=100 * (t_idx + 1) + i)
            write_mask(base / "test" / name / "gt" / f"{i:03d}.png")
    return root


def make_folder(root: Path, types: dict[str, int] | None = None, normals: int = 4) -> dict[str, Path]:
    """Free layout with arbitrary names; returns the three folders."""
    for i in range(normals):
        write_image(root / "ok" / f"img_{i}.jpg", seed=i)
    for t_idx, (name, n) in enumerate(sorted((types or DEFAULT_TYPES).items())):
        for i in range(n):
            write_image(root / "bad" / name / f"part{i}.png", seed=100 * (t_idx + 1) + i)
            write_mask(root / "labels" / name / f"part{i}-label.png")
    return {"defect_root": root / "bad", "mask_root": root / "labels", "normal_dir": root / "ok"}
