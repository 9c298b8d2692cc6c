"""``seas pretrain`` end to end on the tiny model: a loadable diffusers folder, exact resume, frozen parts kept."""

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
from PIL import Image
from safetensors.torch import load_file

from seas.cli import main

FAST = ["--resolution", "64", "--batch-size", "2", "--log-steps", "1", "--seed", "0"]


def _save_tiny(folder: Path) -> None:
    """A seeded random ``tiny`` model saved as a diffusers folder: the 'real checkpoint' of these tests."""
    from diffusers import StableDiffusionPipeline

    from seas.models.builtin import build_builtin

    StableDiffusionPipeline(
        **build_builtin("tiny", 3, 64), safety_checker=None, feature_extractor=None, requires_safety_checker=False
    ).save_pretrained(folder)


def _tensors(folder: Path) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for path in sorted(folder.rglob("*.safetensors")):
        out.update({f"{path.relative_to(folder)}:{k}": v for k, v in load_file(str(path)).items()})
    return out


def test_pretrain_from_scratch_writes_a_loadable_diffusers_folder(tmp_path: Path) -> None:
    from diffusers import StableDiffusionPipeline

    from seas.models.loading import load_base_model

    out = tmp_path / "prior"
    argv = [
        "pretrain",
        "--base-model",
        "tiny",
        "--vae-steps",
        "2",
        "--unet-steps",
        "2",
        "--sample-steps",
        "2",
        "--vae-crop",
        "32",
        "--output-dir",
        str(out),
        *FAST,
    ]
    assert main(argv) == 0
    for name in ("model_index.json", "unet", "vae", "text_encoder", "tokenizer", "scheduler", "config.json"):
        assert (out / name).exists(), name
    pipe = StableDiffusionPipeline.from_pretrained(out, local_files_only=True)
    assert pipe.vae.config.scaling_factor != 0.18215  # set from the training latents (1 / std)
    parts = load_base_model(str(out))
    assert parts.identity["kind"] == "folder"
    images = json.loads((out / "images.json").read_text())
    assert images["prompt"] == "a photo of a tire"
    assert len(images["images"]) == 12
    assert all("/train/good/" in p for p in images["images"])
    assert [json.loads(x)["step"] for x in (out / "vae_train" / "logs.jsonl").read_text().splitlines()] == [1, 2]
    strip = np.asarray(Image.open(out / "vae_train" / "samples" / "step-2.png"))
    assert strip.shape == (128, 64 * 8, 3)  # originals over reconstructions, 8 images
    grid = np.asarray(Image.open(out / "unet_train" / "samples" / "step-2.png"))
    assert grid.shape == (64, 64 * 8, 3)
    before = _tensors(out)
    assert main(argv) == 0  # a finished prior is not retrained
    assert all(torch.equal(before[k], v) for k, v in _tensors(out).items())  # not retrained: the same files
    from seas.errors import ModelLoadError

    recorded = json.loads((out / "sha256.json").read_text())["files"]
    assert sorted(recorded) == sorted(str(p.relative_to(out)) for p in out.glob("*/*.safetensors"))
    vae_file = out / "vae" / "diffusion_pytorch_model.safetensors"
    original = vae_file.read_bytes()
    vae_file.write_bytes(original[:-8])
    with pytest.raises(ModelLoadError, match=r"vae/diffusion_pytorch_model\.safetensors: damaged"):
        load_base_model(str(out))
    assert main(argv) == 0  # reported as damaged, not finished: written again (seeded: the same bytes)
    assert vae_file.read_bytes() == original


def test_pretrain_from_a_checkpoint_keeps_vae_and_text_encoder_bit_identical(tmp_path: Path) -> None:
    base = tmp_path / "base"
    _save_tiny(base)
    out = tmp_path / "prior"
    assert (
        main(
            [
                "pretrain",
                "--base-model",
                str(base),
                "--unet-steps",
                "2",
                "--sample-steps",
                "0",
                "--output-dir",
                str(out),
                *FAST,
            ]
        )
        == 0
    )
    assert not (out / "vae_train").exists()  # a real model's VAE is never retrained by default
    for part in ("vae", "text_encoder"):
        a, b = _tensors(base / part), _tensors(out / part)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), part  # frozen parts are written back untouched
    a, b = _tensors(base / "unet"), _tensors(out / "unet")
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the U-Net was trained
    record = json.loads((out / "config.json").read_text())
    assert record["base_model"]["kind"] == "folder"


