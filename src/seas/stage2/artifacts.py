"""Reading a finished stage-2 run back: the trained RMP head (``<run>/rmp/``)."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from seas.errors import ModelLoadError
from seas.integrity import verify_weights
from seas.run_folder import RunFolder
from seas.stage2.rmp import RMPHead

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
        raise ModelLoadError(folder, "no trained RMP weights", "run seas train-mask --model RUN first")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    verify_weights(folder, f"delete {folder} and rerun seas train-mask --model {run_dir}")
    head = RMPHead(tuple(config["unet_channels"]), tuple(config["vae_channels"]))  # type: ignore[arg-type]
    state = load_file(str(run.rmp_weights))
    if statistics == "training" and (folder / TRAINING_BN_STATISTICS).is_file():
        state.update(load_file(str(folder / TRAINING_BN_STATISTICS)))
    head.load_state_dict(state)
    return head.eval()
