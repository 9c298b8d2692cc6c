"""``seas pretrain``: a product prior that ``--base-model`` accepts, trained offline from defect-free images.

Up to three phases, each on the shared loop (atomic checkpoints, exact resume, loss log, sample PNGs):

1. **VAE** (from scratch only: built-in random models): ``vae_train/``; see :mod:`seas.pretrain.vae`.
2. **Decoder** (``--vae-decoder-steps``, optional): the VAE decoder alone, encoder frozen, with the
   texture term: ``vae_decoder_train/``. The latents do not change, so it can also sharpen the
   decoder of a real model or of a finished prior (``--unet-steps 0`` keeps its U-Net).
3. **U-Net** on the frozen VAE's latents: ``unet_train/``; see :mod:`seas.pretrain.unet`.

From a real checkpoint only the U-Net is fine-tuned by default; the VAE and text encoder are written
back unchanged (bit-identical), and with the decoder phase the encoder still is. The text encoder
is never trained: for a built-in model it stays at its seeded weights, which still give distinct,
fixed contexts for "a photo of a <product>" and "", all that the prior and classifier-free guidance
need; stage 1 then learns its own token rows on top.
The output folder is a diffusers Stable Diffusion folder (``model_index.json``, ``unet/``, ``vae/``,
``text_encoder/``, ``tokenizer/``, ``scheduler/``) plus ``config.json`` and ``pretrain_complete.json``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import torch

from seas.config import DataConfig, ModelConfig, PretrainConfig, write_run_record
from seas.data.catalog import data_folders
from seas.data.inspection import crop_notes
from seas.errors import ConfigError, flag
from seas.files import atomic_write_dir, atomic_write_json
from seas.integrity import record_weights, weight_files, weights_problem
from seas.models.builtin import BUILTIN_MODELS
from seas.models.loading import SDComponents, load_base_model
from seas.ownership import refuse_overlaps
from seas.pretrain.images import NormalImages, list_prior_images
from seas.pretrain.unet import denoising_loss, write_sample_grid
from seas.pretrain.vae import (
    decoder_losses,
    latent_scaling_factor,
    start_near_deterministic,
    vae_losses,
    write_reconstruction_strip,
)
from seas.step_loop import StepPlan, run_steps
from seas.training import (
    LossLog,
    check_resume_settings,
    make_accelerator,
    make_adamw,
    resume_step,
)

__all__ = ["VAE_STEPS_FROM_SCRATCH", "pretrain"]

logger = logging.getLogger(__name__)
VAE_STEPS_FROM_SCRATCH = 3000
_PHASE_VAE, _PHASE_UNET, _PHASE_DECODER = 1, 2, 3
_COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


def _lr_at(base: float, step: int, total: int, warmup: int = 100) -> float:
    """Linear warm-up, then cosine decay to 10 %: a pure function of the step, so resume is exact."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def _generator(seed: int, phase: int, index: int, device: torch.device) -> torch.Generator:
    state = np.random.SeedSequence([seed, phase, 3, index]).generate_state(1, np.uint64)[0]
    return torch.Generator(device=device).manual_seed(int(state) & 0x7FFF_FFFF_FFFF_FFFF)


def _run_phase(
    module: torch.nn.Module,
    step_fn: Callable[[Any, Any, int], dict[str, torch.Tensor]],
    *,
    cfg: PretrainConfig,
    phase_dir: Path,
    total: int,
    lr: float,
    keys: tuple[str, ...],
    sample: Callable[[Any, int], object],
    ema_decay: float = 0.0,
) -> torch.nn.Module:
    """Train ``module`` for ``total`` steps in ``phase_dir``; returns the unwrapped module (EMA weights if on)."""
    # Any above: step_fn(accelerator, prepared module, micro-batch index); sample(live module, step)
    acc = make_accelerator(cfg.mixed_precision, 1, cfg.cpu, phase_dir)
    phase_dir.mkdir(parents=True, exist_ok=True)
    module.train()
    optimizer = make_adamw(
        [{"params": [p for p in module.parameters() if p.requires_grad], "lr": lr}], "adamw", weight_decay=0.01
    )
    model, optimizer = acc.prepare(module, optimizer)
    ema = None
    if ema_decay > 0:
        from diffusers.training_utils import EMAModel  # imported here: a slow import only this branch needs

        ema = EMAModel(acc.unwrap_model(model).parameters(), decay=ema_decay)
        ema.to(acc.device)
        acc.register_for_checkpointing(ema)
    log = LossLog(phase_dir / "logs.jsonl", keys, (), phase_dir / "tensorboard" if acc.is_main_process else None)
    start = resume_step(acc, phase_dir, cfg.resume, log)

    def micro(index: int) -> dict[str, torch.Tensor]:
        step = index // acc.num_processes
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(lr, step, total)
        losses = step_fn(acc, model, index)
        acc.backward(losses["total"])
        return losses

    def with_ema(step: int) -> None:
        live = acc.unwrap_model(model)
        if ema is None:
            sample(live, step)
            return
        ema.store(live.parameters())
        ema.copy_to(live.parameters())
        sample(live, step)
        ema.restore(live.parameters())

    plan = StepPlan.of(cfg, phase_dir, start, total, phase_dir.name, shown=keys[:2])
    ema_step = (lambda _step: ema.step(acc.unwrap_model(model).parameters())) if ema else None
    run_steps(acc, [model], optimizer, micro, plan, log, every=(cfg.sample_steps, with_ema), on_step=ema_step)
    acc.wait_for_everyone()
    final = acc.unwrap_model(model)
    if ema is not None:
        ema.copy_to(final.parameters())
    if acc.is_main_process and cfg.sample_steps and total % cfg.sample_steps:
        sample(final, total)
    acc.end_training()
    return final.eval()  # type: ignore[no-any-return]


