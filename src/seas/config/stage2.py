"""Options of ``seas train-mask``, stage 2: the Refined Mask Prediction head (docs/method.md §2.7-2.8)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from seas.config.base import check_numbers, checkpoint_every, checkpoint_limit, cpu_switch, hint
from seas.errors import ConfigError, flag

__all__ = ["MaskTrainConfig"]


@dataclass(frozen=True)
class MaskTrainConfig:
    """Stage 2, Refined Mask Prediction (RMP) training on the frozen generator (docs/method.md §2.7-2.8)."""

    run_dir: Path = field(
        default=Path("runs/seas"), metadata=hint("Run folder with a finished stage 1; RMP is written into it.")
    )
    seed: int = field(default=0, metadata=hint("Seeds data order, augmentation, timesteps, noise and the DDPM step."))
    focal_target: Literal["threshold", "truncate"] = field(
        default="threshold",
        metadata=hint("Defect class where the soft mask is >= 0.5 (threshold) or == 1 (truncate, reference)."),
    )
    rmp_learning_rate: float = field(default=5e-4, metadata=hint("RMP learning rate (AdamW, constant)."))
    rmp_steps_per_type: int = field(default=800, metadata=hint("Optimiser steps per defect type."))
    max_steps: int | None = field(
        default=None, metadata=hint("Total optimiser steps; overrides --rmp-steps-per-type.")
    )
    rmp_batch_anomaly: int = field(default=2, metadata=hint("Defect images per micro-batch."))
    rmp_batch_normal: int = field(default=2, metadata=hint("Normal images per micro-batch."))
    grad_accum: int = field(default=2, metadata=hint("Micro-batches per optimiser step."))
    optimizer: Literal["adamw", "adamw8bit"] = field(default="adamw", metadata=hint("AdamW or 8-bit AdamW."))
    weight_decay: float = field(default=0.01, metadata=hint("AdamW decoupled weight decay."))
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=hint("auto = bf16 autocast on CUDA, fp32 on CPU.")
    )
    cpu: bool = cpu_switch("Train")
    checkpointing_steps: int = checkpoint_every()
    checkpoints_total_limit: int | None = checkpoint_limit()
    resume: str | None = field(
        default="latest",
        metadata=hint("Resume from the newest stage-2 checkpoint (latest) or a checkpoint folder."),
    )
    log_steps: int = field(default=10, metadata=hint("Write losses to the stage-2 log every N steps."))
    bn_calibration_batches: int = field(
        default=16,
        metadata=hint(
            "After training, re-estimate the head's BatchNorm statistics on this many batches of "
            "inference-like features (training defect images, refined path, t <= --bn-calibration-max-t); "
            "0 keeps the training-time running statistics (reference).",
            project=True,
        ),
    )
    bn_calibration_max_t: int = field(
        default=150,
        metadata=hint("Largest timestep of the calibration batches (generation's masks use t <= ~120).", project=True),
    )

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("rmp_steps_per_type", "rmp_batch_anomaly", "grad_accum", "log_steps"))
        if self.bn_calibration_max_t > 999:
            raise ConfigError(
                flag("bn_calibration_max_t"),
                f"must be <= 999, got {self.bn_calibration_max_t}",
                "SD schedules have timesteps 0-999",
            )
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(flag("max_steps"), f"must be at least 1, got {self.max_steps}", None)

    def total_steps(self, num_types: int) -> int:
        """``max_steps`` or ``rmp_steps_per_type`` x number of defect types."""
        return self.max_steps if self.max_steps is not None else self.rmp_steps_per_type * num_types
