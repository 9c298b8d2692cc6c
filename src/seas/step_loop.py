"""The step loop every training stage shares: accumulation, optimiser steps, logs, checkpoints, divergence.

A stage supplies one function that runs the forward and backward of micro-batch number ``index``
and returns its losses; :func:`run_steps` does accumulation, optimiser steps, logging at
intervals (the only host synchronisation), atomic checkpoints and progress lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from seas.checkpoint import list_checkpoints, save_checkpoint
from seas.progress import Progress
from seas.training import DIVERGED_LOSS, LossLog, TrainingDiverged, weights_problem_of

__all__ = ["StepPlan", "run_steps"]


@dataclass(frozen=True)
class StepPlan:
    """Which optimiser steps a stage runs and when it logs and checkpoints them.

    Attributes:
        run_dir: Where checkpoints go.
        start: Completed steps (from :func:`seas.training.resume_step`); steps ``start+1 .. total`` run.
        total: Steps of the whole run.
        desc: Progress and error label (``stage 1``).
        grad_accum: Micro-batches per optimiser step.
        log_steps: Flush the loss log every N steps.
        checkpointing_steps: Checkpoint every N steps (0 = never).
        checkpoints_total_limit: Keep at most this many checkpoints.
        shown: Loss names shown with the progress.
    """

    run_dir: Path
    start: int
    total: int
    desc: str
    grad_accum: int = 1
    log_steps: int = 10
    checkpointing_steps: int = 0
    checkpoints_total_limit: int | None = None
    shown: Sequence[str] = ("total",)

    @classmethod
    def of(cls, cfg: Any, run_dir: Path, start: int, total: int, desc: str, **extra: Any) -> StepPlan:  # Any: config
        """The plan a stage config describes (its ``grad_accum`` when it has one, its log and checkpoint steps)."""
        return cls(
            run_dir=run_dir,
            start=start,
            total=total,
            desc=desc,
            grad_accum=getattr(cfg, "grad_accum", 1),
            log_steps=cfg.log_steps,
            checkpointing_steps=cfg.checkpointing_steps,
            checkpoints_total_limit=cfg.checkpoints_total_limit,
            **extra,
        )


def run_steps(
    accelerator: Accelerator,
    models: Sequence[torch.nn.Module],
    optimizer: torch.optim.Optimizer,
    micro_step: Callable[[int], dict[str, torch.Tensor]],
    plan: StepPlan,
    log: LossLog,
    every: tuple[int, Callable[[int], object]] | None = None,
    on_step: Callable[[int], object] | None = None,
) -> None:
    """Run the optimiser steps of ``plan``.

    Args:
        accelerator: The prepared accelerator.
        models: Prepared trainable models (for gradient accumulation / DDP sync).
        optimizer: Prepared optimiser.
        micro_step: Runs forward and ``accelerator.backward`` for global micro-batch ``index``; returns losses.
        plan: Steps, logging and checkpoints.
        log: Loss log (main process writes).
        every: Optional (N, callback): the main process calls ``callback(step)`` every N steps (validation).
        on_step: Optional callback every process runs after each optimiser step (an EMA update).
    """
    acc = accelerator
    run_dir, start, total, desc, grad_accum = plan.run_dir, plan.start, plan.total, plan.desc, plan.grad_accum
    bar = Progress(total, desc, initial=start, enabled=acc.is_main_process)
    # The first step whose loss diverged, and that loss, kept on the device: read only at log and checkpoint time.
    watch = _DivergenceWatch(acc.device)
    try:
        for step in range(start, total):
            for micro in range(grad_accum):
                index = (step * grad_accum + micro) * acc.num_processes + acc.process_index
                with acc.accumulate(*models):
                    losses = micro_step(index)
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                log.add(losses)
                watch.add(step + 1, losses["total"])
            done = step + 1
            if on_step is not None:
                on_step(done)
            bar.update(1)
            if done % plan.log_steps == 0 or done == total:
                watch.check(desc, run_dir, optimizer)
                lrs = [g["lr"] for g in optimizer.param_groups]
                values = log.flush(done, lrs) if acc.is_main_process else {}
                bar.set_postfix({k: f"{v:.4f}" for k, v in values.items() if k in plan.shown})
            if every is not None and every[0] and done % every[0] == 0 and acc.is_main_process:
                every[1](done)
            if plan.checkpointing_steps and done % plan.checkpointing_steps == 0 and done < total:
                watch.check(desc, run_dir, optimizer, models, done)  # a diverged state never becomes a checkpoint
                acc.wait_for_everyone()
                if acc.is_main_process:
                    save_checkpoint(
                        run_dir, done, lambda d: acc.save_state(str(d)), {"total": total}, plan.checkpoints_total_limit
                    )
    finally:
        bar.close()  # the error line of a divergence starts on a line of its own
    watch.check(desc, run_dir, optimizer, models, total)  # before the stage exports anything


class _DivergenceWatch:
    """Remembers, on the device, the first step whose loss was non-finite or above DIVERGED_LOSS."""

    def __init__(self, device: torch.device) -> None:
        self.step = torch.full((), -1, dtype=torch.long, device=device)
        self.loss = torch.zeros((), dtype=torch.float32, device=device)

    def add(self, step: int, loss: torch.Tensor) -> None:
        value = loss.detach().float()
        bad = ~torch.isfinite(value) | (value.abs() > DIVERGED_LOSS)
        first = bad & (self.step < 0)
        self.step = torch.where(first, torch.full_like(self.step, step), self.step)
        self.loss = torch.where(first, value, self.loss)

    def check(
        self,
        desc: str,
        run_dir: Path,
        optimizer: torch.optim.Optimizer,
        models: Sequence[torch.nn.Module] = (),
        step: int | None = None,
    ) -> None:
        """Raise :class:`TrainingDiverged` when a loss diverged so far, or (with ``models``) a weight did.

        Raises:
            TrainingDiverged: One line naming the step, the likely cause and the last good checkpoint.
        """
        first = int(self.step.item())
        if first >= 0:
            what = (
                f"the loss became {float(self.loss.item()):.3g} at step {first}: non-finite or above {DIVERGED_LOSS:g}"
            )
        else:
            problem = weights_problem_of(models) if models else None
            if problem is None:
                return
            what = f"after step {step} {problem}"
        lrs = ", ".join(f"{g['lr']:g}" for g in optimizer.param_groups)
        kept = list_checkpoints(run_dir)
        last = f"the last good checkpoint is {kept[-1][1]}" if kept else "no checkpoint was kept"
        message = (
            f"{run_dir}: {desc} diverged ({what}), most likely because the "
            f"learning rate ({lrs}) is too high; nothing was exported and {last}: start a new run folder with a "
            "lower learning rate"
        )
        raise TrainingDiverged(message)
