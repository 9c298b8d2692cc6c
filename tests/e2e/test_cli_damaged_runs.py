"""Damaged or missing run folders: one line naming the path, never a hub message; a deleted export is rewritten."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from seas.cli import main

FAST = ["--base-model", "tiny", "--resolution", "64", "--seed", "0", "--max-steps", "2", "--defect-type", "hole"]


def test_missing_run_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--run-dir", str(tmp_path / "nonexistent"), "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'nonexistent'}: no such folder; pass the --run-dir folder of a seas train run"
    assert main(["train-mask", "--run-dir", str(tmp_path)]) == 2
    assert "not a seas run folder (no config.json)" in capsys.readouterr().err


def test_deleted_unet_is_named_then_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import SAMPLE_ROOT

    run = tmp_path / "run"
    argv = [
        "train",
        "--data",
        str(SAMPLE_ROOT),
        "--layout",
        "mvtec",
        "--product",
        "tire",
        "--run-dir",
        str(run),
        *FAST,
    ]
    assert main(argv) == 0
    weights = run / "unet" / "diffusion_pytorch_model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    shutil.rmtree(run / "unet")
    capsys.readouterr()
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'unet' / 'config.json'}: missing from this finished stage-1 run" in err
    assert "internet" not in err.lower()
    assert "hub" not in err.lower()
    assert main(argv) == 0  # not "nothing to do": the run is trained again and exported
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == digest  # seeded: the same weights


def test_damaged_weights_are_named_and_a_rerun_rewrites_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from tests.conftest import SAMPLE_ROOT

    run = tmp_path / "run"
    argv = [
        "train",
        "--data",
        str(SAMPLE_ROOT),
        "--layout",
        "mvtec",
        "--product",
        "tire",
        "--run-dir",
        str(run),
        *FAST,
    ]
    assert main(argv) == 0
    assert main(["train-mask", "--run-dir", str(run), "--max-steps", "1", "--bn-calibration-batches", "1"]) == 0
    generate = [
        "generate",
        "--run-dir",
        str(run),
        "--output-dir",
        str(tmp_path / "o"),
        "--num-per-type",
        "1",
        "--steps",
        "2",
        "--mask-steps",
        "1",
    ]
    unet = run / "unet" / "diffusion_pytorch_model.safetensors"
    rows = run / "token_embeddings.safetensors"
    rmp = run / "rmp" / "model.safetensors"
    originals = {p: p.read_bytes() for p in (unet, rows, rmp)}
    for path, how in ((unet, "zero"), (rows, "truncate"), (rmp, "zero")):
        data = originals[path]
        path.write_bytes(data[:1000] + bytes(2000) + data[3000:] if how == "zero" else data[: len(data) // 2])
        capsys.readouterr()
        assert main(generate) == 2, path
        err = capsys.readouterr().err
        assert f"error: {path}: damaged: its sha256 differs from the one recorded when it was written" in err
        assert "Traceback" not in err
        path.write_bytes(originals[path])
    unet.write_bytes(originals[unet][:-10])
    caplog.clear()
    assert main(argv) == 0  # reported as damaged, not as finished: written again from the last checkpoint
    assert f"{unet}: damaged" in caplog.text
    assert "nothing to do" not in caplog.text
    assert unet.read_bytes() == originals[unet]
    rmp.write_bytes(bytes(len(originals[rmp])))
    assert main(["train-mask", "--run-dir", str(run), "--max-steps", "1", "--bn-calibration-batches", "1"]) == 0
    assert rmp.read_bytes() == originals[rmp]
    assert main(generate) == 0
