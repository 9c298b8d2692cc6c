"""What do the defect tokens draw inside a placed mask? A control for ``seas generate --mask-source train``.

With a placed mask the picture changes only inside the mask by construction, so a change there proves
nothing by itself: a small U-Net asked to redraw a hole in a tire patch may leave a smudge with any
prompt. This script regenerates every pair of a generated folder with the *normal* prompt "a <ob>"
(same seed, reference, mask, start and settings, read from the pair's record) and compares, inside the mask:

* ``own``: mean change from the reference photo with the type's prompt (the pair as written; includes the
  VAE's reconstruction error, a few grey levels);
* ``normal``: the same with the normal prompt (what redrawing the hole alone does);
* ``own_vs_normal``: mean difference between the two pictures (what the defect tokens add);
* the share of mask pixels changed by more than 8 grey levels for each.

It also writes a strip per type (reference, normal prompt, own prompt, own with the mask outlined; 2x).
Usage (about half a minute per 50 pairs on 2 CPU cores):

    python benchmarks/placed_mask_effect.py runs/X/tire --out docs/benchmarks/pair_quality/X
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seas.config import GenerateConfig
from seas.data.augment import to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.generate.pipeline import Job, MaskedSampler
from seas.run_folder import read_run
from seas.stage1.artifacts import load_generator

VISIBLE = 8  # grey levels, as seas evaluate quality


def _grey_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=2)


def _photo(path: Path, resolution: int) -> np.ndarray:
    """The reference photo at the resolution, uint8, as the sampler encodes it."""
    rgb = to_training_rgb(read_rgb(path), resolution, "crop")
    return np.round((rgb.transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)


def _outlined(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inner = mask & np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1)
    out = image.copy()
    out[mask & ~inner] = (255, 0, 0)
    return out


@torch.no_grad()
def measure(run: Path, generated: Path, out: Path, strip: int) -> dict[str, dict[str, float]]:
    parts, token_map = load_generator(run)
    resolution = read_run(run).model_cfg.resolution
    normal_prompt = token_map.prompt(None)
    names = {f.name for f in dataclasses.fields(GenerateConfig)}
    results, sampler = {}, None
    for folder in sorted(p for p in generated.iterdir() if (p / "manifest.jsonl").is_file() and p.name != "good"):
        records = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
        records = [r for r in records if "mask_from" in r]
        if not records:
            continue
        if sampler is None:
            settings = {k: v for k, v in records[0]["settings"].items() if k in names and k != "dtype"}
            cfg = GenerateConfig(model=run, **settings)
            sampler = MaskedSampler(parts, None, cfg, resolution, torch.device("cpu"), torch.float32)
        sums = {"own": [], "normal": [], "own_vs_normal": [], "own_visible": [], "normal_visible": []}
        rows = []
        for k in range(0, len(records), 8):
            batch = records[k : k + 8]
            masks = [read_mask(folder / r["mask"]) for r in batch]
            # The same start as the pair (with --placed-start defect: its training defect under the mask).
            jobs = [Job(r["index"], r["attempt"], r["seed"], normal_prompt, Path(r["reference"]), True, m,
                        r["mask_from"], Path(r["mask_from"]["image"]) if "image" in r["mask_from"] else None)
                    for r, m in zip(batch, masks, strict=True)]  # fmt: skip
            for r, m, result in zip(batch, masks, sampler.run(jobs), strict=True):
                own = read_rgb(folder / r["image"])
                reference = _photo(Path(r["reference"]), resolution)
                own_change, normal_change = _grey_change(own, reference)[m], _grey_change(result.image, reference)[m]
                sums["own"].append(own_change.mean())
                sums["normal"].append(normal_change.mean())
                sums["own_vs_normal"].append(_grey_change(own, result.image)[m].mean())
                sums["own_visible"].append((own_change > VISIBLE).mean())
                sums["normal_visible"].append((normal_change > VISIBLE).mean())
                if len(rows) < strip:
                    rows.append(np.concatenate([reference, result.image, own, _outlined(own, m)], axis=1))
        results[folder.name] = {"pairs": len(sums["own"]), **{k: float(np.mean(v)) for k, v in sums.items()}}
        grid = np.concatenate(rows, axis=0)
        Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.Resampling.NEAREST).save(
            out / f"placed_{folder.name}.png"
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="finished run folder (RUN/<product>)")
    parser.add_argument("--generated", type=Path, help="its generated pairs (default RUN/generated/<product>)")
    parser.add_argument("--out", type=Path, required=True, help="folder for placed_effect.json and the strips")
    parser.add_argument("--strip", type=int, default=4, help="pairs per type in the strip")
    args = parser.parse_args()
    generated = args.generated or args.run / "generated" / args.run.name
    args.out.mkdir(parents=True, exist_ok=True)
    results = measure(args.run, generated, args.out, args.strip)
    (args.out / "placed_effect.json").write_text(json.dumps(results, indent=1) + "\n")
    for name, row in results.items():
        print(f"{name:14s} pairs {row['pairs']:3d}  change inside the mask (grey levels): own {row['own']:.1f}, "
              f"normal prompt {row['normal']:.1f}, own vs normal {row['own_vs_normal']:.1f}; visible "
              f"{100 * row['own_visible']:.0f} % vs {100 * row['normal_visible']:.0f} %")  # fmt: skip


if __name__ == "__main__":
    main()
