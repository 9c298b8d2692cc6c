"""Measure a VAE adaptation setting in minutes, without stage 1: held-out defects before and after.

``seas train --vae-adapt-steps N`` fine-tunes the base model's VAE on the run's training images before stage 1
(``seas.stage1.vae_adapt``). This runs the same adaptation on a finished run's ``split.json`` and prints, for the
base VAE and the adapted one, the held-out defects' reconstruction error inside / outside their masks (ratio;
the same ratio for the next image's mask) and the ``test/good`` PSNR, and saves held-out originals / base /
adapted reconstructions as one strip (``--out``). Held-out images are only measured, never trained on.

Usage: python benchmarks/vae_adapt.py BASE_MODEL RUN_DIR OUT.png [--steps 600] [--mask-weight 2]
[--adapted RUN_DIR/vae] (``--adapted``: measure a VAE that ``seas train --vae-adapt-steps`` already wrote).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL
from PIL import Image

from seas.data.augment import to_training_mask, to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.data.split import DataSplit, TypeSplit
from seas.models.loading import load_base_model
from seas.stage1.vae_adapt import adapt_vae

Pair = tuple[np.ndarray, np.ndarray]


@torch.no_grad()
def _reconstruct(vae: Any, rgb: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    x = torch.from_numpy(to_training_rgb(rgb, resolution, "crop"))[None]
    y = vae.decode(vae.encode(x).latent_dist.mean).sample.clamp(-1, 1)
    return ((x[0] + 1) * 127.5).permute(1, 2, 0).numpy(), ((y[0] + 1) * 127.5).permute(1, 2, 0).numpy()


def _report(vae: Any, held: dict[str, list[Pair]], good: list[np.ndarray], resolution: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, items in sorted(held.items()):
        inside, outside, shuffled = [], [], []
        masks = [to_training_mask(m, resolution, "crop")[0] > 0.5 for _, m in items]
        for j, (rgb, _) in enumerate(items):
            a, b = _reconstruct(vae, rgb, resolution)
            err = np.abs(a - b).mean(-1)
            own, other = masks[j], masks[(j + 1) % len(items)]
            inside.append(err[own].mean())
            outside.append(err[~own].mean())
            shuffled.append(err[other].mean() / err[~other].mean())
        mean_in, mean_out = float(np.mean(inside)), float(np.mean(outside))
        out[kind] = {"inside": mean_in, "outside": mean_out, "ratio": mean_in / mean_out,
                     "shuffled_ratio": float(np.mean(shuffled))}  # fmt: skip
    pairs = (_reconstruct(vae, g, resolution) for g in good)
    out["test_good_psnr"] = float(np.mean([10 * math.log10(255**2 / float(((a - b) ** 2).mean())) for a, b in pairs]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_model")
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--mask-weight", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adapted", type=Path, help="an adapted VAE folder to measure instead of adapting here")
    args = parser.parse_args()
    record = json.loads((args.run / "split.json").read_text(encoding="utf-8"))
    root = Path(record["root"])
    types = {t: TypeSplit(train=tuple((root / i["image"], root / i["mask"]) for i in s["train"]), heldout=())
             for t, s in record["types"].items()}  # fmt: skip
    split = DataSplit(record["product"], Fraction(record["train_fraction"]), types,
                      tuple(root / p for p in record["normals"]))  # fmt: skip
    held = {t: [(read_rgb(root / i["image"]), read_mask(root / i["mask"])) for i in s["heldout"]]
            for t, s in sorted(record["types"].items())}  # fmt: skip
    good = [read_rgb(p) for p in sorted((root / record["product"] / "test" / "good").glob("*.png"))]
    base = load_base_model(args.base_model, resolution=args.resolution).vae.eval()
    start = time.time()
    if args.adapted is not None:
        tuned = AutoencoderKL.from_pretrained(args.adapted).eval()
        log = json.loads((args.adapted / "adaptation_log.json").read_text(encoding="utf-8"))
    else:
        tuned, log = adapt_vae(base, split, steps=args.steps, mask_weight=args.mask_weight, lr=args.lr,
                               per_group=args.batch, resolution=args.resolution, resize="crop",
                               augment="rot90_flip", seed=args.seed, device=torch.device("cpu"))  # fmt: skip
    result = {"settings": {k: str(v) for k, v in vars(args).items()}, "seconds": round(time.time() - start, 1),
              "last_losses": log[-1], "base": _report(base, held, good, args.resolution),
              "adapted": _report(tuned, held, good, args.resolution)}  # fmt: skip
    print(json.dumps(result, indent=1))
    rows = []
    for items in held.values():
        for rgb, _ in items[:4]:
            original, before = _reconstruct(base, rgb, args.resolution)
            rows.append(np.concatenate([original, before, _reconstruct(tuned, rgb, args.resolution)[1]], 0))
    Image.fromarray(np.concatenate(rows, 1).round().astype(np.uint8)).save(args.out)


if __name__ == "__main__":
    main()
