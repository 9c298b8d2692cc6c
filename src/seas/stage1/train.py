"""``seas train``: SeaS stage 1, the generator fine-tuning (paper 3; method spec 2.2-2.6).

Reads like the diffusers training scripts, in run order: set up, read data and split, load the
base model, add the UA tokens, install the DA capture processors, freeze, build the optimiser,
``accelerator.prepare``, resume, loop, export. Each micro-batch of ``batch_anomaly`` defect and
``batch_normal`` normal images takes one shared forward and backward (separation: different
prompts and losses per group; sharing: one U-Net and the product token).
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from seas.checkpoint import resolve_resume, save_checkpoint
from seas.config import DataConfig, ModelConfig, TrainConfig, write_run_record
from seas.data.catalog import load_product
from seas.data.inspection import inspect_product
from seas.data.split import DataSplit, make_split, read_split, write_split
from seas.errors import ConfigError, flag
from seas.files import atomic_write_dir, atomic_write_json, atomic_write_text
from seas.models.loading import SDComponents, load_base_model
from seas.stage1.attention import AttentionCapture, DACaptureProcessor, capturing, install_capture_processors
from seas.stage1.losses import denoise_target, step_losses
from seas.stage1.sampling import MicroBatchPlan, load_item, plan_micro_batch, step_generator
from seas.stage1.tokens import TokenMap, add_prompt_tokens, make_token_map, save_token_rows, token_positions

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
    latent_cache: dict[tuple[Path, int, int], tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    mask_cache: dict[tuple[Path, int, int], torch.Tensor] = field(default_factory=dict)


def _make_accelerator(cfg: TrainConfig) -> Accelerator:
    precision = cfg.mixed_precision
    if precision == "auto":
        precision = "bf16" if torch.cuda.is_available() and not cfg.cpu else "no"
    return Accelerator(
        gradient_accumulation_steps=cfg.grad_accum,
        mixed_precision=precision,
        cpu=cfg.cpu,
        project_dir=str(cfg.output_dir),
    )


def _prepare_data(data_cfg: DataConfig, run_dir: Path) -> DataSplit:
    """Read the product, check every file, and fix the split (an earlier run's split.json wins)."""
    data = load_product(data_cfg)
    existing = run_dir / "split.json"
    if data_cfg.split_file is not None:
        split = read_split(data_cfg.split_file, data)
    elif existing.is_file():
        split = read_split(existing, data)
    else:
        split = make_split(data, data_cfg.train_ratio)
    for warning in inspect_product(data, split)["warnings"]:
        logger.warning(warning)
    write_split(split, data.root, existing)
    return split


def _tokenize(tokenizer: Any, prompt: str) -> torch.Tensor:  # Any: CLIP tokenizer
    return tokenizer(prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids[0]  # fmt: skip


def _prompt_tables(
    parts: SDComponents, token_map: TokenMap
) -> tuple[dict[str | None, torch.Tensor], dict[str, torch.Tensor]]:
    """Token ids of every prompt and the token columns DA reads, located once in the tokenizer output."""
    tok = parts.tokenizer
    prompt_ids: dict[str | None, torch.Tensor] = {None: _tokenize(tok, token_map.prompt(None))}
    positions = {}
    for defect_type in token_map.defect_types:
        ids = _tokenize(tok, token_map.prompt(defect_type))
        prompt_ids[defect_type] = ids
        wanted = torch.tensor(tok.convert_tokens_to_ids(list(token_map.normal) + list(token_map.anomaly[defect_type])))
        positions[defect_type] = token_positions(ids[None], wanted[None])[0]
    return prompt_ids, positions


def _add_lora(unet: Any, rank: int) -> None:  # Any: UNet2DConditionModel
    """Freeze the U-Net and give its attention projections trainable LoRA adapters (peft, through diffusers)."""
    try:
        from peft import LoraConfig
    except ImportError as exc:
        subject = flag("lora_rank")
        raise ConfigError(subject, "needs peft", "pip install 'seas[lora]' or use --lora-rank 0") from exc
    unet.requires_grad_(False)
    targets = ["to_q", "to_k", "to_v", "to_out.0"]
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=targets))


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
    if cfg.optimizer == "adamw8bit":
        try:
            import bitsandbytes as bnb
        except ImportError as exc:
            subject = f"{flag('optimizer')} adamw8bit"
            raise ConfigError(subject, "needs bitsandbytes", "pip install 'seas[8bit]' or use adamw") from exc
        return bnb.optim.AdamW8bit(groups, **kwargs)  # type: ignore[no-any-return]
    return torch.optim.AdamW(groups, **kwargs)


