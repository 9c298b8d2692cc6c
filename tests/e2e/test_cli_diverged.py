"""A diverged run is never reported as finished, and no flat image or empty-mask defect pair is written."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from seas.cli import main
from seas.data.catalog import bundled_sample_root
from seas.integrity import record_weights
from seas.run_folder import generator_weight_files

FAST = ["--base-model", "tiny", "--resolution", "64", "--seed", "0", "--defect-type", "hole"]
GEN = ["--num-per-type", "2", "--steps", "3", "--mask-steps", "1"]


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("diverged")
    data = base / "data"
    shutil.copytree(bundled_sample_root(), data)
    run = base / "run"
    assert (
        main(["train", "--data", str(data), "--product", "tire", "--max-steps", "2", "--run-dir", str(run), *FAST])
        == 0
    )
    assert main(["train-mask", "--run-dir", str(run), "--max-steps", "1", "--bn-calibration-batches", "1"]) == 0
    return data, run


def test_a_huge_learning_rate_stops_stage_1_without_an_export(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = setup
    run = tmp_path / "run"
    argv = [
        "train",
        "--data",
        str(data),
        "--product",
        "tire",
        "--max-steps",
        "3",
        "--run-dir",
        str(run),
        "--learning-rate",
        "1e30",
        *FAST,
    ]
    capsys.readouterr()
    assert main(argv) == 2
    err = _error(capsys)
    assert err.startswith(f"error: {run}: stage 1 diverged (")
    assert "learning rate (1e+30" in err
    assert "nothing was exported" in err
    assert not (run / "train_complete.json").exists()
    assert not (run / "unet").exists()
    capsys.readouterr()
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(tmp_path / "o"), *GEN]) == 2
    assert "not a finished stage-1 run" in capsys.readouterr().err


def test_a_huge_learning_rate_stops_stage_2_without_weights(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, original = setup
    run = tmp_path / "run"
    shutil.copytree(original, run, ignore=shutil.ignore_patterns("rmp", "stage2"))
    capsys.readouterr()
    assert main(["train-mask", "--run-dir", str(run), "--max-steps", "2", "--rmp-learning-rate", "1e30"]) == 2
    err = _error(capsys)
    assert f"{run / 'stage2'}: stage 2 diverged (" in err
    assert not (run / "rmp").exists()


def test_generation_refuses_non_finite_weights(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, original = setup
    run = tmp_path / "run"
    shutil.copytree(original, run)
    weights = run / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(str(weights))
    name = sorted(state)[0]
    state[name] = torch.full_like(state[name], float("nan"))
    save_file(state, str(weights))
    record_weights(run, generator_weight_files(run))  # as a run of an older version would have recorded it
    capsys.readouterr()
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(tmp_path / "o"), *GEN]) == 2
    err = _error(capsys)
    assert err.startswith(f"error: {run / 'unet'}: parameter ")
    assert "holds non-finite values: the generator diverged in training" in err
    assert not (tmp_path / "o").exists()


def test_an_empty_mask_is_redrawn_and_recorded(
    setup: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seas.generate.pipeline import Job, MaskedSampler, Result

    _, run = setup
    original = MaskedSampler.run

    def first_attempt_empty(self: MaskedSampler, jobs: list[Job]) -> list[Result]:
        results = original(self, jobs)
        return [
            replace(r, mask=np.zeros_like(r.mask), mask_fraction=0.0) if r.job.attempt == 0 else r for r in results
        ]

    monkeypatch.setattr(MaskedSampler, "run", first_attempt_empty)
    out = tmp_path / "out"
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(out), *GEN]) == 0
    manifest = [json.loads(line) for line in (out / "tire" / "hole" / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == 2
    for record in manifest:
        assert record["attempt"] == 1
        assert record["rejections"][0]["reason"] == "empty mask"
        assert record["rejections"][0]["mask_fraction"] == 0.0
        mask = np.asarray(Image.open(out / "tire" / "hole" / record["mask"]))
        assert mask.any()


def test_every_draw_empty_or_flat_is_one_line_and_writes_no_pair(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from seas.generate.pipeline import Job, MaskedSampler, Result

    _, run = setup
    original = MaskedSampler.run

    def broken(self: MaskedSampler, jobs: list[Job]) -> list[Result]:  # odd attempts flat, even ones empty
        results = original(self, jobs)
        return [
            replace(r, image=np.zeros_like(r.image))
            if r.job.attempt % 2
            else replace(r, mask=np.zeros_like(r.mask), mask_fraction=0.0)
            for r in results
        ]

    monkeypatch.setattr(MaskedSampler, "run", broken)
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(out), "--max-attempts", "2", *GEN]) == 2
    err = _error(capsys)
    assert "was rejected in all 2 attempts (empty mask, flat image)" in err
    assert not list((out / "tire" / "hole").glob("image/*.png"))


def test_a_finished_stage_2_refuses_other_step_counts(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, original = setup
    run = tmp_path / "run"
    shutil.copytree(original, run)
    capsys.readouterr()
    assert main(["train-mask", "--run-dir", str(run), "--max-steps", "3", "--bn-calibration-batches", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{run / 'stage2'}: holds a finished run made with other settings (--max-steps 1 -> 3)" in err
    assert (
        main(["train", "--data", str(data), "--product", "tire", "--max-steps", "5", "--run-dir", str(run), *FAST])
        == 2
    )
    assert "holds a finished run made with other settings (--max-steps 2 -> 5)" in capsys.readouterr().err
