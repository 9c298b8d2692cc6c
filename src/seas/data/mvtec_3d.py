"""MVTec 3D-AD layout, RGB only, read natively: ``test/<type>/rgb/`` images and ``test/<type>/gt/`` masks.

MVTec 3D-AD: Bergmann et al., VISAPP 2022, CC BY-NC-SA 4.0. Point clouds (``xyz/``) are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seas.config import IMAGE_EXTENSIONS
from seas.data.samples import Sample, build_samples, list_subfolders
from seas.data.tree import product_dir

__all__ = ["EXTENSIONS", "PRODUCTS", "make_mvtec_3d_samples"]

PRODUCTS = (
    "bagel",
    "cable_gland",
    "carrot",
    "cookie",
    "dowel",
    "foam",
    "peach",
    "potato",
    "rope",
    "tire",
)
EXTENSIONS = IMAGE_EXTENSIONS


def make_mvtec_3d_samples(root: Path, product: str, extensions: Sequence[str] = EXTENSIONS) -> list[Sample]:
    """Sample table of one MVTec 3D-AD product (RGB images, masks from ``gt/``)."""
    base = product_dir(root, product, "test")
    types = [d.name for d in list_subfolders(base / "test") if d.name != "good"]
    return build_samples(
        product,
        defect_dirs={t: base / "test" / t / "rgb" for t in types},
        mask_dirs={t: base / "test" / t / "gt" for t in types},
        mask_suffix="",
        normal_train_dir=base / "train" / "good" / "rgb",
        normal_test_dir=base / "test" / "good" / "rgb",
        extensions=extensions,
    )
