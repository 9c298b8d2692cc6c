"""A diverging run stops at the step it diverged, keeps its last good checkpoint and exports nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

from seas.checkpoint import list_checkpoints, save_checkpoint
from seas.step_loop import StepPlan, run_steps
from seas.training import DIVERGED_LOSS, LossLog, TrainingDiverged, weights_problem_of


def _run(tmp_path: Path, losses: list[float], total: int, lr: float = 0.01) -> list[int]:
    accelerator = Accelerator(cpu=True)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    model, optimizer = accelerator.prepare(model, optimizer)

    def micro_step(index: int) -> dict[str, torch.Tensor]:
        out = model(torch.ones(1, 2)).sum() + losses[index]  # gradient 1 on every weight
        accelerator.backward(out)
        return {"total": out}

    log = LossLog(tmp_path / "logs.jsonl", ("total",))
    plan = StepPlan(run_dir=tmp_path, start=0, total=total, desc="stage 1", checkpointing_steps=1)
    run_steps(accelerator, [model], optimizer, micro_step, plan, log)
    return [s for s, _ in list_checkpoints(tmp_path)]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 10 * DIVERGED_LOSS])
def test_a_diverged_loss_stops_at_its_step_and_keeps_the_checkpoints_before(tmp_path: Path, bad: float) -> None:
    with pytest.raises(TrainingDiverged) as caught:
        _run(tmp_path, [1.0, 0.9, bad, 0.8, 0.7, 0.6], total=6)
    message = str(caught.value)
    assert "stage 1 diverged (the loss became" in message
    assert "at step 3" in message
    assert f"the last good checkpoint is {tmp_path / 'checkpoint-3'}" not in message
    # checkpoints are written after steps 1 and 2; the one after step 3 would hold the diverged update
    assert [s for s, _ in list_checkpoints(tmp_path)] == [1, 2]
    assert f"the last good checkpoint is {tmp_path / 'checkpoint-2'}" in message
    assert "\n" not in message


def test_a_healthy_run_is_not_stopped(tmp_path: Path) -> None:
    assert _run(tmp_path, [1.0, 0.5, 0.4, 2.0], total=4) == [1, 2, 3]


def test_exploded_weights_with_a_finite_loss_are_caught_before_the_export(tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged, match=r"after step 1 parameter .* reaches"):
        _run(tmp_path, [1.0], total=1, lr=1e30)  # the loss of step 1 is finite; the weights after it are not sane
    assert not (tmp_path / "checkpoint-1").exists()


def test_weights_problem_names_the_first_bad_parameter() -> None:
    model = torch.nn.Linear(2, 2)
    assert weights_problem_of([model]) is None
    with torch.no_grad():
        model.bias[0] = float("nan")
    assert weights_problem_of([model]) == "parameter bias of model 0 holds non-finite values"
    model.bias.requires_grad_(False)  # frozen weights are not the run's to judge
    assert weights_problem_of([model]) is None


def test_save_checkpoint_prunes_only_what_it_wrote(tmp_path: Path) -> None:
    def write(folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"w")

    save_checkpoint(tmp_path, 1, write, {}, None)
    (tmp_path / "checkpoint-1" / "my-notes.txt").write_text("mine")
    save_checkpoint(tmp_path, 2, write, {}, None)
    save_checkpoint(tmp_path, 3, write, {}, 1)  # prunes 1 and 2: 1 holds a user's file and is kept
    assert [s for s, _ in list_checkpoints(tmp_path)] == [1, 3]
    assert (tmp_path / "checkpoint-1" / "my-notes.txt").read_text() == "mine"