def test_decoder_phase_sharpens_a_finished_model_and_keeps_its_latents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base"
    _save_tiny(base)
    out = tmp_path / "sharp"
    assert (
        main(
            [
                "pretrain",
                "--base-model",
                str(base),
                "--vae-decoder-steps",
                "3",
                "--unet-steps",
                "0",
                "--sample-steps",
                "3",
                "--vae-crop",
                "32",
                "--output-dir",
                str(out),
                *FAST,
            ]
        )
        == 0
    )
    a, b = (
        {f"{part}/{k}": v for part in ("unet", "vae", "text_encoder") for k, v in _tensors(root / part).items()}
        for root in (base, out)
    )
    assert a.keys() == b.keys()
    changed = {k for k in a if not torch.equal(a[k], b[k])}
    assert changed
    assert all(k.startswith("vae/") and (":decoder." in k or ":post_quant_conv." in k) for k in changed)
    assert any(":decoder." in k for k in changed)
    # Encoder, quant_conv, U-Net and text encoder untouched: every latent and the U-Net's use of it stay valid.
    assert any(k.startswith("vae/") and ":encoder." in k for k in a)
    logs = [json.loads(x) for x in (out / "vae_decoder_train" / "logs.jsonl").read_text().splitlines()]
    assert [x["step"] for x in logs] == [1, 2, 3]
    assert all(x["texture"] > 0 for x in logs)
    assert (out / "vae_decoder_train" / "samples" / "step-3.png").is_file()
    assert not (out / "unet_train").exists()
    assert json.loads((out / "pretrain_complete.json").read_text())["vae_decoder_steps"] == 3
    assert (
        main(
            [
                "pretrain",
                "--base-model",
                "tiny",
                "--unet-steps",
                "0",
                "--vae-steps",
                "2",
                "--output-dir",
                str(tmp_path / "x"),
                *FAST,
            ]
        )
        == 2
    )
    assert "--unet-steps: 'tiny' has a random U-Net" in capsys.readouterr().err
    assert (
        main(["pretrain", "--base-model", str(base), "--unet-steps", "0", "--output-dir", str(tmp_path / "y"), *FAST])
        == 2
    )
    assert "--unet-steps: must be at least 1 when no VAE phase runs" in capsys.readouterr().err


def _cmd(out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "seas.cli",
        "pretrain",
        "--base-model",
        "tiny",
        "--vae-steps",
        "2",
        "--unet-steps",
        "6",
        "--vae-crop",
        "32",
        "--sample-steps",
        "0",
        "--checkpointing-steps",
        "2",
        "--output-dir",
        str(out),
        *FAST,
    ]


def test_pretrain_kill_9_and_resume_is_bit_identical(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(_cmd(straight), env=env, check=True, capture_output=True)
    proc = subprocess.Popen(_cmd(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while not (killed / "unet_train" / "checkpoint-2").is_dir() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "pretrain_complete.json").exists(), "the run finished before it could be killed"
    subprocess.run(_cmd(killed), env=env, check=True, capture_output=True)
    for part in ("unet", "vae"):
        a, b = _tensors(straight / part), _tensors(killed / part)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), part  # same machine: bit equality (EMA state included)
    steps = [json.loads(x)["step"] for x in (killed / "unet_train" / "logs.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 7))


def test_pretrain_refuses_test_images_and_bad_files(
    tire_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [
        "pretrain",
        "--data",
        str(tire_root),
        "--product",
        "tire",
        "--base-model",
        "tiny",
        "--output-dir",
        str(tmp_path / "p"),
        *FAST,
    ]
    assert main([*common, "--images", str(tire_root / "tire" / "test" / "good")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "is a held-out test image of the product" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([*common, "--images", str(empty)]) == 2
    assert "holds no image files" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "000.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    assert main([*common, "--images", str(broken)]) == 2
    assert "unreadable or truncated image" in capsys.readouterr().err
    assert main([*common, "--resolution", "100"]) == 2
    assert "--resolution: must be a positive multiple of 64" in capsys.readouterr().err
    assert main([*common, "--vae-crop", "30"]) == 2
    assert "--vae-crop" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()  # nothing is created before the inputs are known good


def test_vae_phase_alone_runs_under_bf16_autocast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import seas.pretrain.train as pretrain_train

    seen: list[tuple[bool, torch.dtype]] = []
    real = pretrain_train.vae_losses

    def spy(*args: object, **kwargs: object) -> dict[str, torch.Tensor]:
        seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pretrain_train, "vae_losses", spy)
    out = tmp_path / "prior"
    argv = [
        "pretrain",
        "--base-model",
        "tiny",
        "--vae-steps",
        "2",
        "--unet-steps",
        "1",
        "--sample-steps",
        "0",
        "--vae-crop",
        "32",
        "--cpu",
        "--vae-mixed-precision",
        "bf16",
        "--output-dir",
        str(out),
        *FAST,
    ]
    assert main(argv) == 0
    assert seen == [(True, torch.bfloat16)] * 2
    weights = _tensors(out)
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for k, v in weights.items() if "vae/" in k)
    logs = [json.loads(x) for x in (out / "unet_train" / "logs.jsonl").read_text().splitlines()]
    assert np.isfinite(logs[-1]["total"])
    record = json.loads((out / "config.json").read_text())
    assert record["config"]["PretrainConfig"]["vae_mixed_precision"] == "bf16"
    assert (
        main(
            [
                "pretrain",
                "--mixed-precision",
                "fp16",
                "--vae-mixed-precision",
                "bf16",
                "--output-dir",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
