"""bf16 autocast end to end on CPU: stage 1 (with its validation grid), stage 2 and generation on ``tiny``.

The CUDA-only parts (fp16 autocast with a gradient scaler, 8-bit Adam) are not reached here; bf16 on
CPU runs every precision branch of our own code: frozen modules cast to the weight dtype, fp32
master weights, fp32 DA maps, and the generation dtype.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from seas.cli import main

FAST = ["--base-model", "tiny", "--resolution", "64", "--seed", "0", "--log-steps", "1"]


def _logs(path: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def bf16_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import SAMPLE_ROOT

    run = tmp_path_factory.mktemp("bf16") / "run"
    # Own processes: accelerate's process-wide state keeps the precision of the first Accelerator made,
    # and earlier tests in this pytest process made fp32 ones.
    seas = [sys.executable, "-m", "seas.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [
            *seas,
            "train",
            "--data",
            str(SAMPLE_ROOT),
            "--layout",
            "mvtec",
            "--product",
            "tire",
            "--defect-type",
            "hole",
            "--max-steps",
            "2",
            "--validation-steps",
            "2",
            "--mixed-precision",
            "bf16",
            "--run-dir",
            str(run),
            *FAST,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *seas,
            "train-mask",
            "--run-dir",
            str(run),
            "--max-steps",
            "2",
            "--log-steps",
            "1",
            "--mixed-precision",
            "bf16",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return run


def test_bf16_training_keeps_fp32_masters_and_finite_losses(bf16_run: Path) -> None:
    for log in (bf16_run / "logs.jsonl", bf16_run / "stage2" / "logs.jsonl"):
        rows = _logs(log)
        assert rows
        assert all(math.isfinite(v) for r in rows for k, v in r.items() if isinstance(v, float))
    weights = {
        **load_file(str(bf16_run / "unet" / "diffusion_pytorch_model.safetensors")),
        **load_file(str(bf16_run / "token_embeddings.safetensors")),
        **load_file(str(bf16_run / "rmp" / "model.safetensors")),
    }
    floats = [w for w in weights.values() if w.is_floating_point()]
    assert floats
    assert all(w.dtype == torch.float32 and torch.isfinite(w).all() for w in floats)
    grid = np.asarray(Image.open(bf16_run / "validation" / "step-2.png"))
    assert grid.shape == (64, 128, 3)  # the hole prompt and the normal prompt, decoded by the bf16 VAE


def test_bf16_generation_agrees_with_fp32(bf16_run: Path, tmp_path: Path) -> None:
    masks = {}
    for dtype in ("no", "bf16"):
        out = tmp_path / dtype
        assert (
            main(
                [
                    "generate",
                    "--run-dir",
                    str(bf16_run),
                    "--output-dir",
                    str(out),
                    "--num-per-type",
                    "2",
                    "--steps",
                    "6",
                    "--mask-steps",
                    "2",
                    "--mixed-precision",
                    dtype,
                    "--mask-threshold",
                    "0.45",
                ]
            )
            == 0
        )
        folder = out / "tire" / "hole"
        manifest = _logs(folder / "manifest.jsonl")
        assert manifest[0]["settings"]["dtype"] == str({"no": torch.float32, "bf16": torch.bfloat16}[dtype])
        masks[dtype] = np.stack([np.asarray(Image.open(folder / m["mask"])) > 0 for m in manifest])
        images = np.stack([np.asarray(Image.open(folder / m["image"])) for m in manifest])
        assert images.std() > 0
    assert masks["no"].any()  # threshold 0.45 gives about 2 % coverage here: agreement is not all-empty
    assert (masks["no"] == masks["bf16"]).mean() >= 0.95  # measured 99.9 %
