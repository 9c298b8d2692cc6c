"""Typed, frozen run configuration: one dataclass per stage, built once, never changed.

Each field carries its default and its help text in one place (``metadata["help"]``); the CLI
builds its flags from the fields under the same names (``num_normals`` -> ``--num-normals``).
Precedence, lowest first: field defaults, dataset preset, ``--config`` file, command line
(the reference implementation lets the file override the command line: pitfall 1 in
docs/method.md). ``__post_init__`` rejects impossible values before any weights load.
"""

from __future__ import annotations

import dataclasses
import json
import math
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
    "ALL_CONFIGS",
    "IMAGE_EXTENSIONS",
    "PRESETS",
    "SEED_MAX",
    "BenchmarkConfig",
    "DataConfig",
    "DownstreamConfig",
    "GenerateConfig",
    "GenerationMetricsConfig",
    "MaskTrainConfig",
    "ModelConfig",
    "PatchConfig",
    "PretrainConfig",
    "QualityConfig",
    "ReportConfig",
    "RunConfig",
    "TrainConfig",
    "check_numbers",
    "config_from_dict",
    "config_to_dict",
    "package_versions",
    "write_run_record",
]

IMAGE_EXTENSIONS: tuple[str, ...] = ("png", "jpg", "jpeg", "bmp", "tif", "tiff")
Layout = Literal["mvtec", "visa", "mvtec3d", "folder"]

# Per-dataset defaults named in docs/method.md (§2.2, §2.4, §2.9); the field defaults are MVTec AD's
# (rot90/flip, DA region >= 0.5, guidance 8). A key applies only to commands whose configs have that
# field. VisA and MVTec 3D-AD keep the reference's `> 0` DA region, which is never empty for a
# non-empty mask; MVTec AD uses the project's `>= 0.5` (pitfall 6).
PRESETS: dict[str, dict[str, Any]] = {
    "visa": {"augment": "none", "da_region": "any", "guidance": 2.0},
    "mvtec3d": {"augment": "rot90_flip", "da_region": "any", "guidance": 5.0},
}


def _help(text: str, **extra: Any) -> dict[str, Any]:
    return {"help": text, **extra}


SEED_MAX = 2**32 - 1  # seeds are offset per image and attempt; every generator accepts this range
INT_MAX = 2**31 - 1
_UNIT_INTERVAL = ("mask_threshold", "adam_beta1", "adam_beta2")  # probabilities / decay rates: [0, 1)


def _is_rate(name: str) -> bool:
    return "learning_rate" in name or name.endswith("_lr") or name == "adam_epsilon"


