"""Baseline synthetic defects a user would otherwise pick: Perlin-noise (DRAEM-style) and CutPaste.

Both turn defect-free images into (image, mask) pairs, seeded. The Perlin baseline blends a
texture into a thresholded Perlin-noise region as DRAEM does; its texture source, shipped offline,
is another normal image of the product, rotated and colour-shifted (DRAEM used the DTD textures).
CutPaste cuts a rectangle of a normal image, colour-jitters it and pastes it elsewhere.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cutpaste", "perlin_defect", "perlin_noise"]


def perlin_noise(shape: tuple[int, int], cells: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """2-D gradient (Perlin) noise in about [-1, 1] over ``shape`` with ``cells`` lattice cells per axis."""
    height, width = shape
    angles = rng.uniform(0, 2 * np.pi, (cells[0] + 1, cells[1] + 1))
    grads = np.stack([np.cos(angles), np.sin(angles)], axis=-1)  # [cy+1, cx+1, 2]
    ys, xs = np.linspace(0, cells[0], height, endpoint=False), np.linspace(0, cells[1], width, endpoint=False)
    y, x = np.meshgrid(ys, xs, indexing="ij")
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = y - y0, x - x0

    def dot(dy: int, dx: int) -> np.ndarray:
        g = grads[y0 + dy, x0 + dx]
        return g[..., 0] * (fy - dy) + g[..., 1] * (fx - dx)

    def fade(t: np.ndarray) -> np.ndarray:
        return t * t * t * (t * (t * 6 - 15) + 10)

    top = dot(0, 0) + fade(fx) * (dot(0, 1) - dot(0, 0))
    bottom = dot(1, 0) + fade(fx) * (dot(1, 1) - dot(1, 0))
    return (top + fade(fy) * (bottom - top)) * np.sqrt(2)


def perlin_defect(image: np.ndarray, texture: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """DRAEM-style anomaly: ``image`` ``[H, W, 3]`` float in [0, 1] with ``texture`` blended into a Perlin region.

    Returns:
        (image, ``[H, W]`` bool mask); the mask is never empty.
    """
    height, width = image.shape[:2]
    while True:
        scale = 2 ** rng.integers(0, 4, size=2)
        noise = perlin_noise((height, width), (int(scale[0]), int(scale[1])), rng)
        mask = noise > 0.5
        if mask.sum() >= max(4, height * width // 400):
            break
    texture = np.rot90(texture, k=int(rng.integers(0, 4)))[:height, :width]
    texture = np.clip(texture * rng.uniform(0.6, 1.4, size=3) + rng.uniform(-0.2, 0.2), 0, 1)
    beta = rng.uniform(0.0, 0.8)
    m = mask[..., None]
    blended = image * (1 - m) + (1 - beta) * texture * m + beta * image * m
    return blended, mask


def cutpaste(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """CutPaste anomaly: a colour-jittered rectangle of ``image`` pasted at another place of it.

    Returns:
        (image ``[H, W, 3]`` float in [0, 1], ``[H, W]`` bool mask of the pasted rectangle).
    """
    height, width = image.shape[:2]
    area = rng.uniform(0.02, 0.15) * height * width
    aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
    ph = int(np.clip(np.sqrt(area * aspect), 2, height - 1))
    pw = int(np.clip(np.sqrt(area / aspect), 2, width - 1))
    sy, sx = rng.integers(0, height - ph), rng.integers(0, width - pw)
    ty, tx = rng.integers(0, height - ph), rng.integers(0, width - pw)
    patch = image[sy : sy + ph, sx : sx + pw] * rng.uniform(0.8, 1.2, size=3) + rng.uniform(-0.1, 0.1)
    out = image.copy()
    out[ty : ty + ph, tx : tx + pw] = np.clip(patch, 0, 1)
    mask = np.zeros((height, width), dtype=bool)
    mask[ty : ty + ph, tx : tx + pw] = True
    return out, mask
