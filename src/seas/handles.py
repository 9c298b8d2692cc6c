"""What the Python interface hands back: a run folder (:class:`Run`) and generated pairs (:class:`Pair`).

:class:`Run`'s methods are the :mod::func:`seas.api` functions that take a run folder, with this one filled in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from seas.run_folder import RunFolder

__all__ = ["GeneratedPairs", "Pair", "Run"]

ConfigFile = str | Path | None
Results = dict[str, Any]  # Any: JSON


@dataclass(frozen=True)
class Pair:
    """One generated pair, in memory.

    Attributes:
        defect_type: Folder name: the defect type, ``a+b`` for a combination, ``good`` for a normal image.
        index: The pair's number in its folder (its seed is ``seed + index``).
        image: RGB image.
        mask: Mode ``L`` mask (255 = defect), None for a normal image.
        record: What the manifest records of it (seed, prompt, reference image, ...); {} for :func:`seas.sample`.
    """

    defect_type: str
    index: int
    image: Image.Image
    mask: Image.Image | None
    record: dict[str, Any]  # Any: JSON

    @property
    def image_array(self) -> np.ndarray:
        """``[H, W, 3]`` uint8."""
        return np.asarray(self.image.convert("RGB"))

    @property
    def mask_array(self) -> np.ndarray:
        """``[H, W]`` bool (all False for a normal image)."""
        if self.mask is None:
            return np.zeros(self.image.size[::-1], dtype=bool)
        return np.asarray(self.mask.convert("L")) > 127


@dataclass(frozen=True)
class GeneratedPairs:
    """The pairs of one product on disk, as :func:`seas.generate_pairs` left them; iterating reads them in order.

    Attributes:
        folder: ``<output-dir>/<product>``, one sub-folder per defect type with a ``manifest.jsonl``.
        counts: Pairs on disk per folder.
        exports: The exports asked for (``anomalib``, ``coco``, ``yolo``) -> ``<export-dir>/<product>``.
        export_counts: What each export holds (anomalib: files per folder; coco: images, annotations;
            yolo: images, label lines).
    """

    folder: Path
    counts: dict[str, int]
    exports: dict[str, Path] = field(default_factory=dict)
    export_counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Pair]:
        from seas.generate.outputs import read_manifest

        for name in sorted(self.counts):
            for record in read_manifest(self.folder / name):
                image = Image.open(self.folder / name / record["image"])
                image.load()
                mask = None
                if "mask" in record:
                    mask = Image.open(self.folder / name / record["mask"])
                    mask.load()
                yield Pair(name, int(record["index"]), image, mask, record)

    def __len__(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Run:
    """A run folder: stage 1 writes it, every later stage reads it. Methods run the later stages on it.

    Attributes:
        root: The folder.
    """

    root: Path

    @property
    def product(self) -> str:
        """The product stage 1 trained on (from its split record)."""
        from seas.records import read_json

        split = RunFolder(self.root).split
        return read_json(split, f"rerun seas train --run-dir {self.root}", lambda r: str(r["product"]))  # type: ignore[no-any-return]

    @property
    def defect_types(self) -> tuple[str, ...]:
        """The defect types the generator has tokens for, in token order."""
        from seas.run_folder import read_token_map

        return tuple(read_token_map(self.root).defect_types)

    @property
    def has_generator(self) -> bool:
        """Whether stage 1 finished."""
        from seas.run_folder import generator_problem

        return generator_problem(self.root) is None

    @property
    def has_mask_head(self) -> bool:
        """Whether stage 2 finished."""
        return RunFolder(self.root).rmp_weights.is_file()

    def train_mask(self, config: ConfigFile = None, **options: Any) -> Run:
        """Stage 2 on this run; see :func:`seas.train_mask`."""
        from seas.api import train_mask

        return train_mask(self.root, config, **options)

    def generate(self, config: ConfigFile = None, **options: Any) -> GeneratedPairs:
        """Pairs as files; see :func:`seas.generate_pairs`."""
        from seas.api import generate_pairs

        return generate_pairs(self.root, config, **options)

    def sample(self, config: ConfigFile = None, **options: Any) -> Iterator[Pair]:
        """Pairs in memory; see :func:`seas.sample`."""
        from seas.api import sample

        return sample(self.root, config, **options)

    def pairs(self, output_dir: str | Path | None = None) -> GeneratedPairs:
        """The pairs already on disk under ``output_dir`` (default: RUN/generated), without generating any."""
        from seas.generate.outputs import read_manifest

        folder = RunFolder(self.root).generated(self.product, Path(output_dir) if output_dir is not None else None)
        names = sorted(p.parent.name for p in folder.glob("*/manifest.jsonl"))
        return GeneratedPairs(folder, {name: len(read_manifest(folder / name)) for name in names})

    def evaluate_segmentation(self, config: ConfigFile = None, **options: Any) -> Results:
        """Downstream benchmark; see :func:`seas.evaluate_segmentation`."""
        from seas.api import evaluate_segmentation

        return evaluate_segmentation(self.root, config, **options)

    def evaluate_quality(self, config: ConfigFile = None, **options: Any) -> Results:
        """Pair checks; see :func:`seas.evaluate_quality`."""
        from seas.api import evaluate_quality

        return evaluate_quality(self.root, config, **options)

    def report(self, config: ConfigFile = None, **options: Any) -> Path:
        """Static HTML report; see :func:`seas.build_report`."""
        from seas.api import build_report

        return build_report(self.root, config, **options)
