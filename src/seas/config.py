"""Typed, frozen run configuration: one dataclass per stage, built once, never changed.

Each field carries its default and its help text in one place (``metadata["help"]``); the CLI
builds its flags from the fields under the same names (``num_normals`` -> ``--num-normals``).
Precedence, lowest first: field defaults, dataset preset, ``--config`` file, command line
(the reference implementation lets the file override the command line: pitfall 1 of the
method spec). ``__post_init__`` rejects impossible values before any weights load.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from seas.errors import ConfigError, flag
from seas.files import atomic_write_json

__all__ = [
    "IMAGE_EXTENSIONS",
    "PRESETS",
    "DataConfig",
    "ModelConfig",
    "config_to_dict",
    "package_versions",
    "write_run_record",
]

IMAGE_EXTENSIONS: tuple[str, ...] = ("png", "jpg", "jpeg", "bmp", "tif", "tiff")
Layout = Literal["mvtec", "visa", "mvtec3d", "folder"]

# Per-dataset defaults named by the method spec (2.2, 2.4, 2.9). A key applies only to commands
# whose configs have that field. VisA and MVTec 3D-AD keep the reference's `> 0` DA region, which
# is never empty for a non-empty mask; MVTec AD uses the project's `>= 0.5` (pitfall 6).
PRESETS: dict[str, dict[str, Any]] = {
    "mvtec": {"augment": "rot90_flip", "da_region": "half", "guidance": 8.0},
    "visa": {"augment": "none", "da_region": "any", "guidance": 2.0},
    "mvtec3d": {"augment": "rot90_flip", "da_region": "any", "guidance": 5.0},
}


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


@dataclass(frozen=True)
class DataConfig:
    """Where a product's images are and how they are split (method spec 2.2)."""

    data: Path | None = field(
        default=None,
        metadata=_help("Dataset root holding <product>/ folders. Default: the bundled tire sample."),
    )
    product: str | None = field(
        default=None, metadata=_help("Product folder name under --data (e.g. bottle). Default with no --data: tire.")
    )
    layout: Layout = field(
        default="mvtec",
        metadata=_help(
            "Folder layout: mvtec (ground_truth/<type>/<stem>_mask.png), visa (masks named like the image), "
            "mvtec3d (test/<type>/rgb + gt), folder (--defect-root, --mask-root, --normal-dir)."
        ),
    )
    preset: Literal["mvtec", "visa", "mvtec3d"] | None = field(
        default=None,
        metadata=_help("Dataset preset: sets augmentation, DA region and guidance defaults of that dataset."),
    )
    defect_type: tuple[str, ...] = field(
        default=(), metadata=_help("Use only these defect types (names as folders). Default: all, sorted.")
    )
    train_fraction: float = field(
        default=1 / 3,
        metadata=_help("Fraction of each defect type's sorted images used for training: k = max(floor(n*f), 1)."),
    )
    split_file: Path | None = field(
        default=None, metadata=_help("split.json from an earlier run to reuse instead of computing the split.")
    )
    num_normals: int = field(default=60, metadata=_help("Use the first N sorted normal training images."))
    defect_root: Path | None = field(
        default=None, metadata=_help("folder layout: folder with one sub-folder of defect images per type.")
    )
    mask_root: Path | None = field(
        default=None, metadata=_help("folder layout: folder with one sub-folder of masks per type.")
    )
    normal_dir: Path | None = field(default=None, metadata=_help("folder layout: folder of defect-free images."))
    mask_suffix: str = field(
        default="", metadata=_help("folder layout: mask file name = image stem + suffix + an image extension.")
    )
    extensions: tuple[str, ...] = field(
        default=IMAGE_EXTENSIONS, metadata=_help("Image file extensions to list (any case).")
    )

    def __post_init__(self) -> None:
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(
                flag("train_fraction"), f"must be in (0, 1], got {self.train_fraction}", "use e.g. 0.3333"
            )
        if self.num_normals < 1:
            raise ConfigError(flag("num_normals"), f"must be at least 1, got {self.num_normals}", None)
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
    """Which base Stable Diffusion model to start from (method spec 2.1)."""

    base_model: str = field(
        default="CompVis/stable-diffusion-v1-4",
        metadata=_help(
            "Hugging Face hub id, local diffusers folder, or single .safetensors/.ckpt file (SD 1.x/2.x); "
            "built-in random models: tiny (tests, CPU demo), sd15-random (SD 1.5 shapes, benchmarks)."
        ),
    )
    model_seed: int = field(default=0, metadata=_help("Seed of the built-in random models' weights."))
    resolution: int = field(default=512, metadata=_help("Training and generation size in pixels (multiple of 64)."))

    def __post_init__(self) -> None:
        if self.resolution < 64 or self.resolution % 64:
            raise ConfigError(
                flag("resolution"),
                f"must be a positive multiple of 64, got {self.resolution}",
                "use e.g. 64, 256 or 512",
            )


def config_to_dict(config: Any) -> dict[str, Any]:  # Any: any of this module's config dataclasses
    """JSON-safe dict of a config dataclass (paths as strings, tuples as lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide numerical results, for run records."""
    names = ["seas", "torch", "diffusers", "transformers", "accelerate", "safetensors", "numpy", "Pillow", "peft"]
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def write_run_record(
    out_dir: Path, configs: list[Any], base_model: dict[str, Any] | None, command: str
) -> dict[str, Any]:  # Any: config dataclasses / JSON values
    """Write ``config.json`` (resolved configuration, versions, base-model identity) into ``out_dir``.

    Returns:
        The record that was written.
    """
    record = {
        "command": command,
        "argv": sys.argv[1:],
        "config": {type(c).__name__: config_to_dict(c) for c in configs},
        "versions": package_versions(),
        "base_model": base_model,
    }
    atomic_write_json(out_dir / "config.json", record)
    return record


def dumps(configs: list[Any]) -> str:  # Any: config dataclasses
    """Pretty JSON of several configs, for ``--print-config``."""
    return json.dumps({type(c).__name__: config_to_dict(c) for c in configs}, indent=2)
