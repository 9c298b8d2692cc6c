"""One product's data, whatever the layout: the sample table, its defect types and normals.

:func:`load_product` is the only place that dispatches on ``layout``; the layout is always
explicit (never guessed from the path: pitfall 12 in docs/method.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seas.config import DataConfig
from seas.data.folder import make_folder_samples
from seas.data.mvtec_3d import make_mvtec_3d_samples
from seas.data.mvtec_ad import make_mvtec_ad_samples
from seas.data.samples import Label, Sample, Split
from seas.data.visa import make_visa_samples
from seas.demo import demo_dir
from seas.errors import DatasetLayoutError, flag

__all__ = ["SAMPLE_PRODUCT", "ProductData", "bundled_sample_root", "data_folders", "load_product"]

SAMPLE_PRODUCT = "tire"


def bundled_sample_root() -> Path:
    """Root of the small tire sample in the repository's ``demo/`` folder (MVTec AD layout).

    Raises:
        ConfigError: The demo folder is not there (a plain ``pip install``).
    """
    return demo_dir("the bundled tire sample") / "sample_data"


def data_folders(cfg: DataConfig) -> list[Path]:
    """The folders a product's data is read from: no output may lie in, equal or contain one of them."""
    if cfg.layout == "folder":
        return [p for p in (cfg.defect_root, cfg.mask_root, cfg.normal_dir) if p is not None]
    return [cfg.data if cfg.data is not None else bundled_sample_root()]


@dataclass(frozen=True)
class ProductData:
    """A product's validated sample table.

    Attributes:
        product: Product name.
        layout: Layout the table was read with.
        root: Folder paths in the table are relative to (for portable split files).
        samples: All samples, sorted.
        defect_types: Selected defect types, sorted by name (the token-group order of stage 1).
        normals: The first ``num_normals`` sorted normal training images.
    """

    product: str
    layout: str
    root: Path
    samples: tuple[Sample, ...]
    defect_types: tuple[str, ...]
    normals: tuple[Path, ...]

    def defect_images(self, defect_type: str) -> list[Sample]:
        """Samples of one defect type, sorted by file name."""
        return [s for s in self.samples if s.defect_type == defect_type and s.label == Label.ANOMALOUS]

    @property
    def train_normals(self) -> list[Path]:
        """Every normal training image, sorted (``normals`` is its first ``num_normals``)."""
        return [s.image_path for s in self.samples if s.label == Label.NORMAL and s.split == Split.TRAIN]

    @property
    def test_normals(self) -> list[Sample]:
        """Defect-free test images (MVTec ``test/good``), for the downstream protocol."""
        return [s for s in self.samples if s.label == Label.NORMAL and s.split == Split.TEST]


def _read_samples(cfg: DataConfig, root: Path, product: str) -> list[Sample]:
    if cfg.layout == "mvtec":
        return make_mvtec_ad_samples(root, product, cfg.extensions)
    if cfg.layout == "visa":
        return make_visa_samples(root, product, cfg.extensions)
    if cfg.layout == "mvtec3d":
        return make_mvtec_3d_samples(root, product, cfg.extensions)
    assert cfg.defect_root is not None
    assert cfg.mask_root is not None
    assert cfg.normal_dir is not None
    return make_folder_samples(
        product, cfg.defect_root, cfg.mask_root, cfg.normal_dir, cfg.mask_suffix, cfg.extensions
    )


def load_product(cfg: DataConfig) -> ProductData:
    """Read and select a product's samples according to ``cfg``.

    With no ``data`` and no folder layout, the bundled tire sample is used.

    Raises:
        DatasetLayoutError: Layout problems (see the layout modules) or an unknown ``--defect-type``.
    """
    if cfg.layout == "folder":
        assert cfg.defect_root is not None
        root, product = cfg.defect_root, cfg.product or cfg.defect_root.name
    elif cfg.data is None:
        root, product = bundled_sample_root(), cfg.product or SAMPLE_PRODUCT
    else:
        assert cfg.product is not None
        root, product = cfg.data, cfg.product
    samples = _read_samples(cfg, root, product)
    known = sorted({s.defect_type for s in samples if s.label == Label.ANOMALOUS})
    unknown = [t for t in cfg.defect_type if t not in known]
    if unknown:
        raise DatasetLayoutError(
            flag("defect_type"), f"unknown defect type(s) {', '.join(unknown)}", f"known types: {', '.join(known)}"
        )
    chosen = sorted(set(cfg.defect_type)) if cfg.defect_type else known
    kept = [s for s in samples if s.label == Label.NORMAL or s.defect_type in chosen]
    normals = [s.image_path for s in kept if s.label == Label.NORMAL and s.split == Split.TRAIN]
    return ProductData(
        product=product,
        layout=cfg.layout,
        root=root,
        samples=tuple(kept),
        defect_types=tuple(chosen),
        normals=tuple(normals[: cfg.num_normals]),
    )
