"""MVTec AD layout: ``test/<type>/<stem>.png`` with masks ``ground_truth/<type>/<stem>_mask.png``.

MVTec AD: Bergmann et al., CVPR 2019, CC BY-NC-SA 4.0. Also used for converted datasets in this
layout (for example the bundled MVTec 3D-AD tire sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seas.config import IMAGE_EXTENSIONS
from seas.data.samples import Sample, build_samples, list_subfolders
from seas.data.tree import product_dir

__all__ = ["EXTENSIONS", "PRODUCTS", "make_mvtec_ad_samples"]

PRODUCTS = (
    "bottle",
    "cable",
    "capsule",
    "carpet",
    "grid",
    "hazelnut",
    "leather",
    "metal_nut",
    "pill",
    "screw",
    "tile",
    "toothbrush",
    "transistor",
    "wood",
    "zipper",
)
EXTENSIONS = IMAGE_EXTENSIONS


def make_mvtec_ad_samples(
    root: Path, product: str, extensions: Sequence[str] = EXTENSIONS, mask_suffix: str = "_mask"
) -> list[Sample]:
    """Sample table of one MVTec-AD-layout product (see :func:`seas.data.samples.build_samples`)."""
    base = product_dir(root, product, "test")
    types = [d.name for d in list_subfolders(base / "test") if d.name != "good"]
    return build_samples(
        product,
        defect_dirs={t: base / "test" / t for t in types},
        mask_dirs={t: base / "ground_truth" / t for t in types},
        mask_suffix=mask_suffix,
        normal_train_dir=base / "train" / "good",
        normal_test_dir=base / "test" / "good",
        extensions=extensions,
    )
