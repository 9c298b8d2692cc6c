"""``seas train-mask``: SeaS stage 2, training the RMP head on the frozen generator (docs/method.md §2.8).

Same data, split, sampling and augmentation as stage 1. Per micro-batch: noise the latents at a
random timestep, run the fine-tuned U-Net with the trained prompts (keeping ``U32``/``U64``), take
one seeded DDPM step for the anomaly rows and decode it for the VAE features, then the RMP training
forward and the focal loss at full and 64-level resolution. Writes ``<run>/rmp/`` (weights and
config); checkpoints and logs go to ``<run>/stage2/``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from seas.config import MaskTrainConfig, write_run_record
from seas.data.catalog import ProductData
from seas.files import atomic_write_dir, atomic_write_json, check_replaceable
from seas.integrity import record_weights, weights_problem
from seas.run_folder import RunFolder, read_run
from seas.stage1.artifacts import load_generator
from seas.stage1.prompts import encode_prompts, prompt_tables
from seas.stage1.sampling import LatentEncoder, plan_micro_batch, step_generator
from seas.stage2.artifacts import TRAINING_BN_STATISTICS
from seas.stage2.features import rmp_channels, unet_features, vae_decoder_features
from seas.stage2.rmp import RMPHead, focal_loss, focal_targets, recalibrate_batchnorm
from seas.step_loop import StepPlan, run_steps
from seas.training import (
    LossLog,
    check_optional_packages,
    check_resume_settings,
    make_accelerator,
    make_adamw,
    resume_step,
)

__all__ = ["ddpm_previous", "train_mask"]

logger = logging.getLogger(__name__)


def ddpm_previous(
    scheduler: Any,
    model_pred: torch.Tensor,
    timesteps: torch.Tensor,
    latents: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """One DDPM ancestral step ``x_t -> x_{t-1}`` per row (posterior mean + fixed-small variance noise if t > 0)."""
    rows = []
    for i, t in enumerate(timesteps.tolist()):  # the scheduler indexes its tables with a Python int
        rows.append(scheduler.step(model_pred[i : i + 1], t, latents[i : i + 1], generator=generator).prev_sample)
    return torch.cat(rows)


def train_mask(cfg: MaskTrainConfig, data: ProductData | None = None) -> Path:
    """Train the RMP head of a finished stage-1 run; returns the ``rmp`` folder."""
    run_dir = cfg.run_dir
    folder = RunFolder(run_dir)
    out_dir, work_dir = folder.rmp, folder.stage2
    check_resume_settings(work_dir, [cfg], finished_marker=folder.rmp_weights)
    if folder.rmp_weights.is_file():
        problem = weights_problem(out_dir)
        if problem is None:
            logger.warning("%s already holds trained RMP weights; nothing to do", out_dir)
            return out_dir
        logger.warning("%s; writing the RMP weights again from the last checkpoint", problem)
    check_optional_packages(cfg.optimizer)
    check_replaceable(out_dir, "rmp")  # before training, not after it
    run = read_run(run_dir, data)  # ``data``: the product's listing when the caller already made it
    model_cfg, train_cfg, split = run.model_cfg, run.train_cfg, run.split
    accelerator = make_accelerator(cfg.mixed_precision, cfg.grad_accum, cfg.cpu, work_dir)
    device = accelerator.device
    parts, token_map = load_generator(run_dir)
    frozen_dtype = torch.bfloat16 if accelerator.mixed_precision == "bf16" else torch.float32
    for module in (parts.unet, parts.vae, parts.text_encoder):
        module.requires_grad_(False)
        module.to(device)
        if frozen_dtype != torch.float32:  # frozen modules in the weight dtype (docs/method.md §2.8)
            module.to(dtype=frozen_dtype)
    unet_ch, vae_ch = rmp_channels(parts.unet, parts.vae)
    torch.manual_seed(cfg.seed)  # the head's initial weights come from --seed: two runs give the same head
    # channels-last: the head's full-resolution convolutions train 1.5-4x faster on CPU (measured), same values
    rmp = RMPHead(unet_ch, vae_ch).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    rmp.train()
    optimizer = make_adamw(
        [{"params": list(rmp.parameters())}], cfg.optimizer, lr=cfg.rmp_learning_rate, weight_decay=cfg.weight_decay
    )
    rmp, optimizer = accelerator.prepare(rmp, optimizer)
    prompt_ids, _ = prompt_tables(parts, token_map)
    encoder = LatentEncoder(parts.vae, model_cfg.resolution, train_cfg.resize, train_cfg.cache_latents, device)
    work_dir.mkdir(parents=True, exist_ok=True)
    if accelerator.is_main_process:
        write_run_record(work_dir, [cfg], parts.identity, "train-mask")
    log = LossLog(work_dir / "logs.jsonl", ("total", "focal_512", "focal_64"))
    start = resume_step(accelerator, work_dir, cfg.resume, log)
    total = cfg.total_steps(len(token_map.defect_types))

    def micro_step(index: int) -> dict[str, torch.Tensor]:
        plan = plan_micro_batch(
            cfg.seed,
            index,
            split.train_pairs,
            list(split.normals),
            cfg.rmp_batch_anomaly,
            cfg.rmp_batch_normal,
            train_cfg.augment,
        )
        generator = step_generator(cfg.seed, index, device)
        latents, masks = encoder.encode(plan, generator)
        timesteps = torch.randint(
            0, parts.scheduler.config.num_train_timesteps, (latents.shape[0],), generator=generator, device=device
        )
        noisy = parts.scheduler.add_noise(
            latents, torch.randn(latents.shape, generator=generator, device=device), timesteps
        )
        n_a = plan.n_anomaly
        with torch.no_grad(), accelerator.autocast(), unet_features(parts.unet) as u:
            hidden = encode_prompts(parts.text_encoder, prompt_ids, [it.defect_type for it in plan.items], device)
            pred = parts.unet(noisy.to(frozen_dtype), timesteps, hidden.to(frozen_dtype)).sample
            previous = ddpm_previous(parts.scheduler, pred[:n_a].float(), timesteps[:n_a], noisy[:n_a], generator)
            vae_feats = vae_decoder_features(parts.vae, previous / parts.scaling_factor)
        with accelerator.autocast():
            p512, p64 = rmp.forward_train(u[0].float(), u[1].float(), [v.float() for v in vae_feats], n_a)  # type: ignore[operator]
        full = torch.cat([masks, masks.new_zeros((latents.shape[0] - n_a, *masks.shape[1:]))])  # [B, 1, R, R]
        coarse = F.interpolate(full, size=p64.shape[-2:], mode="bilinear", align_corners=False)
        losses = {
            "focal_512": focal_loss(p512, focal_targets(full[:, 0], cfg.focal_target)),
            "focal_64": focal_loss(p64, focal_targets(coarse[:, 0], cfg.focal_target)),
        }
        losses["total"] = losses["focal_512"] + losses["focal_64"]
        accelerator.backward(losses["total"])
        return losses

    @torch.no_grad()
    def calibration_batch(index: int) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Inference-path head inputs of calibration batch ``index``.

        Training defect images only, with their prompts, at t <= bn_calibration_max_t, and the VAE
        features of x_t: what generation and the held-out evaluation feed the head.
        """
        plan = plan_micro_batch(
            cfg.seed,
            index,
            split.train_pairs,
            list(split.normals),
            cfg.rmp_batch_anomaly + cfg.rmp_batch_normal,
            0,
            train_cfg.augment,
        )
        generator = step_generator(cfg.seed, index, device)
        latents, _ = encoder.encode(plan, generator)
        timesteps = torch.randint(
            0, cfg.bn_calibration_max_t + 1, (latents.shape[0],), generator=generator, device=device
        )
        noisy = parts.scheduler.add_noise(
            latents, torch.randn(latents.shape, generator=generator, device=device), timesteps
        )
        with unet_features(parts.unet) as u:
            hidden = encode_prompts(parts.text_encoder, prompt_ids, [it.defect_type for it in plan.items], device)
            parts.unet(noisy.to(frozen_dtype), timesteps, hidden.to(frozen_dtype))
            vae_feats = vae_decoder_features(parts.vae, noisy.to(frozen_dtype) / parts.scaling_factor)
        return u[0].float(), u[1].float(), [v.float() for v in vae_feats]

    run_steps(accelerator, [rmp], optimizer, micro_step, StepPlan.of(cfg, work_dir, start, total, "stage 2"), log)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        head = accelerator.unwrap_model(rmp)
        # the statistics as training left them (the reference behaviour), kept for comparison
        training_stats = {
            k: v.detach().cpu().clone()
            for k, v in head.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))
        }
        if cfg.bn_calibration_batches:
            first = total * cfg.grad_accum * accelerator.num_processes  # the micro-batches after training's
            with accelerator.autocast():
                recalibrate_batchnorm(head, (calibration_batch(first + i) for i in range(cfg.bn_calibration_batches)))

        def write(folder: Path) -> None:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()},
                str(folder / "model.safetensors"),
            )
            if cfg.bn_calibration_batches:
                save_file(training_stats, str(folder / TRAINING_BN_STATISTICS))
            atomic_write_json(
                folder / "config.json",
                {
                    "unet_channels": list(unet_ch),
                    "vae_channels": list(vae_ch),
                    "steps": total,
                    "focal_target": cfg.focal_target,
                    "bn_calibration_batches": cfg.bn_calibration_batches,
                    "bn_calibration_max_t": cfg.bn_calibration_max_t,
                },
            )
            record_weights(folder)  # last: lists model.safetensors with its sha256

        atomic_write_dir(out_dir, write, "rmp")
    accelerator.end_training()
    return out_dir
