"""How much of a product the VAE keeps: PSNR, SSIM and detail on images it never trained on.

PSNR alone flatters dark, centred product photos (a blurred blob already scores well), so every
number is reported next to the *mean-image baseline*: the mean of the training normals, scored
against each test image. ``detail`` is the mean gradient magnitude of the reconstructions over that
of the originals: 1 keeps every edge, a blur scores far below 1 (the mean image about 0.1-0.3).

``DefectFidelity`` asks the question a generator depends on: does the VAE keep a *defect*? A VAE
trained on normal images only can act like a reconstruction-based anomaly detector and paint a
normal product over a small defect; then no U-Net working in its latent space can draw one. It
compares the reconstruction error inside the real defect masks with the error outside them, next
to the same ratio for another image's mask (a region of the same shape elsewhere on the product).
Equal ratios: defects are kept as well as any other detail; a higher own-mask ratio: they are erased.
"""

from __future__ import annotations

from typing import Any  # the diffusers AutoencoderKL is typed as Any (untyped library)

import numpy as np
import torch
import torch.nn.functional as F

from seas.evaluate.inside_outside import InsideOutside

__all__ = [
    "DefectFidelity",
    "detail_ratio",
    "outline",
    "psnr",
    "reconstruct",
    "reconstruction_metrics",
    "ssim",
    "strip",
    "zoom_box",
    "zoom_strip",
]


