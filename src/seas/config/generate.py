"""Options of ``seas generate`` (docs/method.md §2.9) and ``seas paste``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from seas.config.base import check_numbers, cpu_switch, hint
from seas.errors import ConfigError, flag
from seas.generate.keep_rules import BEST, check_keep_rules

__all__ = ["GenerateConfig", "PasteConfig"]


@dataclass(frozen=True)
class GenerateConfig:
    """Image + mask generation (docs/method.md §2.9)."""

    run_dir: Path = field(default=Path("runs/seas"), metadata=hint("Run folder with a finished stage 1 and stage 2."))
    output_dir: Path | None = field(
        default=None,
        metadata=hint(
            "Pairs root: OUTPUT_DIR/<product>/<defect_type>/{image,mask}. Default: RUN/generated, where "
            "seas evaluate and seas report look."
        ),
    )
    defect_type: tuple[str, ...] = field(
        default=(), metadata=hint("Defect types to use (names as folders / in the token map). Default: all.")
    )
    num_per_type: int = field(default=1000, metadata=hint("Image/mask pairs per defect type."))
    combine: tuple[str, ...] = field(
        default=(), metadata=hint("Unseen combined defects, each 'A+B': prompt with both types' tokens.")
    )
    normals: int = field(
        default=0, metadata=hint("Also generate this many normal images (normal prompt, into good/).")
    )
    seed: int = field(default=0, metadata=hint("Base seed: image n is seeded with seed + n (docs/method.md §2.9)."))
    steps: int = field(default=25, metadata=hint("DPM-Solver++ steps."))
    guidance: float = field(
        default=8.0, metadata=hint("Classifier-free guidance scale (<= 1: no unconditional pass).")
    )
    negative_prompt: str = field(default="", metadata=hint("Unconditional prompt for guidance."))
    start: Literal["reference", "strength", "noise"] = field(
        default="reference",
        metadata=hint("Start latent: noised normal image as the reference does, img2img strength, or pure noise."),
    )
    strength: float = field(default=1.0, metadata=hint("start=strength: fraction of the steps that are run."))
    reference_pool: Literal["train", "all"] = field(
        default="train",
        metadata=hint("Reference normals: those stage 1 trained on (first --num-normals) or all train/good images."),
    )
    extended_steps: int = field(default=1500, metadata=hint("start=reference: length of the extended noise schedule."))
    timestep_spacing: Literal["linspace", "leading"] = field(
        default="linspace", metadata=hint("DPM-Solver++ timestep spacing (reference: linspace).")
    )
    mask_steps: int = field(default=3, metadata=hint("Average the RMP probability over the last N steps."))
    mask_threshold: float = field(default=0.2, metadata=hint("Defect where the averaged probability is > this."))
    rmp_bn: Literal["eval", "batch"] = field(
        default="eval",
        metadata=hint("RMP BatchNorm: running statistics (eval) or batch statistics (reference)."),
    )
    min_mask_fraction: float = field(
        default=0.0,
        metadata=hint(
            "Reject a pair whose mask covers less than this fraction (an empty mask is always rejected).", project=True
        ),
    )
    max_mask_fraction: float = field(
        default=1.0, metadata=hint("Reject a pair whose mask covers more than this.", project=True)
    )
    max_attempts: int = field(
        default=10, metadata=hint("Seeds tried per image before giving up (with the filter).", project=True)
    )
    keep: tuple[str, ...] = field(
        default=(),
        metadata=hint(
            "Keep only pairs whose scores pass these rules, NAME>=VALUE or NAME<=VALUE (e.g. on_object>=0.9 "
            "change_ratio>=1.5); a failing pair is redrawn with the next seed, up to --max-attempts. Every pair's "
            "scores are in its manifest line; their meaning: docs/usage.md.",
            project=True,
        ),
    )
    best_of: int = field(
        default=1,
        metadata=hint(
            "Draw each defect pair K times (seeds as redraws; draws failing --keep do not count) and keep the best by "
            "--best-by: the best 1/K of the draws, at K times the generation time. Every draw is recorded.",
            project=True,
        ),
    )
    best_by: str = field(
        default="change_ratio",
        metadata=hint(
            "The score --best-of ranks by: on_object, change_inside, change_ratio (higher is better), change_outside "
            "(lower) or area_ratio (nearest 1).",
            project=True,
        ),
    )
    mask_source: str = field(
        default="rmp",
        metadata=hint(
            "Where a pair's mask comes from: rmp, the RMP head (the paper); train, a training defect mask of the "
            "type (seeded pick, rotation and flip); or a folder DIR of your own binary masks, DIR/<type>/*.png at "
            "the run's resolution, pair n taking the n-th file, used bit for bit. With train or DIR the picture may "
            "change inside the mask only: the rest is the reference image (needs --start reference or strength).",
            project=True,
        ),
    )
    mask_margin: int = field(
        default=2,
        metadata=hint("--mask-source train: generated pixels reach this many px past the mask, fading.", project=True),
    )
    placed_background: Literal["decoded", "photo"] = field(
        default="decoded",
        metadata=hint(
            "--mask-source train: beyond the mask, the reference as the VAE decodes it, or the reference photo "
            "with the generator's change added (its sensor noise runs on through the defect, no seam; with "
            "--placed-start defect the photo holds the pasted defect, whose fine detail the VAE would lose).",
            project=True,
        ),
    )
    placed_turn: Literal["image", "defect"] = field(
        default="image",
        metadata=hint(
            "--mask-source train: turn and flip a training mask with its whole picture, as training augments "
            "(on an aligned product it may land beside it), or about the defect's own centre (it stays where "
            "a real defect was).",
            project=True,
        ),
    )
    placed_start: Literal["normal", "defect"] = field(
        default="normal",
        metadata=hint(
            "--mask-source train: start from the noised reference (normal), or from the reference with the "
            "training defect that the mask came from pasted under it, turned and flipped alike (defect: the "
            "generator redraws a real defect of the type at the placed mask).",
            project=True,
        ),
    )
    batch_size: int = field(default=10, metadata=hint("Images per sampler batch (throughput only)."))
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata=hint("Weights and activations: auto = fp16 on CUDA, fp32 (no) on CPU.")
    )
    cpu: bool = cpu_switch("Generate")
    export_anomalib: Path | None = field(
        default=None,
        metadata=hint(
            "Also write an anomalib Folder dataset (normal/abnormal/mask) here, as symlinks, holding exactly this "
            "run's pairs (rebuilt on every run)."
        ),
    )
    export_coco: Path | None = field(
        default=None,
        metadata=hint(
            "Also write a COCO instance-segmentation set here (<dir>/<product>/annotations.json, RLE per defect "
            "region, images as links), holding exactly this run's pairs (rebuilt on every run)."
        ),
    )
    export_yolo: Path | None = field(
        default=None,
        metadata=hint(
            "Also write a YOLO segmentation set here (<dir>/<product>/{images,labels}, data.yaml), holding "
            "exactly this run's pairs (rebuilt on every run)."
        ),
    )
    overwrite: bool = field(
        default=False,
        metadata=hint(
            "Delete the product's earlier pairs in --output-dir first (needed to change pixel settings there); only a "
            "pair tree seas wrote, holding nothing else, is deleted."
        ),
    )

    @property
    def places_masks(self) -> bool:
        """Whether pairs take placed masks (training masks or the user's) instead of the RMP head's."""
        return self.mask_source != "rmp"

    def __post_init__(self) -> None:
        check_numbers(
            self, at_least_one=("num_per_type", "steps", "mask_steps", "batch_size", "max_attempts", "best_of")
        )
        if self.mask_steps > self.steps:
            raise ConfigError(flag("mask_steps"), f"{self.mask_steps} exceeds --steps {self.steps}", None)
        if not 0 < self.strength <= 1:
            raise ConfigError(flag("strength"), f"must be in (0, 1], got {self.strength}", None)
        check_keep_rules(self.keep)
        if self.best_by not in BEST:
            raise ConfigError(flag("best_by"), f"cannot rank by {self.best_by!r}", f"pass one of {', '.join(BEST)}")
        if self.best_of > self.max_attempts:
            raise ConfigError(
                flag("best_of"),
                f"{self.best_of} draws exceed --max-attempts {self.max_attempts}",
                f"raise --max-attempts to {self.best_of} or more",
            )
        if not 0 <= self.min_mask_fraction <= self.max_mask_fraction <= 1:
            raise ConfigError(flag("min_mask_fraction"), "must satisfy 0 <= min <= --max-mask-fraction <= 1", None)
        if self.mask_source not in ("rmp", "train") and not Path(self.mask_source).is_dir():
            raise ConfigError(
                flag("mask_source"),
                f"{self.mask_source} is neither rmp, train nor a folder",
                "pass rmp, train, or a folder of DIR/<type>/ masks",
            )
        if self.places_masks and self.start == "noise":
            raise ConfigError(
                flag("mask_source"),
                f"{self.mask_source} keeps the reference image outside the mask; --start noise has none",
                "pass --start strength or --start reference",
            )
        if self.placed_start == "defect" and self.mask_source != "train":
            raise ConfigError(
                flag("placed_start"),
                f"defect pastes the training defect under a placed mask; --mask-source {self.mask_source} places none",
                "add --mask-source train",
            )
        for item in self.combine:
            if len(item.split("+")) < 2:
                raise ConfigError(flag("combine"), f"expects A+B, got {item!r}", "join defect type names with '+'")


@dataclass(frozen=True)
class PasteConfig:
    """``seas paste``: generated patch pairs put back into the full photos their start patches were cut from."""

    generated: Path = field(
        default=Path("runs/seas/generated/tire"),
        metadata=hint("Generated product folder (<generate --output-dir>/<product>, holding <type>/manifest.jsonl)."),
    )
    patches: Path = field(
        default=Path("runs/patches/tire"),
        metadata=hint("The seas patches product folder the run trained on (holding patches.json)."),
    )
    photos: Path | None = field(
        default=None,
        metadata=hint("Dataset root seas patches cut from (its --data). Default: the root patches.json recorded."),
    )
    output_dir: Path = field(
        default=Path("runs/pasted"),
        metadata=hint("Output root: <output-dir>/<product>/<type>/{image,mask} + manifest.jsonl, full-size photos."),
    )
    region: Literal["patch", "mask"] = field(
        default="patch",
        metadata=hint(
            "What replaces the photo: the whole generated patch, or only the generated mask and --feather px "
            "around it (the rest of the photo stays real)."
        ),
    )
    feather: int = field(
        default=8, metadata=hint("Pixels over which the pasted region fades into the photo (0 = hard edge).")
    )

    def __post_init__(self) -> None:
        check_numbers(self)
