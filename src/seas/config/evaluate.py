"""Options of ``seas evaluate`` (segmentation, quality, generation), ``seas report`` and ``seas benchmark``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from seas.config.base import check_numbers, cpu_switch, hint
from seas.errors import ConfigError, flag
from seas.evaluate.heldout_halves import SPLITS
from seas.evaluate.segmentation import VARIANTS

__all__ = [
    "BenchmarkConfig",
    "DownstreamConfig",
    "GenerationMetricsConfig",
    "QualityConfig",
    "ReportConfig",
    "ReviewConfig",
]


# The segmenter both evaluations train: one default and help text per option.
_SEGMENTER: dict[str, tuple[float, str]] = {
    "eval_resolution": (256, "Segmenter input and evaluation size (the paper's 256; 128 is 4x cheaper on CPU)."),
    "seg_epochs": (30, "Segmenter epochs; the model of the last epoch is evaluated."),
    "seg_batch_size": (8, "Segmenter batch size."),
    "seg_learning_rate": (1e-3, "Segmenter learning rate (AdamW)."),
}


def _segmenter(name: str) -> Any:  # Any: a dataclass field
    default, text = _SEGMENTER[name]
    return field(default=default, metadata=hint(text))


@dataclass(frozen=True)
class DownstreamConfig:
    """``seas evaluate segmentation``: do generated pairs help a defect segmenter? (docs/method.md §2.12)."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=hint("Run folder (its split.json fixes train/test)."))
    generated: Path | None = field(
        default=None, metadata=hint("Generated tree root holding <product>/<type>/ (default: RUN/generated).")
    )
    variants: tuple[str, ...] = field(
        default=("real", "perlin", "cutpaste", "seas"),
        metadata=hint(
            "Training sets: real (real third + normals) alone, or plus as many pairs as SeaS made of: perlin, "
            "cutpaste (one defect on the object, sized like a training defect), perlin-textbook, cutpaste-textbook "
            "(the papers' recipes: anywhere, large), seas, or paste (the no-model control: each placed-mask pair's "
            "training defect pasted into its reference photo at its mask). The default set adds paste when the "
            "pairs have placed masks (--mask-source train)."
        ),
    )
    split: Literal["val", "test", "all"] = field(
        default="test",
        metadata=hint(
            "Which held-out images test: val or test (halves of every type's held-out images and of test/good, "
            "fixed in RUN/heldout_halves.json), or all. Choose settings on val, claim test numbers.",
            project=True,
        ),
    )
    eval_resolution: int = _segmenter("eval_resolution")
    seg_epochs: int = _segmenter("seg_epochs")
    seg_batch_size: int = _segmenter("seg_batch_size")
    seg_learning_rate: float = _segmenter("seg_learning_rate")
    seg_repeats: int = field(
        default=5,
        metadata=hint(
            "Train each segmenter this many times (seeds seed, seed+1, ...; same training sets): the table "
            "shows the mean ± the standard deviation and paired t-tests against real only and the paste."
        ),
    )
    seed: int = field(default=0, metadata=hint("Seeds synthetic defects, initialisation and data order."))
    cpu: bool = cpu_switch("Evaluate")

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("eval_resolution", "seg_epochs", "seg_batch_size", "seg_repeats"))
        unknown = sorted(set(self.variants) - set(VARIANTS))
        if unknown:
            raise ConfigError(flag("variants"), f"unknown {', '.join(unknown)}", f"use {', '.join(VARIANTS)}")
        if self.split not in SPLITS:
            raise ConfigError(flag("split"), f"unknown {self.split}", f"use {', '.join(SPLITS)}")


