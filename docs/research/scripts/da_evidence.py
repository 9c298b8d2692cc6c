"""Evidence that the DA loss works: DA on versus DA off on the real MVTec 3D-AD tire data.

Trains the built-in tiny model twice with the same seed and steps (``--da-weight 1`` and ``0``),
both starting from the same denoising-only "prior" run (``--prior-steps``; 0 starts from random
weights), then scores the held-out two thirds of every defect type: the mean anomaly-token cross-attention
map (DA layers, spatial softmax, at three noise levels) is compared with the true mask by pixel
AUROC. Usage (about 20 minutes on 2 CPU cores):

    python docs/research/scripts/da_evidence.py --data ../shared/data/mvtec3d_tire --work runs/da_prior \
        --out docs/research/da_evidence
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel

from seas.data.augment import to_training_mask, to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.evaluate.segmentation import auroc
from seas.stage1.artifacts import load_generator
from seas.stage1.attention import AttentionCapture, capturing, install_capture_processors
from seas.stage1.losses import aggregate_level_maps

TIMESTEPS = (200, 500, 800)


def train(run: Path, data: Path, resolution: int, steps: int, da_weight: float,
          base_model: str = "tiny") -> subprocess.Popen[bytes]:  # fmt: skip
    cmd = [sys.executable, "-m", "seas.cli", "train", "--data", str(data), "--layout", "mvtec", "--product", "tire",
           "--base-model", base_model, "--resolution", str(resolution), "--max-steps", str(steps), "--seed", "0",
           "--learning-rate", "1e-4", "--token-learning-rate", "1e-3", "--da-weight", str(da_weight),
           "--checkpointing-steps", "0", "--log-steps", "10", "--output-dir", str(run)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}  # the two runs share 2 cores
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@torch.no_grad()
def attention_maps(run: Path, resolution: int, part: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per defect type: anomaly-token attention score maps ``[n, R, R]`` and true masks, for ``part`` of the split."""
    parts, token_map = load_generator(run)
    split = json.loads((run / "split.json").read_text())
    root = Path(split["root"])
    processors = install_capture_processors(parts.unet, "down")
    tok, latent = parts.tokenizer, resolution // 8
    out = {}
    for defect_type, entry in split["types"].items():
        ids = tok(token_map.prompt(defect_type), padding="max_length", max_length=77, return_tensors="pt").input_ids
        hidden = parts.text_encoder(ids)[0]
        wanted = tok.convert_tokens_to_ids(list(token_map.normal) + list(token_map.anomaly[defect_type]))
        columns = torch.tensor([[int((ids[0] == w).nonzero()[0, 0]) for w in wanted]])
        scores, labels = [], []
        for k, pair in enumerate(entry[part]):
            image = torch.from_numpy(to_training_rgb(read_rgb(root / pair["image"]), resolution, "crop"))[None]
            mask = to_training_mask(read_mask(root / pair["mask"]), resolution, "crop")[0] >= 0.5
            z0 = parts.vae.encode(image).latent_dist.mean * parts.scaling_factor
            score = torch.zeros(resolution, resolution)
            for t in TIMESTEPS:
                noise = torch.randn(z0.shape, generator=torch.Generator().manual_seed(1000 * k + t))
                noisy = parts.scheduler.add_noise(z0, noise, torch.tensor([t]))
                capture = AttentionCapture(columns, (latent, latent), "spatial")
                with capturing(processors, capture):
                    parts.unet(noisy, torch.tensor([t]), hidden)
                for level in aggregate_level_maps(capture.maps, "down").values():
                    anomaly = level[:, 1:].mean(dim=1, keepdim=True)  # [1, 1, H, W]
                    score += F.interpolate(anomaly, size=(resolution, resolution), mode="bilinear")[0, 0]
            scores.append(score.numpy())
            labels.append(mask)
        out[defect_type] = (np.stack(scores), np.stack(labels))
    return out


