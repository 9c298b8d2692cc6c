"""Training machinery shared by every stage: accelerator and optimiser set-up, loss logging, resume, divergence.

The step loop itself is :func:`seas.step_loop.run_steps`.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from seas.checkpoint import resolve_resume
from seas.errors import ConfigError, SeasError, flag
from seas.files import atomic_write_text
from seas.records import read_json

__all__ = [
    "DIVERGED_LOSS",
    "DIVERGED_WEIGHT",
    "RESUMABLE_CHANGES",
    "LossLog",
    "TrainingDiverged",
    "check_optional_packages",
    "check_resume_settings",
    "make_accelerator",
    "make_adamw",
    "resolve_precision",
    "resume_step",
    "warn_if_emulated_bf16",
    "weights_problem_of",
]

# Settings that may differ between an interrupted run and its resumption (none changes what a step computes).
RESUMABLE_CHANGES = frozenset(
    {
        "resume",
        "checkpointing_steps",
        "checkpoints_total_limit",
        "log_steps",
        "validation_steps",
        "max_steps",
        "steps_per_type",
        "rmp_steps_per_type",
        "cpu",
        "sample_steps",
        "vae_steps",
        "unet_steps",
    }
)


# Divergence: SeaS's losses (noise MSE, attention MSE, focal, VAE reconstruction) stay near or below 1
# for a healthy run; a loss above DIVERGED_LOSS, or a non-finite one, means the weights have blown up.
# Trained Stable Diffusion weights lie well within +-100, and fp16 cannot hold 65504, so a weight above
# DIVERGED_WEIGHT (or a non-finite one) means the same.
DIVERGED_LOSS = 1e4
DIVERGED_WEIGHT = 1e4
# Step-count settings may change when an interrupted run resumes, never on a finished one.
_STEP_COUNTS = frozenset({"max_steps", "steps_per_type", "rmp_steps_per_type"})


class TrainingDiverged(SeasError, FloatingPointError):
    """The loss or the weights stopped being finite (or exploded); nothing was exported."""


def weights_problem_of(modules: Sequence[torch.nn.Module]) -> str | None:
    """The first trainable parameter that is non-finite or above DIVERGED_WEIGHT, in words (None: all fine)."""
    for index, module in enumerate(modules):
        for name, param in module.named_parameters():
            if not param.requires_grad:  # frozen weights are the base model's
                continue
            values = param.detach()
            if not bool(torch.isfinite(values).all()):
                return f"parameter {name} of model {index} holds non-finite values"
            peak = float(values.abs().max()) if values.numel() else 0.0
            if peak > DIVERGED_WEIGHT:
                return f"parameter {name} of model {index} reaches {peak:.3g} (above {DIVERGED_WEIGHT:g})"
    return None


def check_optional_packages(optimizer: str, lora_rank: int = 0) -> None:
    """Fail before any weights load when an option needs a package that is not installed.

    Raises:
        ConfigError: ``adamw8bit`` without bitsandbytes, or LoRA without peft.
    """
    import importlib.util

    if optimizer == "adamw8bit" and importlib.util.find_spec("bitsandbytes") is None:
        subject = f"{flag('optimizer')} adamw8bit"
        raise ConfigError(subject, "needs bitsandbytes", "pip install 'seas[8bit]' or use adamw")
    if lora_rank and importlib.util.find_spec("peft") is None:
        raise ConfigError(flag("lora_rank"), "needs peft", "pip install 'seas[lora]' or use --lora-rank 0")


def make_adamw(groups: list[dict[str, Any]], optimizer: str, **kwargs: Any) -> torch.optim.Optimizer:  # Any: torch
    """AdamW (``adamw``) or bitsandbytes' 8-bit AdamW (``adamw8bit``) over parameter ``groups``."""
    if optimizer == "adamw8bit":
        import bitsandbytes as bnb

        return bnb.optim.AdamW8bit(groups, **kwargs)  # type: ignore[no-any-return]
    return torch.optim.AdamW(groups, **kwargs)


def resolve_precision(mixed_precision: str, on_cuda: bool) -> str:
    """``auto`` -> ``bf16`` on CUDA (the CUDA-only branch), ``no`` on CPU; other values unchanged."""
    if mixed_precision != "auto":
        return mixed_precision
    return "bf16" if on_cuda else "no"


logger = logging.getLogger(__name__)


def warn_if_emulated_bf16(precision: str, on_cuda: bool) -> None:
    """Warn when bf16 is asked for on an x86 CPU that torch reports without AVX-512.

    Such CPUs have no bf16 arithmetic, and torch emulates it: a convolution measured 140x and a
    matrix product 500x slower than in fp32 (AMD EPYC with AVX2, docs/cpu_demo.md).
    """
    if precision != "bf16" or on_cuda or platform.machine().lower() not in ("x86_64", "amd64"):
        return
    capability = torch.backends.cpu.get_cpu_capability()
    if not capability.startswith("AVX512"):
        logger.warning(
            "bf16 on this CPU (torch reports %s, no AVX-512) is emulated and can be 100x slower than fp32; "
            "pass --mixed-precision auto (fp32 on CPU) unless you measured otherwise",
            capability,
        )


