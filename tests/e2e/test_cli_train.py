"""``seas train`` end to end on the tiny model: outputs, rerun, and kill -9 + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import UNet2DConditionModel
from PIL import Image
from safetensors.torch import load_file

from seas.cli import main

FAST = ["--base-model", "tiny", "--resolution", "64", "--seed", "0", "--log-steps", "1"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    out = load_file(str(run / "unet" / "diffusion_pytorch_model.safetensors"))
    out.update({f"tokens.{k}": v for k, v in load_file(str(run / "token_embeddings.safetensors")).items()})
    return out


def test_train_on_tire_writes_a_loadable_generator(tire_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    argv = [
        "train",
        "--data",
        str(tire_root),
        "--layout",
        "mvtec",
        "--product",
        "tire",
        "--max-steps",
        "4",
        "--run-dir",
        str(run),
        *FAST,
    ]
    assert main(argv) == 0
    unet = UNet2DConditionModel.from_pretrained(run / "unet")
    assert unet.config.cross_attention_dim == 32
    token_map = json.loads((run / "token_map.json").read_text())
    assert token_map["defect_types"] == ["combined", "contamination", "cut", "hole"]
    assert token_map["anomaly"]["hole"] == ["sks13", "sks14", "sks15", "sks16"]
    split = json.loads((run / "split.json").read_text())
    assert len(split["types"]["cut"]["train"]) == 3  # the first third of the sample's 9
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["TrainConfig"]["max_steps"] == 4
    assert config["base_model"]["name"] == "tiny"
    logs = [json.loads(line) for line in (run / "logs.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2, 3, 4]
    assert all(r["da_32"] > 0 and r["na"] > 0 for r in logs)
    rows = load_file(str(run / "token_embeddings.safetensors"))
    assert rows["rows"].shape == (17, 32)
    assert rows["ids"].tolist() == list(range(49408, 49425))
    before = {k: v.clone() for k, v in _weights(run).items()}
    assert main(argv) == 0  # a rerun of a finished run does nothing
    after = _weights(run)
    assert all(torch.equal(before[k], after[k]) for k in before)  # frozen weights are not touched


def test_validation_grid_every_n_steps(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", "--max-steps", "2", "--validation-steps", "2", "--run-dir", str(run), *FAST]) == 0
    grid = np.asarray(Image.open(run / "validation" / "step-2.png"))
    assert grid.shape == (64, 64 * 5, 3)  # 4 defect types + the normal prompt


def test_embeddings_all_exports_the_text_encoder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert (
        main(["train", "--max-steps", "1", "--grad-accum", "1", "--embeddings", "all", "--run-dir", str(run), *FAST])
        == 0
    )
    assert (run / "text_encoder" / "model.safetensors").is_file()
    assert not (run / "token_embeddings.safetensors").exists()


def test_lora_changes_only_attention_projections_and_exports_a_plain_unet(tmp_path: Path) -> None:
    from seas.models.builtin import build_builtin

    run = tmp_path / "run"
    argv = [
        "train",
        "--max-steps",
        "2",
        "--lora-rank",
        "4",
        "--learning-rate",
        "1e-2",
        "--run-dir",
        str(run),
        *FAST,
    ]
    assert main(argv) == 0
    base = build_builtin("tiny", 0, 64)["unet"].state_dict()
    trained = load_file(str(run / "unet" / "diffusion_pytorch_model.safetensors"))
    assert trained.keys() == base.keys()  # adapters merged: no lora_A/lora_B keys left
    changed = [k for k in base if not torch.equal(base[k], trained[k])]  # which weights training moved at all
    assert changed
    assert all(any(t in k for t in ("to_q", "to_k", "to_v", "to_out.0")) for k in changed)


def _train_cmd(run: Path, steps: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "seas.cli",
        "train",
        "--max-steps",
        str(steps),
        "--checkpointing-steps",
        "2",
        "--checkpoints-total-limit",
        "2",
        "--run-dir",
        str(run),
        *FAST,
    ]


def test_kill_9_and_resume_is_bit_identical(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(_train_cmd(straight, 8), env=env, check=True, capture_output=True)
    proc = subprocess.Popen(_train_cmd(killed, 8), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (killed / "checkpoint-2").is_dir() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "train_complete.json").exists(), "the run finished before it could be killed"
    assert (killed / "checkpoint-2").is_dir()
    subprocess.run(_train_cmd(killed, 8), env=env, check=True, capture_output=True)
    a, b = _weights(straight), _weights(killed)
    assert a.keys() == b.keys()
    # exact: same machine: resume claim
    assert all(torch.equal(a[k], b[k]) for k in a), [k for k in a if not torch.equal(a[k], b[k])][:5]
    kept = sorted(p.name for p in killed.glob("checkpoint-*"))
    assert kept == ["checkpoint-4", "checkpoint-6"]  # total limit 2; no checkpoint at the final step
    log_steps = [json.loads(line)["step"] for line in (killed / "logs.jsonl").read_text().splitlines()]
    assert log_steps == list(range(1, 9))  # lines of the killed attempt past its checkpoint are dropped


def test_resume_with_other_settings_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    argv = ["train", "--max-steps", "2", "--checkpointing-steps", "1", "--run-dir", str(run), *FAST]
    assert main(argv) == 0
    (run / "train_complete.json").unlink()  # pretend the run was interrupted after its checkpoints
    assert main([*argv, "--da-weight", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "has checkpoints made with other settings (--da-weight 1.0 -> 0.5)" in err
    assert main([*argv[:2], "4", *argv[3:]]) == 0  # more steps is a legitimate change: resumes


def test_two_cpu_processes_equal_one_process_with_accumulation(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    common = ["train", "--max-steps", "2", "--checkpointing-steps", "0", *FAST]
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "seas.cli",
    ]
    subprocess.run(
        [*launcher, *common, "--grad-accum", "1", "--run-dir", str(ddp)], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [sys.executable, "-m", "seas.cli", *common, "--grad-accum", "2", "--run-dir", str(single)],
        env=env,
        check=True,
        capture_output=True,
    )
    logs = [json.loads(line) for line in (ddp / "logs.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2]  # written by the main process only
    a, b = _weights(ddp), _weights(single)
    # rank r takes micro-batch 2s + r: the same data as micro-batches 2s and 2s+1 of one process
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6, rtol=1e-4) for k in a)


def test_8bit_optimizer_without_bitsandbytes_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec  # made missing here, so the test holds whether it is installed or not
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "bitsandbytes" else real(n, *a))
    argv = ["train", "--max-steps", "1", "--optimizer", "adamw8bit", "--run-dir", str(tmp_path / "r"), *FAST]
    assert main(argv) == 2
    assert (
        "--optimizer adamw8bit: needs bitsandbytes; pip install 'seas[8bit]' or use adamw" in capsys.readouterr().err
    )


@pytest.mark.parametrize("bad", [["--grad-accum", "0"], ["--normal-token", "sks"]])
def test_bad_training_options_fail_before_loading(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *bad, *FAST]) == 2
    assert capsys.readouterr().err.startswith("error: --")
