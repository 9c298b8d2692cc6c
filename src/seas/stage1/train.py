"""``seas train``: SeaS stage 1, the generator fine-tuning (paper 3; docs/method.md §2.2-2.6).

Reads like the diffusers training scripts, in run order: set up, read data and split, load the
base model, add the UA tokens, install the DA capture processors, freeze, build the optimiser,
``accelerator.prepare``, resume, loop, export. Each micro-batch of ``batch_anomaly`` defect and
``batch_normal`` normal images takes one shared forward and backward (separation: different
prompts and losses per group; sharing: one U-Net and the product token).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from seas.config import DataConfig, ModelConfig, TrainConfig, write_run_record
from seas.data.catalog import ProductData, data_folders, load_product
from seas.data.inspection import inspect_product
from seas.data.split import DataSplit, make_split, read_split, write_split
from seas.files import atomic_write_dir, atomic_write_json, atomic_write_text, check_replaceable
from seas.integrity import record_weights
from seas.models.loading import SDComponents, load_base_model
from seas.models.lora import add_lora
from seas.ownership import refuse_overlaps
from seas.run_folder import RunFolder, generator_problem, generator_weight_files
from seas.stage1.attention import AttentionCapture, DACaptureProcessor, capturing, install_capture_processors
from seas.stage1.losses import LossSettings, denoise_target, step_losses
from seas.stage1.prompts import encode_prompts, prompt_tables
from seas.stage1.sampling import LatentEncoder, MicroBatchPlan, plan_micro_batch, step_generator
from seas.stage1.tokens import TokenMap, add_prompt_tokens, make_token_map, save_token_rows
from seas.step_loop import StepPlan, run_steps
from seas.training import (
    LossLog,
    check_optional_packages,
    check_resume_settings,
    make_accelerator,
    make_adamw,
    resume_step,
)

__all__ = ["train"]

logger = logging.getLogger(__name__)
LOGGED = ("total", "anomaly_mse", "na", "da_32", "da_16", "empty_regions")


@dataclass
class Session:
    """Live objects of one training run (built once in :func:`train`)."""

    cfg: TrainConfig
    resolution: int
    accelerator: Accelerator
    parts: SDComponents
    token_map: TokenMap
    processors: list[DACaptureProcessor]
    prompt_ids: dict[str | None, torch.Tensor]  # defect type (None: normal) -> [T] token ids
    positions: dict[str, torch.Tensor]  # defect type -> [m] columns of its product + defect tokens
    encoder: LatentEncoder

    @property
    def losses(self) -> LossSettings:
        """The loss settings of :attr:`cfg`."""
        return LossSettings.of(self.cfg, len(self.token_map.normal))


def _prepare_data(data_cfg: DataConfig, run_dir: Path, data: ProductData | None) -> DataSplit:
    """Read the product (unless listed already), check every file, and fix the split (an earlier split.json wins)."""
    data = data if data is not None else load_product(data_cfg)
    existing = RunFolder(run_dir).split
    if data_cfg.split_file is not None:
        split = read_split(data_cfg.split_file, data)
    elif existing.is_file():
        split = read_split(existing, data)
    else:
        split = make_split(data, data_cfg.train_ratio)
    report = inspect_product(data, split)
    for warning in report["warnings"]:
        logger.warning(warning)
    for note in report["notes"]:
        logger.info(note)
    write_split(split, data.root, existing)
    return split


def _build_optimizer(
    unet: torch.nn.Module, token_params: list[torch.nn.Parameter], cfg: TrainConfig
) -> torch.optim.Optimizer:
    groups = [
        {"params": [p for p in unet.parameters() if p.requires_grad], "lr": cfg.learning_rate},
        {"params": token_params, "lr": cfg.token_learning_rate},
    ]
    kwargs: dict[str, Any] = {
        "betas": (cfg.adam_beta1, cfg.adam_beta2),
        "eps": cfg.adam_epsilon,
        "weight_decay": cfg.weight_decay,
    }
    return make_adamw(groups, cfg.optimizer, **kwargs)


def _micro_step(s: Session, unet: Any, text_encoder: Any, split: DataSplit, index: int) -> dict[str, torch.Tensor]:
    """Forward and backward of global micro-batch ``index``; returns its losses."""
    cfg, acc, device = s.cfg, s.accelerator, s.accelerator.device
    plan = plan_micro_batch(
        cfg.seed, index, split.train_pairs, list(split.normals), cfg.batch_anomaly, cfg.batch_normal, cfg.augment
    )
    capture = None
    if cfg.da_weight > 0:
        columns = torch.stack([s.positions[str(item.defect_type)] for item in plan.items[: plan.n_anomaly]])
        latent = s.resolution // 8
        capture = AttentionCapture(columns.to(device), (latent, latent))
    # The capture context spans forward and backward (recomputation under gradient checkpointing).
    with capturing(s.processors, capture) if capture is not None else nullcontext():
        losses = _losses(s, unet, text_encoder, plan, index, capture)
        acc.backward(losses["total"])
    return losses


def _losses(
    s: Session, unet: Any, text_encoder: Any, plan: MicroBatchPlan, index: int, capture: AttentionCapture | None
) -> dict[str, torch.Tensor]:
    device = s.accelerator.device
    generator = step_generator(s.cfg.seed, index, device)
    latents, masks = s.encoder.encode(plan, generator)
    batch = latents.shape[0]
    timesteps = torch.randint(
        0, s.parts.scheduler.config.num_train_timesteps, (batch,), generator=generator, device=device
    )
    noise = torch.randn(latents.shape, generator=generator, device=device)
    noisy = s.parts.scheduler.add_noise(latents, noise, timesteps)
    with s.accelerator.autocast():
        hidden = encode_prompts(text_encoder, s.prompt_ids, [item.defect_type for item in plan.items], device)
        model_pred = unet(noisy, timesteps, hidden).sample
    target = denoise_target(s.parts.scheduler, latents, noise, timesteps)
    maps = capture.maps if capture is not None else {}
    return step_losses(model_pred, target, plan.n_anomaly, maps, masks, s.losses)


def _export(s: Session, unet: Any, text_encoder: Any, run_dir: Path, steps: int) -> None:
    """Write the trained generator as plain files (diffusers U-Net folder, tokenizer, token rows, token map)."""
    unet = s.accelerator.unwrap_model(unet)
    text_encoder = s.accelerator.unwrap_model(text_encoder)
    if s.cfg.lora_rank:  # merge the adapters, so later stages read a plain diffusers U-Net
        unet.fuse_lora()
        unet.unload_lora()
    run = RunFolder(run_dir)
    atomic_write_dir(run.unet, lambda d: unet.save_pretrained(d, safe_serialization=True), "unet")
    atomic_write_dir(run.tokenizer, lambda d: s.parts.tokenizer.save_pretrained(d), "tokenizer")
    if s.cfg.embeddings == "new":
        save_token_rows(run.token_rows, text_encoder, s.token_map, s.parts.tokenizer)
    else:
        atomic_write_dir(
            run.text_encoder, lambda d: text_encoder.save_pretrained(d, safe_serialization=True), "text_encoder"
        )
    atomic_write_text(run.token_map, s.token_map.to_json() + "\n")
    record_weights(run_dir, generator_weight_files(run_dir))  # after every weights file, before the marker
    atomic_write_json(run.finished, {"steps": steps, "embeddings": s.cfg.embeddings})


def train(data_cfg: DataConfig, model_cfg: ModelConfig, cfg: TrainConfig, data: ProductData | None = None) -> Path:
    """Run stage 1 and return the run folder (see the module docstring for its contents)."""
    run_dir, run = cfg.run_dir, RunFolder(cfg.run_dir)
    refuse_overlaps("--run-dir", run_dir, "the data set", data_folders(data_cfg), "choose a run folder outside it")
    check_resume_settings(run_dir, [data_cfg, model_cfg, cfg], finished_marker=run.finished)
    if run.finished.is_file():
        problem = generator_problem(run_dir)
        if problem is None:
            logger.warning("%s already holds a finished stage-1 run; nothing to do", run_dir)
            return run_dir
        logger.warning("%s; training again from the last checkpoint to write it", problem)
        run.finished.unlink()
    check_optional_packages(cfg.optimizer, cfg.lora_rank)
    for folder, kind in ((run.unet, "unet"), (run.tokenizer, "tokenizer"), (run.text_encoder, "text_encoder")):
        check_replaceable(folder, kind)  # before training, not after it
    accelerator = make_accelerator(cfg.mixed_precision, cfg.grad_accum, cfg.cpu, run_dir)
    torch.manual_seed(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    split = _prepare_data(data_cfg, run_dir, data)
    parts = load_base_model(model_cfg.base_model, model_cfg.model_seed, model_cfg.resolution)
    token_map = make_token_map(
        sorted(split.types),
        cfg.normal_token,
        cfg.anomaly_token,
        cfg.normal_tokens,
        cfg.anomaly_tokens,
        cfg.normal_init,
        cfg.anomaly_init,
        parts.identity,
    )
    token_params = add_prompt_tokens(parts.tokenizer, parts.text_encoder, token_map, cfg.embeddings)
    processors = install_capture_processors(parts.unet, cfg.da_layers)
    prompt_ids, positions = prompt_tables(parts, token_map)
    parts.vae.requires_grad_(False)
    parts.vae.to(accelerator.device)
    if accelerator.mixed_precision == "bf16":  # frozen VAE in the weight dtype (docs/method.md §2.6)
        parts.vae.to(dtype=torch.bfloat16)
    parts.unet.train()
    if cfg.lora_rank:
        add_lora(parts.unet, cfg.lora_rank)
    if cfg.gradient_checkpointing:
        parts.unet.enable_gradient_checkpointing()
    optimizer = _build_optimizer(parts.unet, token_params, cfg)
    unet, text_encoder, optimizer = accelerator.prepare(parts.unet, parts.text_encoder, optimizer)
    encoder = LatentEncoder(parts.vae, model_cfg.resolution, cfg.resize, cfg.cache_latents, accelerator.device)
    s = Session(cfg, model_cfg.resolution, accelerator, parts, token_map, processors, prompt_ids, positions, encoder)
    if accelerator.is_main_process:
        write_run_record(run_dir, [data_cfg, model_cfg, cfg], parts.identity, "train")
        atomic_write_text(run.token_map, token_map.to_json() + "\n")
    log = LossLog(run.logs, LOGGED, ("empty_regions",), run.tensorboard if accelerator.is_main_process else None)
    start = resume_step(accelerator, run_dir, cfg.resume, log)
    total = cfg.total_steps(len(token_map.defect_types))

    def validate(step: int) -> None:
        from seas.stage1.validation import write_validation_grid

        write_validation_grid(
            parts,
            accelerator.unwrap_model(unet),
            accelerator.unwrap_model(text_encoder),
            token_map,
            run_dir=run_dir,
            step=step,
            resolution=model_cfg.resolution,
            seed=cfg.seed,
        )

    plan = StepPlan.of(cfg, run_dir, start, total, "stage 1", shown=("total", "da_32", "da_16"))
    step = partial(_micro_step, s, unet, text_encoder, split)
    run_steps(accelerator, [unet, text_encoder], optimizer, step, plan, log, every=(cfg.validation_steps, validate))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _export(s, unet, text_encoder, run_dir, total)
    accelerator.end_training()
    return run_dir