def _encode_latents(s: Session, plan: MicroBatchPlan, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled VAE latents ``[B, 4, h, w]`` (posterior sampled with ``generator``) and masks ``[B_a, 1, R, R]``."""
    device, vae = s.accelerator.device, s.parts.vae
    means, stds, masks = [], [], []
    for item in plan.items:
        key = (item.image, item.turns, item.flip)
        if not s.cfg.cache_latents or key not in s.latent_cache:
            image, mask = load_item(item, s.resolution, s.cfg.resize)
            with torch.no_grad():  # one image at a time: results never depend on batch-mates
                dist = vae.encode(torch.from_numpy(image)[None].to(device, vae.dtype)).latent_dist
            s.latent_cache[key] = (dist.mean.float(), dist.std.float())
            if mask is not None:
                s.mask_cache[key] = torch.from_numpy(mask).to(device)
        mean, std = s.latent_cache[key] if s.cfg.cache_latents else s.latent_cache.pop(key)
        means.append(mean)
        stds.append(std)
        if item.mask is not None:
            masks.append(s.mask_cache[key] if s.cfg.cache_latents else s.mask_cache.pop(key))
    mean, std = torch.cat(means), torch.cat(stds)
    sample = mean + std * torch.randn(mean.shape, generator=generator, device=device)
    return sample * s.parts.scaling_factor, torch.stack(masks)


def _micro_batch_losses(s: Session, unet: Any, text_encoder: Any, plan: MicroBatchPlan, index: int,
                        capture: AttentionCapture | None) -> dict[str, torch.Tensor]:  # fmt: skip
    device = s.accelerator.device
    generator = step_generator(s.cfg.seed, index, device)
    latents, masks = _encode_latents(s, plan, generator)
    batch = latents.shape[0]
    timesteps = torch.randint(
        0, s.parts.scheduler.config.num_train_timesteps, (batch,), generator=generator, device=device
    )
    noise = torch.randn(latents.shape, generator=generator, device=device)
    noisy = s.parts.scheduler.add_noise(latents, noise, timesteps)
    keys = [item.defect_type for item in plan.items]
    unique = list(dict.fromkeys(keys))
    ids = torch.stack([s.prompt_ids[k] for k in unique]).to(device)  # each distinct prompt encoded once
    with s.accelerator.autocast():
        hidden_unique = text_encoder(ids)[0]  # [U, T, D]
        hidden = hidden_unique[torch.tensor([unique.index(k) for k in keys], device=device)]  # [B, T, D]
        model_pred = unet(noisy, timesteps, hidden).sample
    target = denoise_target(s.parts.scheduler, latents, noise, timesteps)
    maps = capture.maps if capture is not None else {}
    return step_losses(model_pred, target, plan.n_anomaly, maps, masks, len(s.token_map.normal), s.cfg.da_layers,
                       s.cfg.da_normalize, s.cfg.da_region, s.cfg.da_weight, s.cfg.na_weight)  # fmt: skip


def _export(s: Session, unet: Any, text_encoder: Any, run_dir: Path, steps: int) -> None:
    """Write the trained generator as plain files (diffusers U-Net folder, tokenizer, token rows, token map)."""
    unet = s.accelerator.unwrap_model(unet)
    text_encoder = s.accelerator.unwrap_model(text_encoder)
    if s.cfg.lora_rank:  # merge the adapters, so later stages read a plain diffusers U-Net
        unet.fuse_lora()
        unet.unload_lora()
    atomic_write_dir(run_dir / "unet", lambda d: unet.save_pretrained(d, safe_serialization=True))
    atomic_write_dir(run_dir / "tokenizer", lambda d: s.parts.tokenizer.save_pretrained(d))
    if s.cfg.embeddings == "new":
        save_token_rows(run_dir / "token_embeddings.safetensors", text_encoder, s.token_map, s.parts.tokenizer)
    else:
        atomic_write_dir(run_dir / "text_encoder", lambda d: text_encoder.save_pretrained(d, safe_serialization=True))
    atomic_write_text(run_dir / "token_map.json", s.token_map.to_json() + "\n")
    atomic_write_json(run_dir / "train_complete.json", {"steps": steps, "embeddings": s.cfg.embeddings})


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past ``step`` (written by a run that was killed after its last checkpoint)."""
    if path.is_file():
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if json.loads(line)["step"] <= step]
        atomic_write_text(path, "".join(f"{line}\n" for line in lines))


class _LossLog:
    """Sums detached losses on device; host copies happen only at log steps."""

    def __init__(self, run_dir: Path, is_main: bool) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.path = run_dir / "logs.jsonl"
        self.writer = None
        if is_main:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:  # tensorboard is optional
                self.writer = None

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        for key in LOGGED:
            value = losses[key].detach().float()
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.count += 1

    def flush(self, step: int, lrs: list[float]) -> dict[str, float]:
        means = {k: float(v.item()) / self.count for k, v in self.sums.items()}
        means["empty_regions"] *= self.count  # a count, not a mean
        record = {"step": step, **means, "lr_unet": lrs[0], "lr_tokens": lrs[1], "time": time.time()}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in means.items():
                self.writer.add_scalar(f"train/{key}", value, step)
        self.sums, self.count = {}, 0
        return means


