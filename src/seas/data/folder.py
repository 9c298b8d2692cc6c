"""Free folder layout: explicit defect, mask and normal folders; file names are used as they are."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seas.config import IMAGE_EXTENSIONS
from seas.data.samples import Sample, build_samples, list_images, list_subfolders
from seas.errors import DatasetLayoutError

__all__ = ["EXTENSIONS", "make_folder_samples"]

EXTENSIONS = IMAGE_EXTENSIONS


def make_folder_samples(
    product: str,
    defect_root: Path,
    mask_root: Path,
    normal_dir: Path,
    mask_suffix: str = "",
    extensions: Sequence[str] = EXTENSIONS,
) -> list[Sample]:
    """Sample table from explicit folders.

    ``defect_root`` holds one sub-folder per defect type (``defect_root/<type>/*.png``) with masks in
    ``mask_root/<type>/<stem><mask_suffix>.<ext>``. A ``defect_root`` with images and no
    sub-folders is one defect type named after the folder, with masks directly in ``mask_root``.

    Raises:
        DatasetLayoutError: A folder is missing, or a defect image has no mask.
    """
    for flag, folder in (("--defect-root", defect_root), ("--mask-root", mask_root), ("--normal-dir", normal_dir)):
        if not folder.is_dir():
            raise DatasetLayoutError(folder, f"{flag} folder not found", "check the path")
    type_dirs = list_subfolders(defect_root)
    if type_dirs:
        defect_dirs = {d.name: d for d in type_dirs}
        mask_dirs = {d.name: mask_root / d.name for d in type_dirs}
    elif list_images(defect_root, extensions):
        defect_dirs = {defect_root.name: defect_root}
        mask_dirs = {defect_root.name: mask_root}
    else:
        defect_dirs, mask_dirs = {}, {}
    return build_samples(product, defect_dirs, mask_dirs, mask_suffix, normal_dir, None, extensions)
