"""Reading a finished stage-2 run back: the trained RMP head (``<run>/rmp/``)."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file

from seas.errors import ModelLoadError
from seas.integrity import verify_weights
from seas.records import read_json
from seas.run_folder import RunFolder
from seas.stage2.rmp import RMPHead
from seas.training import weights_problem_of

__all__ = ["TRAINING_BN_STATISTICS", "load_rmp"]

# BatchNorm statistics before the calibration (``rmp_bn`` as the reference trains them), for comparisons.
TRAINING_BN_STATISTICS = "training_bn_statistics.safetensors"


def load_rmp(run_dir: Path, statistics: str = "calibrated") -> RMPHead:
    """The trained RMP head of a run (eval mode, float32, CPU).

    Args:
        run_dir: Run folder.
        statistics: ``calibrated`` (as saved) or ``training`` (BatchNorm statistics as training left them,
            when the run was calibrated; the same head otherwise).
    """
    run = RunFolder(run_dir)
    folder = run.rmp
    if not run.rmp_weights.is_file():
        raise ModelLoadError(folder, "no trained RMP weights", "run seas train-mask --run-dir RUN first")
    fix = f"delete {folder} and rerun seas train-mask --run-dir {run_dir}"
    config = read_json(
        folder / "config.json", fix, lambda c: {k: tuple(c[k]) for k in ("unet_channels", "vae_channels")}
    )
    verify_weights(folder, fix)
    head = RMPHead(tuple(config["unet_channels"]), tuple(config["vae_channels"]))  # type: ignore[arg-type]
    state = load_file(str(run.rmp_weights))
    if statistics == "training" and (folder / TRAINING_BN_STATISTICS).is_file():
        state.update(load_file(str(folder / TRAINING_BN_STATISTICS)))
    head.load_state_dict(state)
    problem = weights_problem_of([head])
    if problem is not None:
        raise ModelLoadError(run.rmp_weights, f"{problem}: the mask head diverged in training", fix)
    return head.eval()
