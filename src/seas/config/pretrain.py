"""Options of ``seas pretrain``, stage 0: a product prior from defect-free images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from seas.config.base import check_numbers, checkpoint_every, checkpoint_limit, cpu_switch, hint
from seas.errors import ConfigError, flag

__all__ = ["PretrainConfig"]


@dataclass(frozen=True)
class PretrainConfig:
    """``seas pretrain``: a product prior (VAE, then text-conditioned U-Net) from defect-free images only."""

    output_dir: Path = field(
        default=Path("runs/prior"),
        metadata=hint("Output diffusers model folder (usable as --base-model); checkpoints and logs inside."),
    )
    images: tuple[str, ...] = field(
        default=(),
        metadata=hint(
            "Folders of defect-free images (every image file in each, sorted). Default: the normal training "
            "images of --data/--product (train/good). Never test/ images: the evaluation holds them out, and "
            "folders holding any of the product's test images are refused."
        ),
    )
    product_name: str | None = field(
        default=None, metadata=hint("Product word of the prompt. Default: the product folder name.")
    )
    prompt: str = field(default="a photo of a {product}", metadata=hint("Training prompt; {product} is filled in."))
    seed: int = field(default=0, metadata=hint("Seeds data order, augmentation, timesteps, noise and dropout."))
    vae_steps: int | None = field(
        default=None,
        metadata=hint("VAE optimiser steps (0 keeps the base VAE). Default: 3000 for built-in random models, else 0."),
    )
    vae_decoder_steps: int = field(
        default=0,
        metadata=hint(
            "Decoder-only VAE fine-tune steps after the VAE phase (encoder frozen: latents, and a U-Net trained on "
            "them, stay valid), with the texture term; sharpens reconstructions. Works on real models too."
        ),
    )
    unet_steps: int = field(
        default=3000,
        metadata=hint("U-Net optimiser steps on the frozen VAE's latents (0 keeps the base model's U-Net)."),
    )
    batch_size: int = field(default=8, metadata=hint("Images per optimiser step (both phases)."))
    vae_crop: int = field(
        default=0,
        metadata=hint("Train the VAE on random square crops of this size (0 = whole images; multiple of 8)."),
    )
    vae_learning_rate: float = field(default=1e-3, metadata=hint("VAE learning rate (AdamW, cosine decay)."))
    vae_decoder_learning_rate: float = field(
        default=1e-4, metadata=hint("Learning rate of the decoder-only phase (AdamW, cosine decay).")
    )
    unet_learning_rate: float | None = field(
        default=None,
        metadata=hint("U-Net learning rate (AdamW, cosine decay). Default: 3e-4 from scratch, 1e-5 for a real model."),
    )
    kl_weight: float = field(default=1e-6, metadata=hint("Weight of the VAE's KL term (keeps latents near N(0, 1))."))
    gradient_weight: float = field(
        default=1.0, metadata=hint("Weight of the VAE's image-gradient L1 term (keeps edges and texture).")
    )
    texture_weight: float = field(
        default=2.0,
        metadata=hint("Decoder phase: weight of the local edge-energy L1 term (texture of the right strength)."),
    )
    cond_dropout: float = field(
        default=0.1,
        metadata=hint("Share of U-Net samples trained with the empty prompt (classifier-free guidance)."),
    )
    snr_gamma: float = field(default=5.0, metadata=hint("Min-SNR loss weighting gamma (0 = plain MSE)."))
    ema_decay: float = field(default=0.999, metadata=hint("EMA of the U-Net weights, exported (0 = off)."))
    augment: Literal["rot90_flip", "none"] = field(
        default="rot90_flip", metadata=hint("Random 90-degree rotation + flip, or none.")
    )
    resize: Literal["crop", "stretch"] = field(
        default="crop", metadata=hint("Shorter side to resolution then centre crop, or stretch to a square.")
    )
    sample_steps: int = field(
        default=500,
        metadata=hint("Write a sample grid PNG (reconstructions / generated images) every N steps."),
    )
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=hint("auto = bf16 autocast on CUDA, fp32 on CPU.")
    )
    vae_mixed_precision: Literal["same", "bf16"] = field(
        default="same",
        metadata=hint(
            "VAE phase only: same = as --mixed-precision; bf16 = bf16 autocast even when the U-Net phase runs "
            "fp32 (on CPUs with AMX this halves the VAE step time; the small U-Net gets slower, measured)."
        ),
    )
    cpu: bool = cpu_switch("Train")
    checkpointing_steps: int = checkpoint_every()
    checkpoints_total_limit: int | None = checkpoint_limit(2)
    resume: str | None = field(
        default="latest", metadata=hint("Resume each phase from its newest checkpoint (latest) or a folder.")
    )
    log_steps: int = field(default=25, metadata=hint("Write losses to the phase's logs.jsonl every N steps."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("batch_size", "log_steps"))
        if not (self.unet_steps or self.vae_steps or self.vae_decoder_steps):
            raise ConfigError(flag("unet_steps"), "must be at least 1 when no VAE phase runs", None)
        if self.vae_crop < 0 or self.vae_crop % 8:
            raise ConfigError(flag("vae_crop"), f"must be 0 or a positive multiple of 8, got {self.vae_crop}", None)
        if self.vae_mixed_precision == "bf16" and self.mixed_precision == "fp16":
            raise ConfigError(
                flag("vae_mixed_precision"),
                "bf16 cannot run inside fp16 autocast",
                "use --mixed-precision no or bf16 with it, or --vae-mixed-precision same",
            )
        if not 0 <= self.cond_dropout < 1:
            raise ConfigError(flag("cond_dropout"), f"must be in [0, 1), got {self.cond_dropout}", None)
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(flag("ema_decay"), f"must be in [0, 1), got {self.ema_decay}", "use e.g. 0.999 or 0")
        if "{product}" not in self.prompt:
            raise ConfigError(flag("prompt"), f"must contain {{product}}, got {self.prompt!r}", None)
