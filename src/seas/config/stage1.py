"""Options of ``seas train``, stage 1: the generator (UA prompt, DA and NA losses; docs/method.md §2.3-2.6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from seas.config.base import check_numbers, checkpoint_every, checkpoint_limit, cpu_switch, hint
from seas.errors import ConfigError, flag

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Stage 1, SeaS generator fine-tuning (docs/method.md §2.2-2.6)."""

    run_dir: Path = field(
        default=Path("runs/seas"),
        metadata=hint("Run folder: stage 1 writes the model, logs and checkpoints here; later stages read it."),
    )
    seed: int = field(default=0, metadata=hint("Seeds data order, augmentation, timesteps, noise and VAE sampling."))
    # UA prompt tokens (docs/method.md §2.3)
    normal_token: str = field(default="ob", metadata=hint("Product token stem; tokens are <stem>1, <stem>2, ..."))
    anomaly_token: str = field(default="sks", metadata=hint("Defect token stem; type i owns <stem>{k*i+1}..{k*i+k}."))
    normal_tokens: int = field(default=1, metadata=hint("Number of product tokens."))
    anomaly_tokens: int = field(default=4, metadata=hint("Number of tokens per defect type."))
    normal_init: str = field(default="object", metadata=hint("Word whose embedding initialises product tokens."))
    anomaly_init: str = field(default="defect", metadata=hint("Word whose embedding initialises defect tokens."))
    embeddings: Literal["new", "all"] = field(
        default="new",
        metadata=hint("Train only the new token rows (new) or the whole embedding matrix as the reference (all)."),
    )
    # DA / NA losses (docs/method.md §2.4, 2.5)
    da_layers: Literal["down", "down_up"] = field(
        default="down", metadata=hint("Cross-attention layers for DA: down blocks (reference) or down and up.")
    )
    da_normalize: Literal["batch", "sample"] = field(
        default="batch",
        metadata=hint("Min-max normalise DA maps jointly over the batch (reference) or per image.", project=True),
    )
    da_region: Literal["half", "one", "any"] = field(
        default="half",
        metadata=hint("Product-token region: mask >= 0.5 (half), == 1 (one, MVTec reference), > 0 (any)."),
    )
    da_weight: float = field(default=1.0, metadata=hint("Weight of the DA loss (0 disables it)."))
    na_weight: float = field(default=1.0, metadata=hint("Weight of the normal-image (NA) denoising loss."))
    # data and augmentation (docs/method.md §2.2)
    augment: Literal["rot90_flip", "none"] = field(
        default="rot90_flip", metadata=hint("Random 90-degree rotation + flip (reference), or none.")
    )
    resize: Literal["crop", "stretch"] = field(
        default="crop", metadata=hint("Shorter side to resolution then centre crop, or stretch to a square.")
    )
    batch_anomaly: int = field(default=2, metadata=hint("Defect images per micro-batch."))
    batch_normal: int = field(default=2, metadata=hint("Normal images per micro-batch."))
    cache_latents: bool = field(
        default=True,
        metadata=hint("Cache the frozen VAE posterior of each augmented image (exact; sample still drawn)."),
    )
    # optimisation (docs/method.md §2.6)
    optimizer: Literal["adamw", "adamw8bit"] = field(
        default="adamw", metadata=hint("AdamW or 8-bit AdamW (bitsandbytes).")
    )
    learning_rate: float = field(default=4e-6, metadata=hint("U-Net learning rate."))
    token_learning_rate: float = field(default=4e-5, metadata=hint("Token embedding learning rate."))
    adam_beta1: float = field(default=0.9, metadata=hint("AdamW beta1."))
    adam_beta2: float = field(default=0.999, metadata=hint("AdamW beta2."))
    adam_epsilon: float = field(default=1e-8, metadata=hint("AdamW epsilon."))
    weight_decay: float = field(default=0.01, metadata=hint("AdamW decoupled weight decay."))
    grad_accum: int = field(default=2, metadata=hint("Micro-batches per optimiser step."))
    steps_per_type: int = field(default=800, metadata=hint("Optimiser steps per defect type (total = this x types)."))
    max_steps: int | None = field(default=None, metadata=hint("Total optimiser steps; overrides --steps-per-type."))
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=hint("auto = bf16 autocast on CUDA, fp32 on CPU.")
    )
    gradient_checkpointing: bool = field(default=False, metadata=hint("Trade compute for U-Net activation memory."))
    lora_rank: int = field(
        default=0,
        metadata=hint("Train LoRA adapters of this rank on the U-Net attention instead of all weights (0 = off)."),
    )
    cpu: bool = cpu_switch("Train")
    # run management
    checkpointing_steps: int = checkpoint_every()
    checkpoints_total_limit: int | None = checkpoint_limit()
    resume: str | None = field(
        default="latest",
        metadata=hint(
            "Resume from the newest checkpoint of --run-dir if there is one (latest), or a checkpoint folder."
        ),
    )
    log_steps: int = field(default=10, metadata=hint("Write losses to logs.jsonl / TensorBoard every N steps."))
    validation_steps: int = field(
        default=0,
        metadata=hint("Write a validation grid (one image per type, fixed seeds) every N steps (0 = off)."),
    )

    def __post_init__(self) -> None:
        positive = (
            "normal_tokens",
            "anomaly_tokens",
            "batch_anomaly",
            "grad_accum",
            "steps_per_type",
            "log_steps",
        )
        check_numbers(self, at_least_one=positive)
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(flag("max_steps"), f"must be at least 1, got {self.max_steps}", None)
        if self.normal_token == self.anomaly_token:
            raise ConfigError(flag("anomaly_token"), "must differ from --normal-token", None)

    def total_steps(self, num_types: int) -> int:
        """Optimiser steps of the run: ``max_steps`` or ``steps_per_type`` x number of defect types."""
        return self.max_steps if self.max_steps is not None else self.steps_per_type * num_types