def check_numbers(cfg: Any, at_least_one: tuple[str, ...] = ()) -> None:
    """The checks every numeric field of every config gets, before its own: one line naming the flag.

    Every number is finite and >= 0 (no option here means anything negative); integer fields hold
    integers below 2**31 (seeds up to 2**32 - 1); learning rates and Adam's epsilon are > 0;
    thresholds and Adam betas lie in [0, 1); a checkpoint limit, when set, keeps at least one; the
    fields named in ``at_least_one`` (counts and sizes) are >= 1.
    """
    for f in dataclasses.fields(cfg):
        value, name = getattr(cfg, f.name), flag(f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(name, f"must be a finite number, got {value}", None)
        if str(f.type).startswith("int") and not isinstance(value, int):
            raise ConfigError(name, f"must be an integer, got {value}", None)
        if value < 0:
            raise ConfigError(name, f"must be >= 0, got {value}", None)
        highest = SEED_MAX if "seed" in f.name else INT_MAX
        if isinstance(value, int) and value > highest:
            raise ConfigError(name, f"must be at most {highest}, got {value}", None)
        if _is_rate(f.name) and value == 0:
            raise ConfigError(name, "must be > 0, got 0", None)
        if f.name in _UNIT_INTERVAL and value >= 1:
            raise ConfigError(name, f"must be in [0, 1), got {value}", None)
    for name in at_least_one:
        if getattr(cfg, name) < 1:
            raise ConfigError(flag(name), f"must be at least 1, got {getattr(cfg, name)}", None)
    limit = getattr(cfg, "checkpoints_total_limit", None)
    if limit is not None and limit < 1:
        raise ConfigError(
            flag("checkpoints_total_limit"), f"must be at least 1, got {limit}", "keep at least one checkpoint"
        )


@dataclass(frozen=True)
class DataConfig:
    """Where a product's images are and how they are split (docs/method.md §2.2)."""

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
    preset: Literal["visa", "mvtec3d"] | None = field(
        default=None,
        metadata=_help(
            "Dataset preset: sets the augmentation, DA region and guidance of that dataset's reference run. "
            "Default: none, the settings of MVTec AD."
        ),
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
        metadata=_help(
            "Hugging Face hub id, local diffusers folder, or single .safetensors/.ckpt file (SD 1.x/2.x); "
            "built-in: tiny-tire (a small tire prior trained by seas pretrain, CPU demo), random tiny and tiny-slim "
            "(tests), small (a wider U-Net, for seas pretrain), sd15-random (SD 1.5 shapes, benchmarks)."
        ),
    )
    model_seed: int = field(default=0, metadata=_help("Seed of the built-in random models' weights."))
    resolution: int = field(default=512, metadata=_help("Training and generation size in pixels (multiple of 64)."))

    def __post_init__(self) -> None:
        check_numbers(self)
        if self.resolution < 64 or self.resolution % 64:
            raise ConfigError(
                flag("resolution"),
                f"must be a positive multiple of 64, got {self.resolution}",
                "use e.g. 64, 256 or 512",
            )


@dataclass(frozen=True)
class PretrainConfig:
    """``seas pretrain``: a product prior (VAE, then text-conditioned U-Net) from defect-free images only."""

    output_dir: Path = field(
        default=Path("runs/prior"),
        metadata=_help("Output diffusers model folder (usable as --base-model); checkpoints and logs inside."),
    )
    images: tuple[str, ...] = field(
        default=(),
        metadata=_help(
            "Folders of defect-free images (every image file in each, sorted). Default: the normal training "
            "images of --data/--product (train/good). Never test/ images: the evaluation holds them out, and "
            "folders holding any of the product's test images are refused."
        ),
    )
    product_name: str | None = field(
        default=None, metadata=_help("Product word of the prompt. Default: the product folder name.")
    )
    prompt: str = field(default="a photo of a {product}", metadata=_help("Training prompt; {product} is filled in."))
    seed: int = field(default=0, metadata=_help("Seeds data order, augmentation, timesteps, noise and dropout."))
    vae_steps: int | None = field(
        default=None,
        metadata=_help(
            "VAE optimiser steps (0 keeps the base VAE). Default: 3000 for built-in random models, else 0."
        ),
    )
    vae_decoder_steps: int = field(
        default=0,
        metadata=_help(
            "Decoder-only VAE fine-tune steps after the VAE phase (encoder frozen: latents, and a U-Net trained on "
            "them, stay valid), with the texture term; sharpens reconstructions. Works on real models too."
        ),
    )
    unet_steps: int = field(
        default=3000,
        metadata=_help("U-Net optimiser steps on the frozen VAE's latents (0 keeps the base model's U-Net)."),
    )
    batch_size: int = field(default=8, metadata=_help("Images per optimiser step (both phases)."))
    vae_crop: int = field(
        default=0,
        metadata=_help("Train the VAE on random square crops of this size (0 = whole images; multiple of 8)."),
    )
    vae_learning_rate: float = field(default=1e-3, metadata=_help("VAE learning rate (AdamW, cosine decay)."))
    vae_decoder_learning_rate: float = field(
        default=1e-4, metadata=_help("Learning rate of the decoder-only phase (AdamW, cosine decay).")
    )
    unet_learning_rate: float | None = field(
        default=None,
        metadata=_help(
            "U-Net learning rate (AdamW, cosine decay). Default: 3e-4 from scratch, 1e-5 for a real model."
        ),
    )
    kl_weight: float = field(default=1e-6, metadata=_help("Weight of the VAE's KL term (keeps latents near N(0, 1))."))
    gradient_weight: float = field(
        default=1.0, metadata=_help("Weight of the VAE's image-gradient L1 term (keeps edges and texture).")
    )
    texture_weight: float = field(
        default=2.0,
        metadata=_help("Decoder phase: weight of the local edge-energy L1 term (texture of the right strength)."),
    )
    cond_dropout: float = field(
        default=0.1, metadata=_help("Share of U-Net samples trained with the empty prompt (classifier-free guidance).")
    )
    snr_gamma: float = field(default=5.0, metadata=_help("Min-SNR loss weighting gamma (0 = plain MSE)."))
    ema_decay: float = field(default=0.999, metadata=_help("EMA of the U-Net weights, exported (0 = off)."))
    augment: Literal["rot90_flip", "none"] = field(
        default="rot90_flip", metadata=_help("Random 90-degree rotation + flip, or none.")
    )
    resize: Literal["crop", "stretch"] = field(
        default="crop", metadata=_help("Shorter side to resolution then centre crop, or stretch to a square.")
    )
    sample_steps: int = field(
        default=500, metadata=_help("Write a sample grid PNG (reconstructions / generated images) every N steps.")
    )
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=_help("auto = bf16 autocast on CUDA, fp32 on CPU.")
    )
    vae_mixed_precision: Literal["same", "bf16"] = field(
        default="same",
        metadata=_help(
            "VAE phase only: same = as --mixed-precision; bf16 = bf16 autocast even when the U-Net phase runs "
            "fp32 (on CPUs with AMX this halves the VAE step time; the small U-Net gets slower, measured)."
        ),
    )
    cpu: bool = field(default=False, metadata=_help("Train on CPU even when a GPU is present."))
    checkpointing_steps: int = field(
        default=500, metadata=_help("Save a resumable checkpoint every N steps (0 = never).")
    )
    checkpoints_total_limit: int | None = field(default=2, metadata=_help("Keep at most this many checkpoints."))
    resume: str | None = field(
        default="latest", metadata=_help("Resume each phase from its newest checkpoint (latest) or a folder.")
    )
    log_steps: int = field(default=25, metadata=_help("Write losses to the phase's logs.jsonl every N steps."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("batch_size", "log_steps"))
        if not (self.unet_steps or self.vae_steps or self.vae_decoder_steps):
            raise ConfigError(flag("unet_steps"), "must be at least 1 when no VAE phase runs", None)
        if self.vae_crop < 0 or self.vae_crop % 8:
            raise ConfigError(flag("vae_crop"), f"must be 0 or a positive multiple of 8, got {self.vae_crop}", None)
        if self.vae_mixed_precision == "bf16" and self.mixed_precision == "fp16":
            raise ConfigError(flag("vae_mixed_precision"), "bf16 cannot run inside fp16 autocast",
                              "use --mixed-precision no or bf16 with it, or --vae-mixed-precision same")  # fmt: skip
        if not 0 <= self.cond_dropout < 1:
            raise ConfigError(flag("cond_dropout"), f"must be in [0, 1), got {self.cond_dropout}", None)
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(flag("ema_decay"), f"must be in [0, 1), got {self.ema_decay}", "use e.g. 0.999 or 0")
        if "{product}" not in self.prompt:
            raise ConfigError(flag("prompt"), f"must contain {{product}}, got {self.prompt!r}", None)


@dataclass(frozen=True)
class PatchConfig:
    """``seas patches``: cut a product into native-resolution patches (an MVTec-layout dataset)."""

    output_dir: Path = field(
        default=Path("runs/patches"),
        metadata=_help("Dataset root to write: <output-dir>/<product>/{train,test,ground_truth}, then --data it."),
    )
    size: int = field(
        default=128,
        metadata=_help("Patch side in pixels of the original photos (multiple of 8; train later at this resolution)."),
    )
    per_normal: int = field(default=4, metadata=_help("Patches cut from each normal training image."))
    jitter: int = field(default=32, metadata=_help("Pixels a defect patch may move off its defect's centre."))
    min_content: float = field(
        default=0.9, metadata=_help("Share of a normal patch that must be product (not background).")
    )
    content_grey: int = field(
        default=12, metadata=_help("Grey levels a blurred pixel must differ from the border's median to be product.")
    )
    seed: int = field(default=0, metadata=_help("Seeds where each patch is cut."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("size", "per_normal"))
        if self.size % 8:
            raise ConfigError(flag("size"), f"must be a multiple of 8, got {self.size}", "use e.g. 128")
        if self.min_content > 1:
            raise ConfigError(flag("min_content"), f"must be in [0, 1], got {self.min_content}", None)


@dataclass(frozen=True)
class PasteConfig:
    """``seas paste``: generated patch pairs put back into the full photos their start patches were cut from."""

    generated: Path = field(
        default=Path("runs/seas/generated/tire"),
        metadata=_help("Generated product folder (<generate --output-dir>/<product>, holding <type>/manifest.jsonl)."),
    )
    patches: Path = field(
        default=Path("runs/patches/tire"),
        metadata=_help("The seas patches product folder the run trained on (holding patches.json)."),
    )
    photos: Path | None = field(
        default=None,
        metadata=_help("Dataset root seas patches cut from (its --data). Default: the root patches.json recorded."),
    )
    output_dir: Path = field(
        default=Path("runs/pasted"),
        metadata=_help("Output root: <output-dir>/<product>/<type>/{image,mask} + manifest.jsonl, full-size photos."),
    )
    region: Literal["patch", "mask"] = field(
        default="patch",
        metadata=_help(
            "What replaces the photo: the whole generated patch, or only the generated mask and --feather px "
            "around it (the rest of the photo stays real)."
        ),
    )
    feather: int = field(
        default=8, metadata=_help("Pixels over which the pasted region fades into the photo (0 = hard edge).")
    )

    def __post_init__(self) -> None:
        check_numbers(self)


@dataclass(frozen=True)
class TrainConfig:
    """Stage 1, SeaS generator fine-tuning (docs/method.md §2.2-2.6)."""

    run_dir: Path = field(
        default=Path("runs/seas"),
        metadata=_help("Run folder: stage 1 writes the model, logs and checkpoints here; later stages read it."),
    )
    seed: int = field(default=0, metadata=_help("Seeds data order, augmentation, timesteps, noise and VAE sampling."))
    # UA prompt tokens (docs/method.md §2.3)
    normal_token: str = field(default="ob", metadata=_help("Product token stem; tokens are <stem>1, <stem>2, ..."))
    anomaly_token: str = field(default="sks", metadata=_help("Defect token stem; type i owns <stem>{k*i+1}..{k*i+k}."))
    normal_tokens: int = field(default=1, metadata=_help("Number of product tokens."))
    anomaly_tokens: int = field(default=4, metadata=_help("Number of tokens per defect type."))
    normal_init: str = field(default="object", metadata=_help("Word whose embedding initialises product tokens."))
    anomaly_init: str = field(default="defect", metadata=_help("Word whose embedding initialises defect tokens."))
    embeddings: Literal["new", "all"] = field(
        default="new",
        metadata=_help("Train only the new token rows (new) or the whole embedding matrix as the reference (all)."),
    )
    # DA / NA losses (docs/method.md §2.4, 2.5)
    da_layers: Literal["down", "down_up"] = field(
        default="down", metadata=_help("Cross-attention layers for DA: down blocks (reference) or down and up.")
    )
    da_normalize: Literal["batch", "sample"] = field(
        default="batch",
        metadata=_help("Min-max normalise DA maps jointly over the batch (reference) or per image.", project=True),
    )
    da_region: Literal["half", "one", "any"] = field(
        default="half",
        metadata=_help("Product-token region: mask >= 0.5 (half), == 1 (one, MVTec reference), > 0 (any)."),
    )
    da_weight: float = field(default=1.0, metadata=_help("Weight of the DA loss (0 disables it)."))
    na_weight: float = field(default=1.0, metadata=_help("Weight of the normal-image (NA) denoising loss."))
    # data and augmentation (docs/method.md §2.2)
    augment: Literal["rot90_flip", "none"] = field(
        default="rot90_flip", metadata=_help("Random 90-degree rotation + flip (reference), or none.")
    )
    resize: Literal["crop", "stretch"] = field(
        default="crop", metadata=_help("Shorter side to resolution then centre crop, or stretch to a square.")
    )
    batch_anomaly: int = field(default=2, metadata=_help("Defect images per micro-batch."))
    batch_normal: int = field(default=2, metadata=_help("Normal images per micro-batch."))
    cache_latents: bool = field(
        default=True,
        metadata=_help("Cache the frozen VAE posterior of each augmented image (exact; sample still drawn)."),
    )
    # optimisation (docs/method.md §2.6)
    optimizer: Literal["adamw", "adamw8bit"] = field(
        default="adamw", metadata=_help("AdamW or 8-bit AdamW (bitsandbytes).")
    )
    learning_rate: float = field(default=4e-6, metadata=_help("U-Net learning rate."))
    token_learning_rate: float = field(default=4e-5, metadata=_help("Token embedding learning rate."))
    adam_beta1: float = field(default=0.9, metadata=_help("AdamW beta1."))
    adam_beta2: float = field(default=0.999, metadata=_help("AdamW beta2."))
    adam_epsilon: float = field(default=1e-8, metadata=_help("AdamW epsilon."))
    weight_decay: float = field(default=0.01, metadata=_help("AdamW decoupled weight decay."))
    grad_accum: int = field(default=2, metadata=_help("Micro-batches per optimiser step."))
    steps_per_type: int = field(default=800, metadata=_help("Optimiser steps per defect type (total = this x types)."))
    max_steps: int | None = field(default=None, metadata=_help("Total optimiser steps; overrides --steps-per-type."))
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=_help("auto = bf16 autocast on CUDA, fp32 on CPU.")
    )
    gradient_checkpointing: bool = field(default=False, metadata=_help("Trade compute for U-Net activation memory."))
    lora_rank: int = field(
        default=0,
        metadata=_help("Train LoRA adapters of this rank on the U-Net attention instead of all weights (0 = off)."),
    )
    cpu: bool = field(default=False, metadata=_help("Train on CPU even when a GPU is present."))
    # run management
    checkpointing_steps: int = field(
        default=500, metadata=_help("Save a resumable checkpoint every N steps (0 = never).")
    )
    checkpoints_total_limit: int | None = field(default=3, metadata=_help("Keep at most this many checkpoints."))
    resume: str | None = field(
        default="latest",
        metadata=_help(
            "Resume from the newest checkpoint of --run-dir if there is one (latest), or a checkpoint folder."
        ),
    )
    log_steps: int = field(default=10, metadata=_help("Write losses to logs.jsonl / TensorBoard every N steps."))
    validation_steps: int = field(
        default=0, metadata=_help("Write a validation grid (one image per type, fixed seeds) every N steps (0 = off).")
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


@dataclass(frozen=True)
class MaskTrainConfig:
    """Stage 2, Refined Mask Prediction (RMP) training on the frozen generator (docs/method.md §2.7-2.8)."""

    run_dir: Path = field(
        default=Path("runs/seas"), metadata=_help("Run folder with a finished stage 1; RMP is written into it.")
    )
    seed: int = field(default=0, metadata=_help("Seeds data order, augmentation, timesteps, noise and the DDPM step."))
    focal_target: Literal["threshold", "truncate"] = field(
        default="threshold",
        metadata=_help("Defect class where the soft mask is >= 0.5 (threshold) or == 1 (truncate, reference)."),
    )
    rmp_learning_rate: float = field(default=5e-4, metadata=_help("RMP learning rate (AdamW, constant)."))
    rmp_steps_per_type: int = field(default=800, metadata=_help("Optimiser steps per defect type."))
    max_steps: int | None = field(
        default=None, metadata=_help("Total optimiser steps; overrides --rmp-steps-per-type.")
    )
    rmp_batch_anomaly: int = field(default=2, metadata=_help("Defect images per micro-batch."))
    rmp_batch_normal: int = field(default=2, metadata=_help("Normal images per micro-batch."))
    grad_accum: int = field(default=2, metadata=_help("Micro-batches per optimiser step."))
    optimizer: Literal["adamw", "adamw8bit"] = field(default="adamw", metadata=_help("AdamW or 8-bit AdamW."))
    weight_decay: float = field(default=0.01, metadata=_help("AdamW decoupled weight decay."))
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=_help("auto = bf16 autocast on CUDA, fp32 on CPU.")
    )
    cpu: bool = field(default=False, metadata=_help("Train on CPU even when a GPU is present."))
    checkpointing_steps: int = field(
        default=500, metadata=_help("Save a resumable checkpoint every N steps (0 = never).")
    )
    checkpoints_total_limit: int | None = field(default=3, metadata=_help("Keep at most this many checkpoints."))
    resume: str | None = field(
        default="latest", metadata=_help("Resume from the newest stage-2 checkpoint (latest) or a checkpoint folder.")
    )
    log_steps: int = field(default=10, metadata=_help("Write losses to the stage-2 log every N steps."))
    bn_calibration_batches: int = field(
        default=16,
        metadata=_help(
            "After training, re-estimate the head's BatchNorm statistics on this many batches of "
            "inference-like features (training defect images, refined path, t <= --bn-calibration-max-t); "
            "0 keeps the training-time running statistics (reference).",
            project=True,
        ),
    )
    bn_calibration_max_t: int = field(
        default=150,
        metadata=_help(
            "Largest timestep of the calibration batches (generation's masks use t <= ~120).", project=True
        ),
    )

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("rmp_steps_per_type", "rmp_batch_anomaly", "grad_accum", "log_steps"))
        if self.bn_calibration_max_t > 999:
            raise ConfigError(flag("bn_calibration_max_t"), f"must be <= 999, got {self.bn_calibration_max_t}",
                              "SD schedules have timesteps 0-999")  # fmt: skip
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(flag("max_steps"), f"must be at least 1, got {self.max_steps}", None)

    def total_steps(self, num_types: int) -> int:
        """``max_steps`` or ``rmp_steps_per_type`` x number of defect types."""
        return self.max_steps if self.max_steps is not None else self.rmp_steps_per_type * num_types


