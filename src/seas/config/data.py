"""Options of the data set, the base model and ``seas patches``: what every stage reads first."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

from seas.config.base import IMAGE_EXTENSIONS, Layout, check_numbers, hint
from seas.errors import ConfigError, flag

__all__ = ["DataConfig", "ModelConfig", "PatchConfig"]


@dataclass(frozen=True)
class DataConfig:
    """Where a product's images are and how they are split (docs/method.md §2.2)."""

    data: Path | None = field(
        default=None,
        metadata=hint("Dataset root holding <product>/ folders. Default: the bundled tire sample."),
    )
    product: str | None = field(
        default=None,
        metadata=hint("Product folder name under --data (e.g. bottle). Default with no --data: tire."),
    )
    layout: Layout = field(
        default="mvtec",
        metadata=hint(
            "Folder layout: mvtec (ground_truth/<type>/<stem>_mask.png), visa (masks named like the image), "
            "mvtec3d (test/<type>/rgb + gt), folder (--defect-root, --mask-root, --normal-dir)."
        ),
    )
    preset: Literal["visa", "mvtec3d"] | None = field(
        default=None,
        metadata=hint(
            "Dataset preset: sets the augmentation, DA region and guidance of that dataset's reference run. "
            "Default: none, the settings of MVTec AD."
        ),
    )
    defect_type: tuple[str, ...] = field(
        default=(), metadata=hint("Use only these defect types (names as folders). Default: all, sorted.")
    )
    train_fraction: float = field(
        default=1 / 3,
        metadata=hint("Fraction of each defect type's sorted images used for training: k = max(floor(n*f), 1)."),
    )
    split_file: Path | None = field(
        default=None, metadata=hint("split.json from an earlier run to reuse instead of computing the split.")
    )
    num_normals: int = field(default=60, metadata=hint("Use the first N sorted normal training images."))
    defect_root: Path | None = field(
        default=None, metadata=hint("folder layout: folder with one sub-folder of defect images per type.")
    )
    mask_root: Path | None = field(
        default=None, metadata=hint("folder layout: folder with one sub-folder of masks per type.")
    )
    normal_dir: Path | None = field(default=None, metadata=hint("folder layout: folder of defect-free images."))
    mask_suffix: str = field(
        default="", metadata=hint("folder layout: mask file name = image stem + suffix + an image extension.")
    )
    extensions: tuple[str, ...] = field(
        default=IMAGE_EXTENSIONS, metadata=hint("Image file extensions to list (any case).")
    )

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("num_normals",))
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(
                flag("train_fraction"), f"must be in (0, 1], got {self.train_fraction}", "use e.g. 0.3333"
            )
        folder_flags = {"defect_root": self.defect_root, "mask_root": self.mask_root, "normal_dir": self.normal_dir}
        if self.layout == "folder":
            missing = [k for k, v in folder_flags.items() if v is None]
            if missing:
                flags = ", ".join(flag(k) for k in missing)
                subject = f"{flag('layout')} folder"
                raise ConfigError(subject, f"needs {flags}", "pass each folder explicitly")
        else:
            given = [k for k, v in folder_flags.items() if v is not None]
            if given:
                flags = ", ".join(flag(k) for k in given)
                raise ConfigError(flags, f"only apply to --layout folder, not {self.layout}", "drop them")
        if self.data is not None and self.product is None and self.layout != "folder":
            raise ConfigError(flag("product"), f"is required with --data {self.data}", "name the product folder")
        if not self.extensions:
            raise ConfigError(flag("extensions"), "is empty", "list at least one image extension, e.g. png")

    @property
    def train_ratio(self) -> Fraction:
        """``train_fraction`` as an exact fraction (1/3 stays 1/3, so 27 images give exactly 9)."""
        return Fraction(self.train_fraction).limit_denominator(1000)


@dataclass(frozen=True)
class ModelConfig:
    """Which base Stable Diffusion model to start from (docs/method.md §2.1)."""

    base_model: str = field(
        default="CompVis/stable-diffusion-v1-4",
        metadata=hint(
            "Hugging Face hub id, local diffusers folder, or single .safetensors/.ckpt file (SD 1.x/2.x); "
            "built-in: tiny-tire (a small tire prior trained by seas pretrain, CPU demo), random tiny and tiny-slim "
            "(tests), small (a wider U-Net, for seas pretrain), sd15-random (SD 1.5 shapes, benchmarks)."
        ),
    )
    model_seed: int = field(default=0, metadata=hint("Seed of the built-in random models' weights."))
    resolution: int = field(default=512, metadata=hint("Training and generation size in pixels (multiple of 64)."))

    def __post_init__(self) -> None:
        check_numbers(self)
        if self.resolution < 64 or self.resolution % 64:
            raise ConfigError(
                flag("resolution"),
                f"must be a positive multiple of 64, got {self.resolution}",
                "use e.g. 64, 256 or 512",
            )


@dataclass(frozen=True)
class PatchConfig:
    """``seas patches``: cut a product into native-resolution patches (an MVTec-layout dataset)."""

    output_dir: Path = field(
        default=Path("runs/patches"),
        metadata=hint("Dataset root to write: <output-dir>/<product>/{train,test,ground_truth}, then --data it."),
    )
    size: int = field(
        default=128,
        metadata=hint("Patch side in pixels of the original photos (multiple of 8; train later at this resolution)."),
    )
    per_normal: int = field(default=4, metadata=hint("Patches cut from each normal training image."))
    jitter: int = field(default=32, metadata=hint("Pixels a defect patch may move off its defect's centre."))
    min_content: float = field(
        default=0.9, metadata=hint("Share of a normal patch that must be product (not background).")
    )
    content_grey: int = field(
        default=12,
        metadata=hint("Grey levels a blurred pixel must differ from the border's median to be product."),
    )
    seed: int = field(default=0, metadata=hint("Seeds where each patch is cut."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("size", "per_normal"))
        if self.size % 8:
            raise ConfigError(flag("size"), f"must be a multiple of 8, got {self.size}", "use e.g. 128")
        if self.min_content > 1:
            raise ConfigError(flag("min_content"), f"must be in [0, 1], got {self.min_content}", None)