def summarise(maps: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Pixel AUROC per type and pooled (raw scores), and the mean per-image AUROC (localisation within an image)."""
    result = {t: auroc(s, y) for t, (s, y) in maps.items()}
    result["pooled"] = auroc(np.concatenate([s.ravel() for s, _ in maps.values()]),
                             np.concatenate([y.ravel() for _, y in maps.values()]))  # fmt: skip
    per_image = [auroc(s, y) for scores, masks in maps.values() for s, y in zip(scores, masks, strict=True) if y.any()]
    result["mean_per_image"] = float(np.mean(per_image))
    return result


def make_prior(work: Path, data: Path, resolution: int, steps: int) -> Path:
    """A denoising-only run of the tiny model (no DA), saved as a diffusers base-model folder.

    Stands in for a pretrained Stable Diffusion: its features depend on the image, as a real prior's do.
    """
    folder = work / "prior_model"
    if (folder / "unet").is_dir():
        return folder
    run = work / "prior_run"
    if train(run, data, resolution, steps, 0.0).wait() != 0:
        msg = "prior training failed"
        raise SystemExit(msg)
    from seas.models.builtin import build_builtin

    parts = build_builtin("tiny", 0, resolution)
    for name in ("vae", "text_encoder", "tokenizer", "scheduler"):
        parts[name].save_pretrained(folder / name)
    UNet2DConditionModel.from_pretrained(run / "unet").save_pretrained(folder / "unet")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder holding tire/ (MVTec AD layout)")
    parser.add_argument("--out", type=Path, default=Path("docs/research/da_evidence"), help="results folder")
    parser.add_argument("--work", type=Path, default=Path("runs/da_evidence"), help="run folders")
    parser.add_argument("--resolution", type=int, default=128, help="training and scoring size")
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps per run")
    parser.add_argument("--prior-steps", type=int, default=600,
                        help="first train a denoising-only prior this long and start both runs from it")  # fmt: skip
    parser.add_argument("--base-model", default="tiny",
                        help="start both runs from this model (tiny-tire: no stand-in prior is trained)")  # fmt: skip
    args = parser.parse_args()
    base = args.base_model
    if base != "tiny":
        args.prior_steps = 0
    if args.prior_steps:
        base = str(make_prior(args.work, args.data, args.resolution, args.prior_steps))
    runs = {"da_on": (args.work / "da_on", 1.0), "da_off": (args.work / "da_off", 0.0)}
    todo = [(run, w) for run, w in runs.values() if not (run / "train_complete.json").is_file()]
    procs = [train(run, args.data, args.resolution, args.steps, w, base) for run, w in todo]  # in parallel
    if any(p.wait() != 0 for p in procs):
        msg = "training failed; rerun one variant by hand with seas train to see why"
        raise SystemExit(msg)
    results: dict[str, object] = {"resolution": args.resolution, "steps": args.steps, "timesteps": TIMESTEPS,
                                  "prior_steps": args.prior_steps, "base_model": base}  # fmt: skip
    for name, (run, _) in runs.items():
        results[name] = summarise(attention_maps(run, args.resolution, "heldout"))
        results[f"{name}_train_images"] = summarise(attention_maps(run, args.resolution, "train"))
        logs = [json.loads(line) for line in (run / "logs.jsonl").read_text().splitlines()]
        keys = ("step", "total", "anomaly_mse", "na", "da_32", "da_16")
        results[f"{name}_loss_curve"] = [{k: r[k] for k in keys} for r in logs]
    args.out.mkdir(parents=True, exist_ok=True)
    name = "results_with_prior.json" if args.prior_steps else "results.json"
    if base != "tiny":
        name = f"results_{base.replace('/', '_')}.json"
    (args.out / name).write_text(json.dumps(results, indent=2) + "\n")
    for name in runs:
        print(name, "held-out", json.dumps(results[name]))
        print(name, "training images", json.dumps(results[f"{name}_train_images"]))


if __name__ == "__main__":
    main()
