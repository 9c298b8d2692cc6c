"""``seas run``: the whole pipeline on the bundled sample, and a rerun that skips every finished stage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from seas.cli import main


def test_run_then_rerun_skips_finished_stages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--base-model", "tiny", "--resolution", "64", "--max-steps", "2", "--num-per-type", "1",
            "--steps", "5", "--mask-steps", "2", "--output-dir", str(tmp_path / "demo")]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "[tire] image/mask pairs in" in out
    run = tmp_path / "demo"
    assert (run / "train_complete.json").is_file()
    assert (run / "rmp" / "model.safetensors").is_file()
    for t in ("combined", "contamination", "cut", "hole"):
        assert len((run / "generated" / "tire" / t / "manifest.jsonl").read_text().splitlines()) == 1
    stamps = {p: p.stat().st_mtime_ns for p in [run / "unet" / "diffusion_pytorch_model.safetensors",
                                                 run / "rmp" / "model.safetensors"]}  # fmt: skip
    started = time.perf_counter()
    assert main(argv) == 0
    assert time.perf_counter() - started < 30
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    record = json.loads((run / "generated" / "tire" / "config.json").read_text())
    assert record["config"]["GenerateConfig"]["num_per_type"] == 1
    # the downstream benchmark on that run: every training set, every metric, a table
    assert main(["evaluate", "segmentation", "--model", str(run), "--epochs", "1", "--eval-resolution", "64"]) == 0
    results = json.loads((run / "evaluation" / "segmentation.json").read_text())
    assert sorted(results["variants"]) == ["cutpaste", "perlin", "real", "seas"]
    assert results["counts"]["extra_pairs"] == 4
    assert results["counts"]["test_defect"] == 4 + 6 + 6 + 6  # held-out two thirds of the bundled sample
    for variant in results["variants"].values():
        assert set(variant["per_type"]) == {"combined", "contamination", "cut", "hole"}
        assert all(0.0 <= v <= 1.0 for v in variant["mean"].values())
    table = (run / "evaluation" / "segmentation.md").read_text().splitlines()
    assert table[2].startswith("| real only | ")
    assert len(table) == 6


def test_print_config_shows_flag_over_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("guidance: 3.0\nmax_steps: 7\n")
    assert main(["run", "--config", str(cfg), "--max-steps", "9", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert '"guidance": 3.0' in printed
    assert '"max_steps": 9' in printed
    assert main(["run", "--preset", "visa", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert '"guidance": 2.0' in printed
    assert '"augment": "none"' in printed
    assert '"da_region": "any"' in printed