@dataclass(frozen=True)
class GenerateConfig:
    """Image + mask generation (docs/method.md §2.9)."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=_help("Run folder with a finished stage 1 and stage 2."))
    output_dir: Path | None = field(
        default=None,
        metadata=_help(
            "Pairs root: OUTPUT_DIR/<product>/<defect_type>/{image,mask}. Default: RUN/generated, where "
            "seas evaluate and seas report look."
        ),
    )
    defect_type: tuple[str, ...] = field(
        default=(), metadata=_help("Defect types to use (names as folders / in the token map). Default: all.")
    )
    num_per_type: int = field(default=1000, metadata=_help("Image/mask pairs per defect type."))
    combine: tuple[str, ...] = field(
        default=(), metadata=_help("Unseen combined defects, each 'A+B': prompt with both types' tokens.")
    )
    normals: int = field(
        default=0, metadata=_help("Also generate this many normal images (normal prompt, into good/).")
    )
    seed: int = field(default=0, metadata=_help("Base seed: image n is seeded with seed + n (docs/method.md §2.9)."))
    steps: int = field(default=25, metadata=_help("DPM-Solver++ steps."))
    guidance: float = field(
        default=8.0, metadata=_help("Classifier-free guidance scale (<= 1: no unconditional pass).")
    )
    negative_prompt: str = field(default="", metadata=_help("Unconditional prompt for guidance."))
    start: Literal["reference", "strength", "noise"] = field(
        default="reference",
        metadata=_help("Start latent: noised normal image as the reference does, img2img strength, or pure noise."),
    )
    strength: float = field(default=1.0, metadata=_help("start=strength: fraction of the steps that are run."))
    reference_pool: Literal["train", "all"] = field(
        default="train",
        metadata=_help("Reference normals: those stage 1 trained on (first --num-normals) or all train/good images."),
    )
    extended_steps: int = field(
        default=1500, metadata=_help("start=reference: length of the extended noise schedule.")
    )
    timestep_spacing: Literal["linspace", "leading"] = field(
        default="linspace", metadata=_help("DPM-Solver++ timestep spacing (reference: linspace).")
    )
    mask_steps: int = field(default=3, metadata=_help("Average the RMP probability over the last N steps."))
    mask_threshold: float = field(default=0.2, metadata=_help("Defect where the averaged probability is > this."))
    rmp_bn: Literal["eval", "batch"] = field(
        default="eval", metadata=_help("RMP BatchNorm: running statistics (eval) or batch statistics (reference).")
    )
    min_mask_fraction: float = field(
        default=0.0,
        metadata=_help(
            "Reject a pair whose mask covers less than this fraction (an empty mask is always rejected).", project=True
        ),
    )
    max_mask_fraction: float = field(
        default=1.0, metadata=_help("Reject a pair whose mask covers more than this.", project=True)
    )
    max_attempts: int = field(
        default=10, metadata=_help("Seeds tried per image before giving up (with the filter).", project=True)
    )
    mask_source: Literal["rmp", "train"] = field(
        default="rmp",
        metadata=_help(
            "Where a pair's mask comes from: the RMP head (the paper), or a training defect mask of the type "
            "(seeded pick, rotation and flip) that the picture may change inside only: the rest is the "
            "reference image as the VAE decodes it (needs --start reference or strength).",
            project=True,
        ),
    )
    mask_margin: int = field(
        default=2,
        metadata=_help(
            "--mask-source train: generated pixels reach this many px past the mask, fading.", project=True
        ),
    )
    placed_background: Literal["decoded", "photo"] = field(
        default="decoded",
        metadata=_help(
            "--mask-source train: beyond the mask, the reference as the VAE decodes it, or the reference photo "
            "with the generator's change added (its sensor noise runs on through the defect, no seam; with "
            "--placed-start defect the photo holds the pasted defect, whose fine detail the VAE would lose).",
            project=True,
        ),
    )
    placed_turn: Literal["image", "defect"] = field(
        default="image",
        metadata=_help(
            "--mask-source train: turn and flip a training mask with its whole picture, as training augments "
            "(on an aligned product it may land beside it), or about the defect's own centre (it stays where "
            "a real defect was).",
            project=True,
        ),
    )
    placed_start: Literal["normal", "defect"] = field(
        default="normal",
        metadata=_help(
            "--mask-source train: start from the noised reference (normal), or from the reference with the "
            "training defect that the mask came from pasted under it, turned and flipped alike (defect: the "
            "generator redraws a real defect of the type at the placed mask).",
            project=True,
        ),
    )
    batch_size: int = field(default=10, metadata=_help("Images per sampler batch (throughput only)."))
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=_help("Weights and activations: auto = fp16 on CUDA, fp32 (no) on CPU.")
    )
    cpu: bool = field(default=False, metadata=_help("Generate on CPU even when a GPU is present."))
    export_anomalib: Path | None = field(
        default=None,
        metadata=_help(
            "Also write an anomalib Folder dataset (normal/abnormal/mask) here, as symlinks, holding exactly this "
            "run's pairs (rebuilt on every run)."
        ),
    )
    overwrite: bool = field(
        default=False,
        metadata=_help(
            "Delete the product's earlier pairs in --output-dir first (needed to change pixel settings there); only a "
            "pair tree seas wrote, holding nothing else, is deleted."
        ),
    )

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("num_per_type", "steps", "mask_steps", "batch_size", "max_attempts"))
        if self.mask_steps > self.steps:
            raise ConfigError(flag("mask_steps"), f"{self.mask_steps} exceeds --steps {self.steps}", None)
        if not 0 < self.strength <= 1:
            raise ConfigError(flag("strength"), f"must be in (0, 1], got {self.strength}", None)
        if not 0 <= self.min_mask_fraction <= self.max_mask_fraction <= 1:
            raise ConfigError(flag("min_mask_fraction"), "must satisfy 0 <= min <= --max-mask-fraction <= 1", None)
        if self.mask_source == "train" and self.start == "noise":
            raise ConfigError(flag("mask_source"), "train keeps the reference image outside the mask; --start noise "
                              "has none", "pass --start strength or --start reference")  # fmt: skip
        if self.placed_start == "defect" and self.mask_source != "train":
            raise ConfigError(flag("placed_start"), "defect pastes the training defect under a placed mask; "
                              f"--mask-source {self.mask_source} places none", "add --mask-source train")  # fmt: skip
        for item in self.combine:
            if len(item.split("+")) < 2:
                raise ConfigError(flag("combine"), f"expects A+B, got {item!r}", "join defect type names with '+'")


@dataclass(frozen=True)
class RunConfig:
    """``seas run``: the whole pipeline for one or several products."""

    product: tuple[str, ...] = field(
        default=(),
        metadata=_help("Product(s) under --data, or 'all'; one model each. Default: the bundled tire sample."),
    )
    evaluate: bool = field(default=True, metadata=_help("Run the downstream segmentation benchmark after generating."))
    report: bool = field(default=True, metadata=_help("Build the HTML report at the end."))


@dataclass(frozen=True)
class ReportConfig:
    """``seas report``: a static HTML page of a run."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=_help("Run folder to report on."))
    output_dir: Path | None = field(default=None, metadata=_help("Report folder. Default: RUN/report."))
    generated: Path | None = field(
        default=None, metadata=_help("Generated tree root holding <product>/<type>/. Default: RUN/generated.")
    )
    per_type: int = field(default=8, metadata=_help("Pairs shown per defect type."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("per_type",))


@dataclass(frozen=True)
class DownstreamConfig:
    """``seas evaluate segmentation``: do generated pairs help a defect segmenter? (docs/method.md §2.12)."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=_help("Run folder (its split.json fixes train/test)."))
    generated: Path | None = field(
        default=None, metadata=_help("Generated tree root holding <product>/<type>/ (default: RUN/generated).")
    )
    variants: tuple[str, ...] = field(
        default=("real", "perlin", "cutpaste", "seas"),
        metadata=_help("Training sets: real (real third + normals) alone, or plus Perlin, CutPaste or SeaS pairs."),
    )
    eval_resolution: int = field(
        default=256, metadata=_help("Segmenter input and evaluation size (the paper's 256; 128 is 4x cheaper on CPU).")
    )
    seg_epochs: int = field(default=30, metadata=_help("Segmenter epochs; the model of the last epoch is evaluated."))
    seg_batch_size: int = field(default=8, metadata=_help("Segmenter batch size."))
    seg_learning_rate: float = field(default=1e-3, metadata=_help("Segmenter learning rate (AdamW)."))
    seg_repeats: int = field(
        default=1,
        metadata=_help("Train each segmenter this many times (seeds seed, seed+1, ...; same training sets): the table "
                       "shows the mean ± the standard deviation, the size of a difference that means something."),
    )  # fmt: skip
    seed: int = field(default=0, metadata=_help("Seeds synthetic defects, initialisation and data order."))
    cpu: bool = field(default=False, metadata=_help("Evaluate on CPU even when a GPU is present."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("eval_resolution", "seg_epochs", "seg_batch_size", "seg_repeats"))
        unknown = sorted(set(self.variants) - {"real", "perlin", "cutpaste", "seas"})
        if unknown:
            raise ConfigError(flag("variants"), f"unknown {', '.join(unknown)}", "use real, perlin, cutpaste, seas")


@dataclass(frozen=True)
class QualityConfig:
    """``seas evaluate quality``: VAE reconstruction (normals, defects), mask agreement, RMP, the prompt's effect."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=_help("Run folder with finished stages 1 and 2."))
    generated: Path | None = field(
        default=None, metadata=_help("Generated tree root holding <product>/<type>/ (default: RUN/generated).")
    )
    eval_resolution: int = field(
        default=256, metadata=_help("Segmenter input and evaluation size (the paper's 256; 128 is 4x cheaper on CPU).")
    )
    seg_epochs: int = field(default=30, metadata=_help("Segmenter epochs; the model of the last epoch is evaluated."))
    seg_batch_size: int = field(default=8, metadata=_help("Segmenter batch size."))
    seg_learning_rate: float = field(default=1e-3, metadata=_help("Segmenter learning rate (AdamW)."))
    seed: int = field(default=0, metadata=_help("Seeds synthetic defects, initialisation and data order."))
    cpu: bool = field(default=False, metadata=_help("Evaluate on CPU even when a GPU is present."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("eval_resolution", "seg_epochs", "seg_batch_size"))


@dataclass(frozen=True)
class GenerationMetricsConfig:
    """``seas evaluate generation``: IC-LPIPS and Inception Score of a generated tree (docs/method.md §2.10)."""

    run_dir: Path = field(
        default=Path("runs/seas"), metadata=_help("Run folder (its split.json names the real images).")
    )
    generated: Path | None = field(default=None, metadata=_help("Generated tree root (default: RUN/generated)."))
    net: Literal["alex", "vgg"] = field(default="alex", metadata=_help("LPIPS backbone (vgg + cap 140 ~ reference)."))
    cap: int = field(default=200, metadata=_help("Largest IC-LPIPS cluster."))
    metric_resolution: int = field(default=256, metadata=_help("Both image sets are resized to this size."))
    real_set: Literal["all", "train", "holdout"] = field(
        default="all", metadata=_help("Real images forming clusters.")
    )
    order_seed: int | None = field(default=None, metadata=_help("Permute generated images with this seed."))
    splits: int = field(default=10, metadata=_help("Inception Score splits."))
    inception_weights: Path | None = field(
        default=None, metadata=_help("torch-fidelity Inception-v3 weights (.pth); or SEAS_INCEPTION_WEIGHTS.")
    )
    torch_home: Path | None = field(
        default=None,
        metadata=_help("Folder with hub/checkpoints/<torchvision backbone>.pth for LPIPS (or TORCH_HOME)."),
    )
    metric_batch_size: int = field(
        default=64, metadata=_help("Image pairs per LPIPS call and images per Inception call (memory bound only).")
    )
    cpu: bool = field(default=False, metadata=_help("Run the metric networks on CPU even when a GPU is present."))

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("cap", "metric_resolution", "splits", "metric_batch_size"))


@dataclass(frozen=True)
class BenchmarkConfig:
    """``seas benchmark train``: SeaS step versus a stock diffusers fine-tuning step."""

    steps: int = field(default=10, metadata=_help("Timed optimiser steps per variant."))
    warmup: int = field(default=3, metadata=_help("Untimed optimiser steps first."))
    batch_anomaly: int = field(default=2, metadata=_help("Defect images per micro-batch."))
    batch_normal: int = field(default=2, metadata=_help("Normal images per micro-batch."))
    grad_accum: int = field(default=2, metadata=_help("Micro-batches per optimiser step."))
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=_help("auto = bf16 autocast on CUDA, fp32 on CPU.")
    )
    gradient_checkpointing: bool = field(default=False, metadata=_help("Enable U-Net gradient checkpointing."))
    optimizer: Literal["adamw", "adamw8bit"] = field(default="adamw", metadata=_help("AdamW or 8-bit AdamW."))
    lora_rank: int = field(
        default=0, metadata=_help("Train LoRA adapters of this rank instead of the whole U-Net (both variants).")
    )
    results: Path | None = field(
        default=None, metadata=_help("Append the result to this JSON-lines file (default: print only, write nothing).")
    )

    def __post_init__(self) -> None:
        check_numbers(self, at_least_one=("steps", "batch_anomaly", "grad_accum"))


# Every config class: a config file may hold any of their options (each command takes its own).
ALL_CONFIGS: tuple[type, ...] = (
    DataConfig,
    ModelConfig,
    PretrainConfig,
    PatchConfig,
    PasteConfig,
    TrainConfig,
    MaskTrainConfig,
    GenerateConfig,
    RunConfig,
    ReportConfig,
    DownstreamConfig,
    QualityConfig,
    GenerationMetricsConfig,
    BenchmarkConfig,
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


def config_from_dict(cls: type, values: dict[str, Any]) -> Any:  # Any: the dataclass instance / JSON values
    """Inverse of :func:`config_to_dict` for a run record (unknown keys from other versions are ignored)."""
    from typing import get_type_hints

    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value, hint = values[f.name], str(hints[f.name])
        if value is not None and "Path" in hint:
            value = Path(value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


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