def _vae_autocast(cfg: PretrainConfig, acc: Any) -> Any:
    """--vae-mixed-precision bf16: autocast for the VAE phases only (one Accelerator precision per process)."""
    if cfg.vae_mixed_precision == "bf16":
        return torch.autocast(acc.device.type, dtype=torch.bfloat16)
    return acc.autocast()


def _vae_batch(images: NormalImages, cfg: PretrainConfig, phase: int, index: int) -> torch.Tensor:
    """One VAE-phase batch: whole views, or random ``--vae-crop`` crops of them."""
    plan = images.plan(cfg.seed, phase, index, cfg.batch_size)
    crop = cfg.vae_crop if 0 < cfg.vae_crop < images.resolution else 0
    return images.crops(plan, crop, cfg.seed, phase, index) if crop else images.batch(plan)


def _set_latent_scale(vae: Any, images: NormalImages) -> float:
    """Set ``vae``'s latent scaling factor to 1 / std of every training image's latents (unaugmented); return it."""
    everything = images.batch([(i, 0, 0) for i in range(len(images))]).to(next(vae.parameters()).device)
    factor = latent_scaling_factor(vae, everything)
    vae.register_to_config(scaling_factor=factor)
    return factor


def _train_vae(parts: SDComponents, images: NormalImages, cfg: PretrainConfig, out: Path, steps: int) -> None:
    """Phase 1: train the VAE, then set its latent scaling factor from the training images."""
    fixed = images.batch([(i, 0, 0) for i in range(min(8, len(images)))])
    start_near_deterministic(parts.vae)  # a resumed run then loads its checkpoint over this

    def step_fn(acc: Any, vae: Any, index: int) -> dict[str, torch.Tensor]:
        batch = _vae_batch(images, cfg, _PHASE_VAE, index).to(acc.device)
        with _vae_autocast(cfg, acc):
            return vae_losses(
                vae, batch, _generator(cfg.seed, _PHASE_VAE, index, acc.device), cfg.kl_weight, cfg.gradient_weight
            )

    def sample(vae: Any, step: int) -> None:
        write_reconstruction_strip(vae, fixed, out / "vae_train" / "samples" / f"step-{step}.png")

    vae: Any = _run_phase(
        parts.vae,
        step_fn,
        cfg=cfg,
        phase_dir=out / "vae_train",
        total=steps,
        lr=cfg.vae_learning_rate,
        keys=("total", "l1", "gradient", "kl"),
        sample=sample,
    )
    _set_latent_scale(vae, images)
    parts.vae = vae.requires_grad_(False)


def _train_decoder(parts: SDComponents, images: NormalImages, cfg: PretrainConfig, out: Path) -> None:
    """Phase 2 (optional): fine-tune the VAE decoder alone; the encoder, hence every latent, is unchanged."""
    fixed = images.batch([(i, 0, 0) for i in range(min(8, len(images)))])
    vae = parts.vae.requires_grad_(False)
    for module in (vae.decoder, vae.post_quant_conv):
        module.requires_grad_(True)

    def step_fn(acc: Any, model: Any, index: int) -> dict[str, torch.Tensor]:
        batch = _vae_batch(images, cfg, _PHASE_DECODER, index).to(acc.device)
        with _vae_autocast(cfg, acc):
            return decoder_losses(model, batch, cfg.gradient_weight, cfg.texture_weight)

    def sample(model: Any, step: int) -> None:
        write_reconstruction_strip(model, fixed, out / "vae_decoder_train" / "samples" / f"step-{step}.png")

    parts.vae = _run_phase(
        vae,
        step_fn,
        cfg=cfg,
        phase_dir=out / "vae_decoder_train",
        total=cfg.vae_decoder_steps,
        lr=cfg.vae_decoder_learning_rate,
        keys=("total", "l1", "gradient", "texture"),
        sample=sample,
    ).requires_grad_(False)