@dataclass(frozen=True)
class QualityConfig:
    """``seas evaluate quality``: VAE reconstruction (normals, defects), mask agreement, RMP, the prompt's effect."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=hint("Run folder with finished stages 1 and 2."))
    generated: Path | None = field(
        default=None, metadata=hint("Generated tree root holding <product>/<type>/ (default: RUN/generated).")
    )
    eval_resolution: int = _segmenter("eval_resolution")
    seg_epochs: int = _segmenter("seg_epochs")
    seg_batch_size: int = _segmenter("seg_batch_size")
    seg_learning_rate: float = _segmenter("seg_learning_rate")
    seed: int = field(default=0, metadata=hint("Seeds synthetic defects, initialisation and data order."))
    cpu: bool = cpu_switch("Evaluate")

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("eval_resolution", "seg_epochs", "seg_batch_size"))


@dataclass(frozen=True)
class GenerationMetricsConfig:
    """``seas evaluate generation``: IC-LPIPS and Inception Score of a generated tree (docs/method.md §2.10)."""

    run_dir: Path = field(
        default=Path("runs/seas"), metadata=hint("Run folder (its split.json names the real images).")
    )
    generated: Path | None = field(default=None, metadata=hint("Generated tree root (default: RUN/generated)."))
    net: Literal["alex", "vgg"] = field(default="alex", metadata=hint("LPIPS backbone (vgg + cap 140 ~ reference)."))
    cap: int = field(default=200, metadata=hint("Largest IC-LPIPS cluster."))
    metric_resolution: int = field(default=256, metadata=hint("Both image sets are resized to this size."))
    real_set: Literal["all", "train", "holdout"] = field(default="all", metadata=hint("Real images forming clusters."))
    order_seed: int | None = field(default=None, metadata=hint("Permute generated images with this seed."))
    splits: int = field(default=10, metadata=hint("Inception Score splits."))
    inception_weights: Path | None = field(
        default=None, metadata=hint("torch-fidelity Inception-v3 weights (.pth); or SEAS_INCEPTION_WEIGHTS.")
    )
    torch_home: Path | None = field(
        default=None,
        metadata=hint("Folder with hub/checkpoints/<torchvision backbone>.pth for LPIPS (or TORCH_HOME)."),
    )
    metric_batch_size: int = field(
        default=64,
        metadata=hint("Image pairs per LPIPS call and images per Inception call (memory bound only)."),
    )
    cpu: bool = field(default=False, metadata=hint("Run the metric networks on CPU even when a GPU is present."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("cap", "metric_resolution", "splits", "metric_batch_size"))


@dataclass(frozen=True)
class ReportConfig:
    """``seas report``: a static HTML page of a run."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=hint("Run folder to report on."))
    output_dir: Path | None = field(default=None, metadata=hint("Report folder. Default: RUN/report."))
    generated: Path | None = field(
        default=None, metadata=hint("Generated tree root holding <product>/<type>/. Default: RUN/generated.")
    )
    per_type: int = field(default=8, metadata=hint("Pairs shown per defect type."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("per_type",))


@dataclass(frozen=True)
class ReviewConfig:
    """``seas review``: accept or reject the generated pairs on a local web page."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=hint("Run folder whose pairs to review."))
    generated: Path | None = field(
        default=None, metadata=hint("Generated tree root holding <product>/<type>/. Default: RUN/generated.")
    )
    host: str = field(default="127.0.0.1", metadata=hint("Address to serve on (this machine only by default)."))
    port: int = field(default=8765, metadata=hint("Port to serve on (0: any free port)."))
    paint_dir: Path | None = field(
        default=None,
        metadata=hint(
            "Where masks painted on the page's /paint view go, DIR/<type>/NNNN.png (new files only), ready for "
            "seas generate --mask-source DIR. Default: RUN/painted_masks."
        ),
    )

    def __post_init__(self) -> None:
        check_numbers(self)


@dataclass(frozen=True)
class BenchmarkConfig:
    """``seas benchmark train``: SeaS step versus a stock diffusers fine-tuning step."""

    steps: int = field(default=10, metadata=hint("Timed optimiser steps per variant."))
    warmup: int = field(default=3, metadata=hint("Untimed optimiser steps first."))
    batch_anomaly: int = field(default=2, metadata=hint("Defect images per micro-batch."))
    batch_normal: int = field(default=2, metadata=hint("Normal images per micro-batch."))
    grad_accum: int = field(default=2, metadata=hint("Micro-batches per optimiser step."))
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=hint("auto = bf16 autocast on CUDA, fp32 on CPU.")
    )
    gradient_checkpointing: bool = field(default=False, metadata=hint("Enable U-Net gradient checkpointing."))
    optimizer: Literal["adamw", "adamw8bit"] = field(default="adamw", metadata=hint("AdamW or 8-bit AdamW."))
    lora_rank: int = field(
        default=0, metadata=hint("Train LoRA adapters of this rank instead of the whole U-Net (both variants).")
    )
    results: Path | None = field(
        default=None,
        metadata=hint("Append the result to this JSON-lines file (default: print only, write nothing)."),
    )

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("steps", "batch_anomaly", "grad_accum"))
