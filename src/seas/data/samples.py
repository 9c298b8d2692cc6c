"""The common sample table every dataset layout produces, and the one listing rule (docs/method.md §2.2).

A layout module only decides which folders hold which images; :func:`build_samples` does the
listing, the exact-stem mask pairing and the checks, so every layout behaves the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, IntEnum
from pathlib import Path

from seas.errors import DatasetLayoutError

__all__ = ["Label", "Sample", "Split", "build_samples", "find_mask", "list_images", "list_subfolders"]


class Split(str, Enum):
    """The folder split a file comes from (not the stage-1 train/held-out split)."""

    TRAIN = "train"
    TEST = "test"


class Label(IntEnum):
    """Image label; compares equal to 0/1."""

    NORMAL = 0
    ANOMALOUS = 1


@dataclass(frozen=True, order=True)
class Sample:
    """One image of a product: a normal image (``defect_type == "good"``) or a defect image with its mask."""

    product: str
    defect_type: str
    split: Split
    image_path: Path
    mask_path: Path | None
    label: Label


def list_images(folder: Path, extensions: Sequence[str]) -> list[Path]:
    """Regular image files in ``folder``: known extension (any case), not hidden, sorted by name.

    Raises:
        DatasetLayoutError: ``folder`` does not exist or is not a folder.
    """
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "folder not found"
        raise DatasetLayoutError(folder, what, "check the dataset root, product and --layout")
    exts = {e.lower().lstrip(".") for e in extensions}
    files = [
        p
        for p in folder.iterdir()
        if not p.name.startswith(".") and p.suffix.lower().lstrip(".") in exts and p.is_file()
    ]
    return sorted(files, key=lambda p: p.name)


def list_subfolders(folder: Path) -> list[Path]:
    """Non-hidden sub-folders of ``folder``, sorted by name."""
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def find_mask(image: Path, mask_dir: Path, suffix: str, extensions: Sequence[str]) -> Path:
    """The mask of ``image``: ``mask_dir/<stem><suffix>.<ext>``, matched by exact stem, never by position.

    Raises:
        DatasetLayoutError: No such file; the message names the image and every path looked for.
    """
    wanted = f"{image.stem}{suffix}"
    if mask_dir.is_dir():
        exts = {e.lower().lstrip(".") for e in extensions}
        hits = sorted(
            p for p in mask_dir.iterdir() if p.stem == wanted and p.suffix.lower().lstrip(".") in exts and p.is_file()
        )
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            names = ", ".join(p.name for p in hits)
            raise DatasetLayoutError(image, f"several masks match ({names} in {mask_dir})", "keep exactly one")
    raise DatasetLayoutError(
        image,
        f"no mask found (looked for {mask_dir / wanted}.png or another image extension)",
        "add the mask, or choose the --layout whose mask naming your data uses",
    )


def _images_or_fail(folder: Path, extensions: Sequence[str], what: str) -> list[Path]:
    images = list_images(folder, extensions)
    if not images:
        raise DatasetLayoutError(
            folder, f"no {what} images (extensions searched: {', '.join(extensions)})", "add images or fix the path"
        )
    return images


def build_samples(
    product: str,
    defect_dirs: Mapping[str, Path],
    mask_dirs: Mapping[str, Path],
    mask_suffix: str,
    normal_train_dir: Path,
    normal_test_dir: Path | None,
    extensions: Sequence[str],
) -> list[Sample]:
    """Assemble a product's sorted sample table from its folders.

    Args:
        product: Product name.
        defect_dirs: Defect type -> folder of its images.
        mask_dirs: Defect type -> folder of its masks.
        mask_suffix: Text between an image's stem and its mask's extension (``_mask`` for MVTec AD).
        normal_train_dir: Defect-free training images (required, non-empty).
        normal_test_dir: Defect-free test images, if the layout has them and the folder exists.
        extensions: Image extensions to list.

    Returns:
        Samples sorted by (defect type, split, file name); normals have ``defect_type == "good"``.

    Raises:
        DatasetLayoutError: No defect types, an empty folder, or a defect image without a mask.
    """
    if not defect_dirs:
        raise DatasetLayoutError(product, "no defect types found", "add one sub-folder of defect images per type")
    samples = [
        Sample(product, "good", Split.TRAIN, p, None, Label.NORMAL)
        for p in _images_or_fail(normal_train_dir, extensions, "normal (defect-free)")
    ]
    if normal_test_dir is not None and normal_test_dir.is_dir():
        samples += [
            Sample(product, "good", Split.TEST, p, None, Label.NORMAL)
            for p in list_images(normal_test_dir, extensions)
        ]
    for defect_type in sorted(defect_dirs):
        for image in _images_or_fail(defect_dirs[defect_type], extensions, f"{defect_type!r} defect"):
            mask = find_mask(image, mask_dirs[defect_type], mask_suffix, extensions)
            samples.append(Sample(product, defect_type, Split.TEST, image, mask, Label.ANOMALOUS))
    return sorted(samples, key=lambda s: (s.defect_type, s.split.value, s.image_path.name))
