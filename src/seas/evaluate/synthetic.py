"""Baseline synthetic defects a user would otherwise pick: Perlin-noise (DRAEM-style) and CutPaste.

Both turn defect-free images into (image, mask) pairs, seeded, in two recipes. The textbook recipe
(``perlin_defect``, ``cutpaste``) places a region anywhere in the frame at the sizes of the papers
(a Perlin region over about a fifth of the picture; a rectangle of 2-15 % of it). The recipe a
competent user would make (``sized_perlin_defect``, ``sized_cutpaste``) puts one region of a given
area, drawn from the product's training defects, on the object (docs/method.md §2.12). The Perlin
baseline blends a texture into its region as DRAEM does; its texture source, shipped offline, is
another normal image of the product, rotated and colour-shifted (DRAEM used the DTD textures).
CutPaste cuts a patch of a normal image, colour-jitters it and pastes it elsewhere.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["cutpaste", "perlin_defect", "perlin_noise", "region_areas", "sized_cutpaste", "sized_perlin_defect"]


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
    return _blend(image, texture, mask, beta), mask


def _blend(image: np.ndarray, texture: np.ndarray, mask: np.ndarray, beta: float) -> np.ndarray:
    """DRAEM's blend: inside ``mask`` ``(1 - beta) * texture + beta * image``, outside ``image``."""
    m = mask[..., None]
    return image * (1 - m) + (1 - beta) * texture * m + beta * image * m


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


def region_areas(masks: list[np.ndarray]) -> np.ndarray:
    """Pixel counts of every 8-connected region of the ``[H, W]`` bool ``masks`` (the sizes to imitate)."""
    areas: list[int] = []
    for mask in masks:
        labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
        areas += [int(a) for a in np.bincount(labels.ravel())[1:]] if count else []
    return np.asarray(areas, dtype=np.int64)


def _random_pixel(allowed: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    ys, xs = np.nonzero(allowed)
    k = int(rng.integers(len(ys)))
    return int(ys[k]), int(xs[k])


def _perlin_blob(allowed: np.ndarray, area: int, rng: np.random.Generator) -> np.ndarray:
    """An irregular region of ``area`` allowed pixels around a random allowed pixel (the top of noise + falloff)."""
    height, width = allowed.shape
    cy, cx = _random_pixel(allowed, rng)
    half = int(np.ceil(1.5 * np.sqrt(area))) + 1
    y0, y1, x0, x1 = max(cy - half, 0), min(cy + half + 1, height), max(cx - half, 0), min(cx + half + 1, width)
    cells = int(rng.integers(1, 4))
    noise = perlin_noise((y1 - y0, x1 - x0), (cells, cells), rng)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    falloff = ((yy - cy) ** 2 + (xx - cx) ** 2) / float(half * half)
    score = np.where(allowed[y0:y1, x0:x1], noise - 2.0 * falloff, -np.inf)
    take = min(area, int(np.isfinite(score).sum()))
    chosen = np.zeros(score.shape, dtype=bool)
    chosen.ravel()[np.argsort(-score, axis=None, kind="stable")[:take]] = True
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = chosen
    return mask


def sized_perlin_defect(
    image: np.ndarray, texture: np.ndarray, area: int, allowed: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """DRAEM-style anomaly of ``area`` pixels on ``allowed`` (the object): ``texture`` blended into a Perlin blob.

    Returns:
        (image ``[H, W, 3]`` float in [0, 1], ``[H, W]`` bool mask inside ``allowed``, never empty).
    """
    mask = _perlin_blob(allowed, max(int(area), 1), rng)
    texture = np.rot90(texture, k=2 * int(rng.integers(0, 2)))  # half turns keep the shape of a non-square picture
    texture = np.clip(texture * rng.uniform(0.6, 1.4, size=3) + rng.uniform(-0.2, 0.2), 0, 1)
    return _blend(image, texture, mask, float(rng.uniform(0.0, 0.8))), mask


def sized_cutpaste(
    image: np.ndarray, area: int, allowed: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """CutPaste anomaly of about ``area`` pixels: a jittered patch of the object pasted elsewhere on it.

    The patch is a rectangle of that area (aspect 0.3-3.3) cut around one object pixel and pasted
    around another; the mask is the pasted rectangle's part on the object.

    Returns:
        (image ``[H, W, 3]`` float in [0, 1], ``[H, W]`` bool mask inside ``allowed``, never empty).
    """
    height, width = image.shape[:2]
    aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3)))
    ph = int(np.clip(round(np.sqrt(area * aspect)), 1, height))
    pw = int(np.clip(round(np.sqrt(area / aspect)), 1, width))

    def corner(allowed_pixels: np.ndarray) -> tuple[int, int]:
        cy, cx = _random_pixel(allowed_pixels, rng)
        return int(np.clip(cy - ph // 2, 0, height - ph)), int(np.clip(cx - pw // 2, 0, width - pw))

    (sy, sx), (ty, tx) = corner(allowed), corner(allowed)
    patch = image[sy : sy + ph, sx : sx + pw] * rng.uniform(0.8, 1.2, size=3) + rng.uniform(-0.1, 0.1)
    mask = np.zeros((height, width), dtype=bool)
    mask[ty : ty + ph, tx : tx + pw] = True
    mask &= allowed  # never empty: the rectangle covers the object pixel it was placed around
    out = image.copy()
    pasted = out[ty : ty + ph, tx : tx + pw]
    inside = mask[ty : ty + ph, tx : tx + pw]
    pasted[inside] = np.clip(patch, 0, 1)[inside]
    return out, mask
