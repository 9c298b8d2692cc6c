"""``seas inspect``: read every file training will need and report counts, split, coverage, warnings.

Refusals (missing mask, size mismatch, unreadable file, ...) raise; things a user should know but
that do not stop training (empty masks, tiny defects, single-image types) become warnings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from seas.data.catalog import ProductData
from seas.data.imageio import image_size, read_mask
from seas.data.split import DataSplit
from seas.errors import InputFileError

__all__ = ["MIN_DEFECT_PIXELS", "format_report", "inspect_product"]

# Below this many pixels at the file's own size a defect vanishes in the 16x16 and 32x32 attention
# maps the DA loss reads (a 512 px image maps 32 px to one 16x16 cell).
MIN_DEFECT_PIXELS = 16


def _mask_stats(image: Path, mask: Path) -> tuple[float, int, tuple[int, int]]:
    """(foreground fraction, foreground pixels, image size) of ``mask``, checked to match ``image`` in size."""
    size = image_size(image)
    fg = read_mask(mask)
    if (fg.shape[1], fg.shape[0]) != size:
        raise InputFileError(
            mask,
            f"mask is {fg.shape[1]}x{fg.shape[0]} but its image {image} is {size[0]}x{size[1]}",
            "resize the mask to its image",
        )
    pixels = int(fg.sum())
    return pixels / fg.size, pixels, size


def _inspect_type(
    defect_type: str, data: ProductData, split: DataSplit
) -> tuple[dict[str, Any], set[tuple[int, int]]]:
    """The report of one defect type, and the sizes of its images."""
    samples = data.defect_images(defect_type)
    fractions, warnings, sizes = [], [], set()
    for s in samples:
        assert s.mask_path is not None
        fraction, pixels, size = _mask_stats(s.image_path, s.mask_path)
        fractions.append(fraction)
        sizes.add(size)
        if pixels == 0:
            warnings.append(f"{s.mask_path}: empty mask (no defect pixels)")
        elif pixels < MIN_DEFECT_PIXELS:
            warnings.append(f"{s.mask_path}: defect of only {pixels} pixels")
    if len(samples) == 1:
        warnings.append(f"{defect_type}: only one image; it is used for training and none is held out")
    fr = np.asarray(fractions)
    info = {
        "images": len(samples),
        "train": len(split.types[defect_type].train),
        "heldout": len(split.types[defect_type].heldout),
        "mask_coverage": {"min": float(fr.min()), "mean": float(fr.mean()), "max": float(fr.max())},
        "warnings": warnings,
    }
    return info, sizes


def inspect_product(data: ProductData, split: DataSplit) -> dict[str, Any]:
    """Decode every selected image and mask of ``data`` and summarise it.

    Returns:
        ``{"product", "layout", "root", "normals": {"train", "used", "test"}, "types": {...}, "warnings",
        "notes"}``; ``notes`` say what training will do to the images (a centre crop of non-square ones).

    Raises:
        InputFileError: An unreadable/truncated file, or a mask whose size differs from its image.
    """
    sizes = {image_size(path) for path in data.normals}
    sizes |= {image_size(s.image_path) for s in data.test_normals}
    types = {}
    for t in data.defect_types:
        types[t], type_sizes = _inspect_type(t, data, split)
        sizes |= type_sizes
    warnings = [w for info in types.values() for w in info["warnings"]]
    train_normals = sum(1 for s in data.samples if s.defect_type == "good" and s.split.value == "train")
    return {
        "product": data.product,
        "layout": data.layout,
        "root": str(data.root),
        "normals": {"train": train_normals, "used": len(data.normals), "test": len(data.test_normals)},
        "types": types,
        "warnings": warnings,
        "notes": crop_notes(sizes),
    }


def crop_notes(sizes: set[tuple[int, int]]) -> list[str]:
    """What training does to non-square images of these (width, height) sizes, said once."""
    oblong = sorted(size for size in sizes if size[0] != size[1])
    if not oblong:
        return []
    shown = ", ".join(f"{w} x {h}" for w, h in oblong[:3]) + (", ..." if len(oblong) > 3 else "")
    return [
        f"images of {shown} px are not square: --resize crop (the default) scales the shorter side to --resolution "
        "and keeps the centre square; --resize stretch squeezes the whole image instead"
    ]


def format_report(report: dict[str, Any]) -> str:
    """Human-readable table of an :func:`inspect_product` report."""
    n = report["normals"]
    lines = [
        f"product {report['product']} ({report['layout']} layout) at {report['root']}",
        f"normal images: {n['train']} train/good (stage 1 uses the first {n['used']}, --num-normals; seas pretrain "
        f"uses all {n['train']}), {n['test']} test/good",
        "",
        f"{'defect type':<24}{'images':>7}{'train':>7}{'heldout':>9}{'mask cover min/mean/max':>28}",
    ]
    for name, info in report["types"].items():
        c = info["mask_coverage"]
        cover = f"{c['min']:.2%} / {c['mean']:.2%} / {c['max']:.2%}"
        lines.append(f"{name:<24}{info['images']:>7}{info['train']:>7}{info['heldout']:>9}{cover:>28}")
    lines.append("")
    if report["warnings"]:
        lines.append(f"{len(report['warnings'])} warning(s):")
        lines += [f"  warning: {w}" for w in report["warnings"]]
    else:
        lines.append("no warnings")
    lines += [f"note: {note}" for note in report.get("notes", [])]
    return "\n".join(lines)
