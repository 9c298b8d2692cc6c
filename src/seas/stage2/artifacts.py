"""Reading a finished stage-2 run back: the trained RMP head (``<run>/rmp/``)."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from seas.errors import ModelLoadError
from seas.integrity import combined_id, file_sha256, recorded_hashes, verify_weights
from seas.stage1.artifacts import generator_weight_files
from seas.stage2.rmp import RMPHead

__all__ = ["TRAINING_BN_STATISTICS", "checkpoint_ids", "load_rmp"]

# BatchNorm statistics before the calibration (``rmp_bn`` as the reference trains them), for comparisons.
TRAINING_BN_STATISTICS = "training_bn_statistics.safetensors"


def load_rmp(run_dir: Path, statistics: str = "calibrated") -> RMPHead:
    """The trained RMP head of a run (eval mode, float32, CPU).

    Args:
        run_dir: Run folder.
        statistics: ``calibrated`` (as saved) or ``training`` (BatchNorm statistics as training left them,
            when the run was calibrated; the same head otherwise).
    """
    folder = run_dir / "rmp"
    if not (folder / "model.safetensors").is_file():
        raise ModelLoadError(folder, "no trained RMP weights", "run seas train-mask --model RUN first")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    verify_weights(folder, f"delete {folder} and rerun seas train-mask --model {run_dir}")
    head = RMPHead(tuple(config["unet_channels"]), tuple(config["vae_channels"]))  # type: ignore[arg-type]
    state = load_file(str(folder / "model.safetensors"))
    if statistics == "training" and (folder / TRAINING_BN_STATISTICS).is_file():
        state.update(load_file(str(folder / TRAINING_BN_STATISTICS)))
    head.load_state_dict(state)
    return head.eval()


def checkpoint_ids(run_dir: Path) -> dict[str, str]:
    """Identities of a run's generator and RMP weights, from the sha256 records written with them.

    Recomputed on every call (a folder without a record is hashed directly), so an identity never
    outlives the files it names. Reads only.
    """
    ids = {}
    for key, folder, files in (("generator", run_dir, generator_weight_files(run_dir)),
                               ("rmp", run_dir / "rmp", [run_dir / "rmp" / "model.safetensors"])):  # fmt: skip
        hashes = recorded_hashes(folder)
        if hashes is None:
            hashes = {p.relative_to(folder).as_posix(): file_sha256(p) for p in files if p.is_file()}
        ids[key] = combined_id(hashes)
    return ids