def train(data_cfg: DataConfig, model_cfg: ModelConfig, cfg: TrainConfig) -> Path:
    """Run stage 1 and return the run folder (see the module docstring for its contents)."""
    run_dir = cfg.output_dir
    if (run_dir / "train_complete.json").is_file():
        logger.warning("%s already holds a finished stage-1 run; nothing to do", run_dir)
        return run_dir
    accelerator = _make_accelerator(cfg)
    torch.manual_seed(cfg.seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    split = _prepare_data(data_cfg, run_dir)
    parts = load_base_model(model_cfg.base_model, model_cfg.model_seed, model_cfg.resolution)
    token_map = make_token_map(sorted(split.types), cfg.normal_token, cfg.anomaly_token, cfg.normal_tokens,
                               cfg.anomaly_tokens, cfg.normal_init, cfg.anomaly_init, parts.identity)  # fmt: skip
    token_params = add_prompt_tokens(parts.tokenizer, parts.text_encoder, token_map, cfg.embeddings)
    processors = install_capture_processors(parts.unet, cfg.da_layers)
    prompt_ids, positions = _prompt_tables(parts, token_map)
    parts.vae.requires_grad_(False)
    parts.vae.to(accelerator.device)
    if accelerator.mixed_precision == "bf16":  # frozen VAE in the weight dtype (method spec 2.6)
        parts.vae.to(dtype=torch.bfloat16)
    parts.unet.train()
    if cfg.lora_rank:
        _add_lora(parts.unet, cfg.lora_rank)
    if cfg.gradient_checkpointing:
        parts.unet.enable_gradient_checkpointing()
    optimizer = _build_optimizer(parts.unet, token_params, cfg)
    unet, text_encoder, optimizer = accelerator.prepare(parts.unet, parts.text_encoder, optimizer)
    s = Session(cfg, model_cfg.resolution, accelerator, parts, token_map, processors, prompt_ids, positions)
    if accelerator.is_main_process:
        write_run_record(run_dir, [data_cfg, model_cfg, cfg], parts.identity, "train")
        atomic_write_text(run_dir / "token_map.json", token_map.to_json() + "\n")
    start = 0
    resume_from = resolve_resume(run_dir, cfg.resume)
    if resume_from is not None:
        accelerator.load_state(str(resume_from))
        start = json.loads((resume_from / "seas_state.json").read_text())["step"]
        if accelerator.is_main_process:
            _truncate_log(run_dir / "logs.jsonl", start)
        logger.info("resumed from %s at step %d", resume_from, start)
    total = cfg.total_steps(len(token_map.defect_types))
    _loop(s, unet, text_encoder, optimizer, split, run_dir, start, total)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _export(s, unet, text_encoder, run_dir, total)
    accelerator.end_training()
    return run_dir


def _loop(s: Session, unet: Any, text_encoder: Any, optimizer: Any, split: DataSplit, run_dir: Path,
          start: int, total: int) -> None:  # fmt: skip
    cfg, acc = s.cfg, s.accelerator
    anomalies = split.train_pairs
    normals = list(split.normals)
    log = _LossLog(run_dir, acc.is_main_process)
    bar = tqdm(total=total, initial=start, desc="stage 1", disable=not acc.is_main_process, dynamic_ncols=True)
    for step in range(start, total):
        for micro in range(cfg.grad_accum):
            index = (step * cfg.grad_accum + micro) * acc.num_processes + acc.process_index
            plan = plan_micro_batch(
                cfg.seed, index, anomalies, normals, cfg.batch_anomaly, cfg.batch_normal, cfg.augment
            )
            capture = None
            if cfg.da_weight > 0:
                anomaly_types = [item.defect_type for item in plan.items[: plan.n_anomaly]]
                columns = torch.stack([s.positions[t] for t in anomaly_types if t is not None]).to(acc.device)
                latent = s.resolution // 8
                capture = AttentionCapture(columns, (latent, latent), cfg.da_softmax)
            with acc.accumulate(unet, text_encoder), capturing(s.processors, capture) if capture else nullcontext():
                losses = _micro_batch_losses(s, unet, text_encoder, plan, index, capture)
                acc.backward(losses["total"])
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            log.add(losses)
        done = step + 1
        bar.update(1)
        if done % cfg.log_steps == 0 or done == total:
            means = log.flush(done, [g["lr"] for g in optimizer.param_groups]) if acc.is_main_process else {}
            bar.set_postfix({k: f"{v:.4f}" for k, v in means.items() if k in ("total", "da_32", "da_16")})
        if cfg.checkpointing_steps and done % cfg.checkpointing_steps == 0 and done < total:
            acc.wait_for_everyone()
            if acc.is_main_process:
                save_checkpoint(run_dir, done, lambda d: acc.save_state(str(d)), {"total": total},
                                cfg.checkpoints_total_limit)  # fmt: skip
    bar.close()
