"""Locating a product folder under a dataset root, with errors that list what is there instead."""

from __future__ import annotations

from pathlib import Path

from seas.errors import DatasetLayoutError

__all__ = ["product_dir"]


def product_dir(root: Path, product: str, must_contain: str) -> Path:
    """``root/product``, checked to exist and to contain ``must_contain``.

    Raises:
        DatasetLayoutError: The root, the product or its ``must_contain`` folder is missing.
    """
    if not root.is_dir():
        raise DatasetLayoutError(root, "data root not found", "pass the folder that holds your product folders")
    base = root / product
    if not base.is_dir():
        products = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        listed = ", ".join(products) if products else "none"
        raise DatasetLayoutError(base, "product folder not found", f"products under {root}: {listed}")
    if not (base / must_contain).is_dir():
        raise DatasetLayoutError(
            base / must_contain, "folder not found", "check --layout (mvtec, visa, mvtec3d) or use --layout folder"
        )
    return base
