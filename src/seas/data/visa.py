"""Per-type VisA layout (the SeaS authors' re-split): MVTec-AD folders, masks named like the image.

VisA: Zou et al., ECCV 2022, CC BY 4.0. Masks are ``ground_truth/<type>/<stem>.png``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seas.config import IMAGE_EXTENSIONS
from seas.data.mvtec_ad import make_mvtec_ad_samples
from seas.data.samples import Sample

__all__ = ["EXTENSIONS", "PRODUCTS", "make_visa_samples"]

PRODUCTS = (
    "candle",
    "capsules",
    "cashew",
    "chewinggum",
    "fryum",
    "macaroni1",
    "macaroni2",
    "pcb1",
    "pcb2",
    "pcb3",
    "pcb4",
    "pipe_fryum",
)
EXTENSIONS = IMAGE_EXTENSIONS


def make_visa_samples(root: Path, product: str, extensions: Sequence[str] = EXTENSIONS) -> list[Sample]:
    """Sample table of one VisA-layout product; identical to MVTec AD except the mask names."""
    return make_mvtec_ad_samples(root, product, extensions, mask_suffix="")
