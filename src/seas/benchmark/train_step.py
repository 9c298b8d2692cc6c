"""``seas benchmark train``: one SeaS stage-1 optimiser step versus a stock diffusers step.

Time and peak memory of both are measured in the same process, on the same U-Net. Both steps see
the same shapes: ``batch_anomaly + batch_normal`` latents per micro-batch,
``grad_accum`` micro-batches per optimiser step, AdamW over the whole U-Net, the same precision.
The stock step encodes its prompts without gradient and computes only the MSE; the SeaS step adds
what the method needs: gradients through the text encoder into the new token rows, DA map capture
on 4 layers, the DA and NA losses. Data loading and the (cached) VAE are outside both timings.
"""

from __future__ import annotations

import gc
import json
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from seas.benchmark.timing import time_interleaved
from seas.config import BenchmarkConfig, config_to_dict, package_versions
from seas.files import atomic_write_text
from seas.models.loading import load_base_model
from seas.models.lora import add_lora
from seas.stage1.attention import AttentionCapture, capturing, install_capture_processors
from seas.stage1.losses import LossSettings, step_losses
from seas.stage1.prompts import tokenize
from seas.stage1.tokens import add_prompt_tokens, make_token_map, token_positions

__all__ = ["BenchmarkSettings", "run_train_benchmark"]


@dataclass(frozen=True)
class BenchmarkSettings:
    """Resolved settings of one benchmark run (from :class:`~seas.config.BenchmarkConfig` and the model config)."""

    base_model: str
    resolution: int
    config: BenchmarkConfig
    seed: int = 0

    def __getattr__(self, name: str) -> Any:  # Any: a BenchmarkConfig field
        return getattr(self.config, name)


def _device_and_dtype(settings: BenchmarkSettings) -> tuple[torch.device, torch.dtype | None]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = settings.mixed_precision
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" else "no"
    return device, {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


def _optimizer(groups: list[dict[str, Any]], kind: str) -> torch.optim.Optimizer:  # Any: param-group values
    if kind == "adamw8bit":
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(groups, weight_decay=0.01)  # type: ignore[no-any-return]
    return torch.optim.AdamW(groups, weight_decay=0.01)


def _inputs(settings: BenchmarkSettings, device: torch.device) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(settings.seed)
    b, latent = settings.batch_anomaly + settings.batch_normal, settings.resolution // 8
    masks = torch.zeros(settings.batch_anomaly, 1, settings.resolution, settings.resolution)
    masks[
        :, :, settings.resolution // 4 : settings.resolution // 2, settings.resolution // 3 : settings.resolution // 2
    ] = 1
    return {
        "latents": torch.randn(b, 4, latent, latent, generator=g).to(device),
        "noise": torch.randn(b, 4, latent, latent, generator=g).to(device),
        "timesteps": torch.randint(0, 1000, (b,), generator=g).to(device),
        "masks": masks.to(device),
    }


def _stock_step(settings: BenchmarkSettings, device: torch.device, dtype: torch.dtype | None) -> Callable[[], None]:
    parts = load_base_model(settings.base_model, settings.seed, settings.resolution)
    unet, te, tok, sched = (
        parts.unet.to(device).train(),
        parts.text_encoder.to(device),
        parts.tokenizer,
        parts.scheduler,
    )
    if settings.lora_rank:
        add_lora(unet, settings.lora_rank)
    if settings.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    te.requires_grad_(False)
    rows = settings.batch_anomaly + settings.batch_normal
    ids = torch.stack([tokenize(tok, "a photo of an object with a defect")] * rows).to(device)
    x = _inputs(settings, device)
    noisy = sched.add_noise(x["latents"], x["noise"], x["timesteps"].cpu()).to(device)
    opt = _optimizer([{"params": [p for p in unet.parameters() if p.requires_grad], "lr": 4e-6}], settings.optimizer)

    def step() -> None:
        for _ in range(settings.grad_accum):
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                with torch.no_grad():
                    hidden = te(ids)[0]
                pred = unet(noisy, x["timesteps"], hidden).sample
            (F.mse_loss(pred.float(), x["noise"].float()) / settings.grad_accum).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def _seas_step(settings: BenchmarkSettings, device: torch.device, dtype: torch.dtype | None) -> Callable[[], None]:
    parts = load_base_model(settings.base_model, settings.seed, settings.resolution)
    tok, te, sched = parts.tokenizer, parts.text_encoder, parts.scheduler
    token_map = make_token_map(["crack", "scratch"])
    token_params = add_prompt_tokens(tok, te, token_map, "new")
    unet = parts.unet
    processors = install_capture_processors(unet, "down")
    unet.to(device).train()
    te.to(device)
    if settings.lora_rank:
        add_lora(unet, settings.lora_rank)
    if settings.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    types = ["crack", "scratch"][: settings.batch_anomaly] * settings.batch_anomaly
    types = types[: settings.batch_anomaly]
    prompts = [token_map.prompt(t) for t in types] + [token_map.prompt(None)]
    ids = torch.stack([tokenize(tok, p) for p in prompts]).to(device)
    row_of = [*range(len(types)), *([len(types)] * settings.batch_normal)]
    wanted = torch.tensor(
        [tok.convert_tokens_to_ids(list(token_map.normal) + list(token_map.anomaly[t])) for t in types]
    )
    columns = token_positions(ids[: len(types)].cpu(), wanted).to(device)
    x = _inputs(settings, device)
    noisy = sched.add_noise(x["latents"], x["noise"], x["timesteps"].cpu()).to(device)
    index = torch.tensor(row_of, device=device)
    groups = [
        {"params": [p for p in unet.parameters() if p.requires_grad], "lr": 4e-6},
        {"params": token_params, "lr": 4e-5},
    ]
    opt = _optimizer(groups, settings.optimizer)
    latent = settings.resolution // 8

    def step() -> None:
        for _ in range(settings.grad_accum):
            capture = AttentionCapture(columns, (latent, latent))
            with capturing(processors, capture):
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    hidden = te(ids)[0][index]  # distinct prompts encoded once, then gathered per row
                    pred = unet(noisy, x["timesteps"], hidden).sample
                losses = step_losses(
                    pred, x["noise"], settings.batch_anomaly, capture.maps, x["masks"], LossSettings()
                )
                (losses["total"] / settings.grad_accum).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return step


def run_train_benchmark(settings: BenchmarkSettings) -> dict[str, Any]:  # Any: JSON values
    """Build both steps, time them interleaved, and return both with their ratio and the environment."""
    torch.manual_seed(settings.seed)
    device, dtype = _device_and_dtype(settings)
    results: dict[str, Any] = {
        "base_model": settings.base_model,
        "resolution": settings.resolution,
        "settings": config_to_dict(settings.config),
        "device": device.type,
        "dtype": str(dtype or torch.float32),
    }
    timed = time_interleaved(
        {
            "stock_step": lambda: _stock_step(settings, device, dtype),
            "seas_step": lambda: _seas_step(settings, device, dtype),
        },
        settings.warmup,
        settings.steps,
        device,
    )
    results.update(timed["variants"])
    ratio = timed["ratio"]["seas_step"]
    results["seas_over_stock"] = ratio["median"]
    results["seas_over_stock_spread"] = ratio
    results["hardware"] = (
        torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or platform.machine()
    )
    results["threads"] = torch.get_num_threads()
    results["versions"] = package_versions()
    gc.collect()
    return results


def write_result(results: dict[str, Any], path: Path) -> None:  # Any: JSON values
    """Append one JSON line to ``path`` (the whole file rewritten atomically)."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    atomic_write_text(path, old + json.dumps(results, sort_keys=True) + "\n")
