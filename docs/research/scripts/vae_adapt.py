"""Measure a VAE adaptation setting in minutes, without stage 1: held-out defects before and after.

``seas train --vae-adapt-steps N`` fine-tunes the base model's VAE on the run's training images before stage 1
(``seas.stage1.vae_adapt``). This runs the same adaptation on a finished run's ``split.json`` and prints, for the
base VAE and the adapted one, per defect type, ``seas evaluate quality``'s defect fidelity (reconstruction
error inside / outside the held-out defects' masks, ratio, and the ratio for another held-out image's mask)
and its ``test/good`` metrics (PSNR, SSIM, detail, next to the mean image), and saves held-out originals /
base / adapted reconstructions as one strip. Held-out images are only measured, never trained on.

Usage: python docs/research/scripts/vae_adapt.py BASE_MODEL RUN_DIR OUT.png [--steps 600] [--mask-weight 2]
[--adapted RUN_DIR/vae] (``--adapted``: measure a VAE that ``seas train --vae-adapt-steps`` already wrote).
"""

from __future__ import annotations

import argparse
import json
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
from seas.evaluate.pairs import derangement
from seas.evaluate.reconstruction import DefectFidelity, reconstruct, reconstruction_metrics, strip
from seas.models.loading import load_base_model
from seas.stage1.vae_adapt import adapt_vae

Held = dict[str, tuple[torch.Tensor, torch.Tensor]]  # defect type -> ([N, 3, R, R] images, [N, R, R] bool masks)


def _images(paths: list[Path], resolution: int) -> torch.Tensor:
    return torch.stack([torch.from_numpy(to_training_rgb(read_rgb(p), resolution, "crop")) for p in paths])


def _report(vae: Any, held: Held, normals: torch.Tensor, good: torch.Tensor, seed: int) -> dict[str, Any]:
    """Per type ``seas evaluate quality``'s defect fidelity (pooled pixels, deranged masks); test/good metrics."""
    out: dict[str, Any] = {}
    for kind, (images, masks) in held.items():
        fidelity = DefectFidelity()
        fidelity.add(images, reconstruct(vae, images), masks, masks[torch.from_numpy(derangement(len(masks), seed))])
        out[kind] = fidelity.result()
    out["test_good"] = reconstruction_metrics(vae, normals, good)
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
    held: Held = {}
    for t, entry in sorted(record["types"].items()):
        images = _images([root / i["image"] for i in entry["heldout"]], args.resolution)
        masks = [
            to_training_mask(read_mask(root / i["mask"]), args.resolution, "crop")[0] > 0.5 for i in entry["heldout"]
        ]
        held[t] = images, torch.from_numpy(np.stack(masks))
    normals = _images(list(split.normals), args.resolution)
    good = _images(sorted((root / record["product"] / "test" / "good").glob("*.png")), args.resolution)
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
              "last_losses": log[-1], "base": _report(base, held, normals, good, args.seed),
              "adapted": _report(tuned, held, normals, good, args.seed)}  # fmt: skip
    print(json.dumps(result, indent=1))
    shown = torch.cat([images[:4] for images, _ in held.values()])
    Image.fromarray(strip([shown, reconstruct(base, shown), reconstruct(tuned, shown)])).save(args.out)


if __name__ == "__main__":
    main()