def make_accelerator(mixed_precision: str, grad_accum: int, cpu: bool, project_dir: Path) -> Accelerator:
    """Accelerator with ``auto`` precision resolved: bf16 autocast on CUDA, fp32 on CPU.

    Without CUDA the accelerator is told so explicitly, which is also what lets ``torchrun`` /
    ``accelerate launch`` start data-parallel CPU processes.
    """
    cpu = cpu or not torch.cuda.is_available()
    mixed_precision = resolve_precision(mixed_precision, on_cuda=not cpu)
    warn_if_emulated_bf16(mixed_precision, on_cuda=not cpu)
    return Accelerator(
        gradient_accumulation_steps=grad_accum, mixed_precision=mixed_precision, cpu=cpu, project_dir=str(project_dir)
    )


class LossLog:
    """Sums detached losses on device; host copies happen only when :meth:`flush` writes a log line.

    Args:
        path: JSONL file, one line per flush.
        keys: Loss names to log; their mean over the flushed micro-batches is written.
        count_keys: Keys logged as sums (counts) rather than means.
        tensorboard_dir: Also write TensorBoard scalars there, when tensorboard is installed.
    """

    def __init__(
        self, path: Path, keys: Sequence[str], count_keys: Sequence[str] = (), tensorboard_dir: Path | None = None
    ) -> None:
        self.path, self.keys, self.count_keys = path, tuple(keys), set(count_keys)
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.writer = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(tensorboard_dir))
            except ImportError:  # tensorboard is optional
                self.writer = None

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        """Accumulate one micro-batch's losses (no host synchronisation)."""
        for key in self.keys:
            value = losses[key].detach().float()
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.count += 1

    def flush(self, step: int, lrs: list[float]) -> dict[str, float]:
        """Write the means since the last flush as one JSON line; returns them."""
        values = {k: float(v.item()) / (1 if k in self.count_keys else self.count) for k, v in self.sums.items()}
        record = {"step": step, **values, "lr": lrs, "time": time.time()}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"train/{key}", value, step)
        self.sums, self.count = {}, 0
        return values

    def truncate(self, step: int) -> None:
        """Drop lines past ``step`` (written by a run killed after its last checkpoint) and any cut-off line."""
        if self.path.is_file():
            kept = []
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    if json.loads(line)["step"] <= step:
                        kept.append(line)
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut off by a kill mid-write
            atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))


def check_resume_settings(
    run_dir: Path, configs: list[Any], checkpoint_dirs: Sequence[Path] = (), finished_marker: Path | None = None
) -> None:
    """Refuse to continue a run folder whose recorded settings differ from ``configs`` (beyond RESUMABLE_CHANGES).

    Checked whenever the folder holds a settings record, whether it has checkpoints, a finished
    export, or nothing yet (a run killed before its first checkpoint already wrote its split and
    record). The folder's own path is not compared (a moved or respelled folder is the same run);
    other paths compare resolved.

    Args:
        run_dir: Folder holding ``config.json`` (and, by default, the checkpoints).
        configs: The new run's config dataclasses.
        checkpoint_dirs: Other folders whose checkpoints also belong to this run (``seas pretrain`` phases).
        finished_marker: The file whose presence means the run finished (only changes the message).

    Raises:
        ConfigError: Names the differing settings.
    """
    import dataclasses

    from seas.config import config_to_dict

    record_path = run_dir / "config.json"
    if not record_path.is_file():
        return
    fix = f"delete {record_path} if the folder holds no finished stage (or start a new run folder), then rerun"
    recorded = read_json(record_path, fix, lambda r: dict(r.get("config", {})))
    finished = finished_marker is not None and finished_marker.is_file()
    resumable = RESUMABLE_CHANGES - _STEP_COUNTS if finished else RESUMABLE_CHANGES
    changed = []
    for cfg in configs:
        old = recorded.get(type(cfg).__name__, {})
        paths = {f.name for f in dataclasses.fields(cfg) if "Path" in str(f.type)}
        for key, value in config_to_dict(cfg).items():
            if key not in old or key in resumable or key in _FOLDER_ITSELF or old[key] == value:
                continue
            if key in paths and _same_path(old[key], value):
                continue
            changed.append(f"{flag(key)} {old[key]!r} -> {value!r}")
    if changed:
        has_progress = any(
            resolve_resume(d, "latest") is not None or (d / "complete.json").is_file()
            for d in [run_dir, *checkpoint_dirs]
        )
        what = "has checkpoints made with" if has_progress else "was started with"
        if finished_marker is not None and finished_marker.is_file():
            what = "holds a finished run made with"
        raise ConfigError(
            run_dir,
            f"{what} other settings ({'; '.join(changed)})",
            "rerun with the same settings to continue it, or start a new run folder",
        )


# A run folder's own location (moved, or spelled relative vs absolute) does not change the run.
_FOLDER_ITSELF = frozenset({"run_dir", "output_dir"})


def _same_path(old: object, new: object) -> bool:
    if not isinstance(old, str) or not isinstance(new, str):
        return False
    return Path(old).expanduser().resolve() == Path(new).expanduser().resolve()


def resume_step(accelerator: Accelerator, run_dir: Path, resume: str | None, log: LossLog) -> int:
    """Load the checkpoint named by ``resume`` (``latest``: the newest, if any); returns its step (0 if none)."""
    folder = resolve_resume(run_dir, resume)
    step = 0
    if folder is not None:
        accelerator.load_state(str(folder))
        state = folder / "seas_state.json"
        fix = f"delete {folder} (training resumes from the checkpoint before it) and rerun"
        step = read_json(state, fix, lambda r: int(r["step"]))
    if accelerator.is_main_process:
        log.truncate(step)  # also at 0: a run killed before its first checkpoint logged steps it will redo
    return step