def psnr(images: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """``[N]`` PSNR in dB of ``[N, C, H, W]`` images in [0, 1] against references of the same shape."""
    mse = ((images - references) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return -10 * torch.log10(mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).float()  # [size, size]


def ssim(images: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """``[N]`` SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03), mean over channels.

    Args:
        images: ``[N, C, H, W]`` in [0, 1].
        references: Same shape.
    """
    channels = images.shape[1]
    window = _gaussian_window().to(images)[None, None].repeat(channels, 1, 1, 1)  # [C, 1, 11, 11]

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=channels)  # valid convolution: no padding artefacts

    c1, c2 = 0.01**2, 0.03**2
    mu_x, mu_y = blur(images), blur(references)
    var_x = blur(images * images) - mu_x**2
    var_y = blur(references * references) - mu_y**2
    cov = blur(images * references) - mu_x * mu_y
    value = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return value.flatten(1).mean(1)


def _gradient_magnitude(images: torch.Tensor) -> torch.Tensor:
    """``[N]`` mean magnitude of horizontal and vertical finite differences."""
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    return (dx[..., :-1, :] ** 2 + dy[..., :, :-1] ** 2).sqrt().flatten(1).mean(1)


def detail_ratio(images: torch.Tensor, references: torch.Tensor) -> float:
    """Mean gradient magnitude of ``images`` over that of ``references`` (both ``[N, C, H, W]``)."""
    return float(_gradient_magnitude(images).sum() / _gradient_magnitude(references).sum().clamp_min(1e-12))


@torch.no_grad()
def reconstruct(vae: Any, images: torch.Tensor, batch: int = 8) -> torch.Tensor:
    """Decode the posterior mean of ``[N, 3, R, R]`` images in [-1, 1]; returns the same shape in [-1, 1]."""
    device = next(vae.parameters()).device
    out = []
    for i in range(0, len(images), batch):
        x = images[i : i + batch].to(device, vae.dtype)
        out.append(vae.decode(vae.encode(x).latent_dist.mean).sample.float().clamp(-1, 1).cpu())
    return torch.cat(out)


def reconstruction_metrics(vae: Any, train: torch.Tensor, test: torch.Tensor) -> dict[str, dict[str, float]]:
    """VAE reconstruction of ``test`` next to the mean of ``train`` as a constant prediction.

    Args:
        vae: The model's ``AutoencoderKL``.
        train: ``[N, 3, R, R]`` training normals in [-1, 1] (only their mean is used).
        test: ``[M, 3, R, R]`` images the VAE never trained on, in [-1, 1].

    Returns:
        ``{"vae": {...}, "mean_image": {...}}``, each with ``psnr_db``, ``ssim`` and ``detail`` (means over
        the test images) and, for the VAE, the margins ``psnr_gain_db`` and ``ssim_gain`` over the baseline.
    """
    to01 = lambda x: (x + 1) / 2  # noqa: E731 - a one-line unit conversion
    references = to01(test)
    recon = to01(reconstruct(vae, test))
    mean = to01(train.mean(0, keepdim=True)).expand_as(references)
    out = {}
    for name, images in (("vae", recon), ("mean_image", mean)):
        out[name] = {
            "psnr_db": float(psnr(images, references).mean()),
            "ssim": float(ssim(images, references).mean()),
            "detail": detail_ratio(images, references),
        }
    out["vae"]["psnr_gain_db"] = out["vae"]["psnr_db"] - out["mean_image"]["psnr_db"]
    out["vae"]["ssim_gain"] = out["vae"]["ssim"] - out["mean_image"]["ssim"]
    return out


def strip(rows: list[torch.Tensor]) -> np.ndarray:
    """``[len(rows) * R, N * R, 3]`` uint8 grid of rows of ``[N, 3, R, R]`` images in [-1, 1]."""
    lines = [torch.cat(list(row), dim=2) for row in rows]  # each [3, R, N * R]
    grid = ((torch.cat(lines, dim=1).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return grid.permute(1, 2, 0).numpy()


class DefectFidelity:
    """Reconstruction error inside vs outside real defect masks, own and shuffled (module docstring).

    Running sums over batches, so memory stays flat however many held-out defects there are.
    """

    def __init__(self) -> None:
        self.own, self.shuffled = InsideOutside(), InsideOutside()
        self.images = 0

    def add(self, originals: torch.Tensor, recon: torch.Tensor, masks: torch.Tensor, shuffled: torch.Tensor) -> None:
        """A batch: ``[B, 3, R, R]`` images, reconstructions in [-1, 1]; ``[B, R, R]`` bool masks (own, another's)."""
        error = (recon - originals).abs().mean(1) * 127.5  # [B, R, R] grey levels
        self.own.add(error, masks)
        self.shuffled.add(error, shuffled)
        self.images += len(masks)

    def result(self) -> dict[str, float | int | None]:
        """``images``, mean ``inside`` / ``outside`` error (grey levels of 255), ``ratio`` and ``shuffled_ratio``.

        Values are None where a mask set is empty or covers everything.
        """
        own = self.own.result()
        return {
            "images": self.images,
            "inside": own["inside"],
            "outside": own["outside"],
            "ratio": own["ratio"],
            "shuffled_ratio": self.shuffled.result()["ratio"],
        }


def outline(mask: np.ndarray, width: int) -> np.ndarray:
    """Pixels within ``width`` of the ``[H, W]`` bool mask (along a row or a column), outside it."""
    grown = mask.copy()
    for axis in (0, 1):
        for shift in range(-width, width + 1):
            grown |= np.roll(mask, shift, axis=axis)
    return grown & ~mask


def zoom_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Square (left, top, right, bottom) around a ``[S, S]`` mask: twice its extent, at least a quarter of the side."""
    side = mask.shape[0]
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return side * 3 // 8, side * 3 // 8, side * 5 // 8, side * 5 // 8
    extent = max(side // 4, 2 * int(max(ys.max() - ys.min(), xs.max() - xs.min()) + 1))
    extent = min(extent, side)
    cy, cx = (int(ys.min() + ys.max()) // 2, int(xs.min() + xs.max()) // 2)
    top = min(max(cy - extent // 2, 0), side - extent)
    left = min(max(cx - extent // 2, 0), side - extent)
    return left, top, left + extent, top + extent


def zoom_strip(rows: list[torch.Tensor], masks: torch.Tensor) -> np.ndarray:
    """Like :func:`strip`, each image cropped to the :func:`zoom_box` of its mask and enlarged to full size.

    Nearest-neighbour enlargement: every original pixel stays a visible square, nothing is invented.
    """
    side = masks.shape[-1]
    zoomed = []
    for row in rows:
        crops = []
        for image, mask in zip(row, masks, strict=True):
            left, top, right, bottom = zoom_box(mask.numpy())
            crop = image[:, top:bottom, left:right][None]
            crops.append(F.interpolate(crop, size=(side, side), mode="nearest")[0])
        zoomed.append(torch.stack(crops))
    return strip(zoomed)
