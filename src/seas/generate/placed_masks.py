"""Masks placed from the training defects (``seas generate --mask-source train``; not in the paper).

SeaS predicts each pair's mask with the RMP head. When a small prior's head draws masks far larger
than any real defect of the type (as on the tire patches, docs/research/pair_quality/), a pair can
instead take a real training mask of its type: a seeded
pick, quarter turn and flip (the training augmentation), so sizes and shapes are the type's own. The
sampler then lets the picture change only there: at every step the latents outside the mask (cells
the mask touches stay free) are reset to the reference image's latent noised to that step, and beyond
``margin`` px of the mask the picture is that latent decoded (``--placed-background decoded``) or the
reference photo itself (``photo``). The mask is exact by construction: nothing outside it and its margin
differs from the real normal image. ``photo`` adds the generator's change (the generated picture minus the
decoded reference) to the photo, so the photo's sensor noise and fine detail run on through the defect:
a decoded defect pasted into a photo leaves a seam of smooth texture that a segmenter learns instead of
the defect (the downstream comparison of both is in docs/research/pair_quality/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from seas.data.augment import augment_draw, rotate_flip, to_training_mask, to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.generate.paste import near_mask_weight

__all__ = ["defect_start_rgb", "known_latents", "latent_mask", "pick_training_mask", "placed_pixels", "turn_like"]


def pick_training_mask(
    pool: list[Path], seed: int, resolution: int, about: str = "image"
) -> tuple[np.ndarray, dict[str, Any]]:
    """A ``[R, R]`` bool mask drawn from ``pool`` by ``seed``, and the record of the draw (file, turns, flip).

    ``about`` (``--placed-turn``): ``image`` turns and flips the whole mask picture, as training augments it;
    ``defect`` turns and flips the defect about its own centre (recorded as ``centre``), so that on an aligned
    product it stays where a real defect was instead of landing beside the product. Pixels more than half
    covered after the resize are defect; a mask too small for that keeps every pixel it touches, so no draw
    comes out empty.
    """
    rng = np.random.default_rng(seed)
    path = pool[int(rng.integers(len(pool)))]
    turns, flip = augment_draw(rng, "rot90_flip")
    origin: dict[str, Any] = {"mask": str(path), "turns": turns, "flip": flip}
    full = read_mask(path)
    if about == "defect":
        ys, xs = np.nonzero(full)
        if len(ys):  # an empty training mask has no centre: it stays empty either way
            origin["centre"] = [int(ys.min() + ys.max()) // 2, int(xs.min() + xs.max()) // 2]
    soft = to_training_mask(turn_like(full, origin), resolution, "crop")[0]
    mask = soft > 0.5
    if not mask.any():
        mask = soft > 0
    return mask, origin


def turn_like(array: np.ndarray, origin: dict[str, Any]) -> np.ndarray:
    """``array`` (``[H, W, ...]``, the mask's full size) turned and flipped as the draw ``origin`` turned its mask.

    Without a ``centre`` the picture turns about its middle (the training augmentation, which may change its
    shape); with one, it turns about that centre and keeps its shape, so the defect keeps its place (what
    turns in from beyond the picture is zero; only the defect and its fading margin are used).
    """
    if "centre" not in origin:
        return rotate_flip(array, origin["turns"], origin["flip"])
    cy, cx = origin["centre"]
    h, w = array.shape[:2]
    half = max(cy, h - 1 - cy, cx, w - 1 - cx)  # the picture's reach from the centre: the box holds it all
    padded = np.pad(array, [(half, half), (half, half)] + [(0, 0)] * (array.ndim - 2))
    box = (slice(cy, cy + 2 * half + 1), slice(cx, cx + 2 * half + 1))  # centred on (cy, cx) once padded
    padded[box] = rotate_flip(padded[box], origin["turns"], origin["flip"])
    return padded[half : half + h, half : half + w]


def defect_start_rgb(
    reference: np.ndarray, defect: Path, origin: dict[str, Any], mask: np.ndarray, margin: int
) -> np.ndarray:
    """``[3, R, R]`` in [-1, 1]: the reference with a training defect over the placed mask (``--placed-start defect``).

    ``defect`` is the training image the mask came from, turned and flipped as the mask was (``origin``), so its
    defect lies under the mask; it fades out over about ``2 * margin`` px.
    """
    rgb = to_training_rgb(turn_like(read_rgb(defect), origin), reference.shape[-1], "crop")
    weight = near_mask_weight(mask, margin)[None]
    return (reference * (1 - weight) + rgb * weight).astype(np.float32)


def latent_mask(masks: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """``[B, 1, R/8, R/8]`` float: 1 on every latent cell a mask pixel falls in (where the sampler may draw)."""
    stacked = torch.from_numpy(np.stack(masks)).to(device=device, dtype=torch.float32)[:, None]
    return F.max_pool2d(stacked, 8)


def known_latents(reference: torch.Tensor, noise: torch.Tensor, alpha_bar: torch.Tensor | None) -> torch.Tensor:
    """The scaled reference latent noised with the start noise to ``alpha_bar`` (None: the clean latent, last step)."""
    if alpha_bar is None:
        return reference
    return alpha_bar.sqrt() * reference + (1 - alpha_bar).sqrt() * noise


def placed_pixels(
    generated: np.ndarray, decoded: np.ndarray, mask: np.ndarray, margin: int, photo: np.ndarray | None = None
) -> np.ndarray:
    """``[R, R, 3]`` uint8: the generator's change on the mask and its margin, added to the decoded reference or photo.

    The change is ``generated - decoded`` (``decoded``: the reference latent decoded), weighted 1 on the mask
    and fading to 0 over about ``2 * margin`` px; beyond, the result is ``decoded`` (or ``photo``) exactly.
    """
    weight = near_mask_weight(mask, margin)[..., None]
    change = weight * (generated.astype(np.float32) - decoded.astype(np.float32))
    base = decoded if photo is None else photo
    return np.clip(np.round(base.astype(np.float32) + change), 0, 255).astype(np.uint8)