class _LatentCache:
    """Frozen-VAE posterior (mean, std) per augmented view, encoded one image at a time (exact caching)."""

    def __init__(self, vae: Any, images: NormalImages) -> None:  # Any: AutoencoderKL
        self.vae, self.images = vae, images
        self.scale = float(vae.config.scaling_factor)
        self.cache: dict[tuple[int, int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    @torch.no_grad()
    def sample(self, plan: list[tuple[int, int, int]], generator: torch.Generator) -> torch.Tensor:
        """``[B, 4, h, w]`` scaled latents of a plan, posterior sampled with ``generator``."""
        device = next(self.vae.parameters()).device
        for item in plan:
            if item not in self.cache:
                image = self.images.view(*item)[None].to(device, self.vae.dtype)
                dist = self.vae.encode(image).latent_dist
                self.cache[item] = (dist.mean.float(), dist.std.float())
        mean = torch.cat([self.cache[item][0] for item in plan])
        std = torch.cat([self.cache[item][1] for item in plan])
        return (mean + std * torch.randn(mean.shape, generator=generator, device=device)) * self.scale


def _encode(parts: SDComponents, prompt: str) -> torch.Tensor:
    """``[1, T, D]`` frozen text context of ``prompt`` (padded to the tokenizer length, no attention mask)."""
    tok = parts.tokenizer
    ids = tok(
        prompt, padding="max_length", max_length=tok.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids
    with torch.no_grad():
        return parts.text_encoder(ids)[0].float()  # type: ignore[no-any-return]


def _train_unet(
    parts: SDComponents, images: NormalImages, cfg: PretrainConfig, out: Path, prompt: str, resolution: int, lr: float
) -> None:
    """Phase 2: train the U-Net on the frozen VAE's latents with condition dropout."""
    parts.vae.requires_grad_(False).eval()
    parts.text_encoder.requires_grad_(False).eval()
    contexts = torch.cat([_encode(parts, prompt), _encode(parts, "")])  # [2, T, D]: prompt, empty
    latents = _LatentCache(parts.vae, images)

    def step_fn(acc: Any, unet: Any, index: int) -> dict[str, torch.Tensor]:
        device = acc.device
        parts.vae.to(device)
        generator = _generator(cfg.seed, _PHASE_UNET, index, device)
        z = latents.sample(images.plan(cfg.seed, _PHASE_UNET, index, cfg.batch_size), generator)
        dropped = np.random.default_rng([cfg.seed, _PHASE_UNET, 2, index]).random(cfg.batch_size) < cfg.cond_dropout
        context = contexts.to(device)[torch.from_numpy(dropped.astype(np.int64)).to(device)]  # [B, T, D]
        loss = denoising_loss(unet, parts.scheduler, z, context, generator, cfg.snr_gamma, acc.autocast)
        return {"total": loss, "mse": loss.detach()}

    def sample(unet: Any, step: int) -> None:
        write_sample_grid(
            parts, unet, prompt, out / "unet_train" / "samples" / f"step-{step}.png", resolution, cfg.seed
        )

    parts.unet = _run_phase(
        parts.unet,
        step_fn,
        cfg=cfg,
        phase_dir=out / "unet_train",
        total=cfg.unet_steps,
        lr=lr,
        keys=("total", "mse"),
        sample=sample,
        ema_decay=cfg.ema_decay,
    )


def _export(parts: SDComponents, out: Path) -> None:
    """Write the five components and ``model_index.json`` into ``out`` (each folder renamed into place whole)."""
    writers = {
        "unet": lambda d: parts.unet.save_pretrained(d, safe_serialization=True),
        "vae": lambda d: parts.vae.save_pretrained(d, safe_serialization=True),
        "text_encoder": lambda d: parts.text_encoder.save_pretrained(d, safe_serialization=True),
        "tokenizer": lambda d: parts.tokenizer.save_pretrained(d),
        "scheduler": lambda d: parts.scheduler.save_pretrained(d),
    }
    for name, write in writers.items():
        atomic_write_dir(out / name, write, name)
    # What StableDiffusionPipeline.save_pretrained writes, without importing the pipeline classes.
    index: dict[str, Any] = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": diffusers.__version__,
        "requires_safety_checker": False,
    }
    index.update({name: [None, None] for name in ("feature_extractor", "image_encoder", "safety_checker")})
    for name in _COMPONENTS:
        module = getattr(parts, name)
        library = "transformers" if name in ("text_encoder", "tokenizer") else "diffusers"
        index[name] = [library, type(module).__name__]
    atomic_write_json(out / "model_index.json", index)


def _phase_done(phase_dir: Path) -> bool:
    return (phase_dir / "complete.json").is_file()


def pretrain(data_cfg: DataConfig, model_cfg: ModelConfig, cfg: PretrainConfig) -> Path:
    """Train a product prior and return its folder (a diffusers model; see the module docstring)."""
    out = cfg.output_dir
    sources = [*data_folders(data_cfg), *(Path(p) for p in cfg.images)]
    refuse_overlaps("--output-dir", out, "the data set", sources, "choose a prior folder outside it")
    check_resume_settings(
        out,
        [data_cfg, model_cfg, cfg],
        [out / "vae_train", out / "vae_decoder_train", out / "unet_train"],
        finished_marker=out / "pretrain_complete.json",
    )
    if (out / "pretrain_complete.json").is_file():
        problem = weights_problem(out)
        if problem is None:
            logger.warning("%s already holds a finished prior; nothing to do", out)
            return out
        # Reported as damaged, never as finished: export again from the checkpoints.
        logger.warning("%s; writing the prior again from the last checkpoints", problem)
        (out / "pretrain_complete.json").unlink()
    name, paths = list_prior_images(data_cfg, cfg)
    prompt = cfg.prompt.format(product=name)
    from_scratch = model_cfg.base_model in BUILTIN_MODELS  # every part random: the VAE needs training too
    if from_scratch and not cfg.unet_steps:
        arch = model_cfg.base_model
        raise ConfigError(
            flag("unet_steps"),
            f"{arch!r} has a random U-Net: it needs training",
            "pass --unet-steps 1 or more (0 only keeps the U-Net of a trained model)",
        )
    vae_steps = cfg.vae_steps if cfg.vae_steps is not None else (VAE_STEPS_FROM_SCRATCH if from_scratch else 0)
    lr = cfg.unet_learning_rate if cfg.unet_learning_rate is not None else (3e-4 if from_scratch else 1e-5)
    images = NormalImages(paths, model_cfg.resolution, cfg.resize, cfg.augment)  # every file decoded: fails early
    for note in crop_notes(images.sizes()) if cfg.resize == "crop" else []:
        logger.info(note)
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    parts = load_base_model(model_cfg.base_model, model_cfg.model_seed, model_cfg.resolution)
    logger.info(
        "prior of %r from %d defect-free images: VAE %d steps, U-Net %d steps, prompt %r",
        name,
        len(paths),
        vae_steps,
        cfg.unet_steps,
        prompt,
    )
    write_run_record(out, [data_cfg, model_cfg, cfg], parts.identity, "pretrain")
    atomic_write_json(out / "images.json", {"product": name, "prompt": prompt, "images": [str(p) for p in paths]})
    parts.text_encoder.requires_grad_(False)
    parts.unet.requires_grad_(False)
    if vae_steps and not _phase_done(out / "vae_train"):
        parts.vae.requires_grad_(True)
        _train_vae(parts, images, cfg, out, vae_steps)
        parts.vae.save_pretrained(out / "vae_train" / "vae", safe_serialization=True)
        done = {"steps": vae_steps, "scaling_factor": parts.vae.config.scaling_factor}
        atomic_write_json(out / "vae_train" / "complete.json", done)
    elif vae_steps:
        parts.vae = type(parts.vae).from_pretrained(out / "vae_train" / "vae")
    if cfg.vae_decoder_steps and not _phase_done(out / "vae_decoder_train"):
        _train_decoder(parts, images, cfg, out)
        parts.vae.save_pretrained(out / "vae_decoder_train" / "vae", safe_serialization=True)
        atomic_write_json(out / "vae_decoder_train" / "complete.json", {"steps": cfg.vae_decoder_steps})
    elif cfg.vae_decoder_steps:
        parts.vae = type(parts.vae).from_pretrained(out / "vae_decoder_train" / "vae")
    parts.vae.requires_grad_(False)
    if cfg.unet_steps:
        parts.unet.requires_grad_(True)
        _train_unet(parts, images, cfg, out, prompt, model_cfg.resolution, lr)
    for module in (parts.unet, parts.vae, parts.text_encoder):
        module.to("cpu")
    _export(parts, out)
    record_weights(out, [p for name in ("unet", "vae", "text_encoder") for p in weight_files(out / name)])
    atomic_write_json(
        out / "pretrain_complete.json",
        {
            "vae_steps": vae_steps,
            "unet_steps": cfg.unet_steps,
            "vae_decoder_steps": cfg.vae_decoder_steps,
            "prompt": prompt,
            "images": len(paths),
        },
    )
    return out
