"""What do the defect tokens draw inside a placed mask? A control for ``seas generate --mask-source train``.

With a placed mask the picture changes only inside the mask by construction, so a change there proves
nothing by itself: a small U-Net asked to redraw a hole in a tire patch may leave a smudge with any
prompt. This script runs ``seas.evaluate.placed_effect`` (also part of ``seas evaluate quality``: every
pair redrawn with the normal prompt "a <ob>", same seed, reference, mask, start and settings; own vs
normal change inside the mask) on any generated folder, and writes a strip per type (reference, normal
prompt, own prompt, own with the mask outlined; 2x). Usage:

    python docs/research/scripts/placed_mask_effect.py runs/X/tire --out docs/research/pair_quality/X
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seas.data.imageio import read_rgb
from seas.evaluate.placed_effect import PlacedEffect, normal_twins, placed_records, reference_photo, sampler_for
from seas.run_folder import read_run
from seas.stage1.artifacts import load_generator


def _outlined(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inner = mask & np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1)
    out = image.copy()
    out[mask & ~inner] = (255, 0, 0)
    return out


@torch.no_grad()
def measure(run: Path, generated: Path, out: Path, strip: int) -> dict[str, dict[str, float]]:
    parts, token_map = load_generator(run)
    resolution = read_run(run).model_cfg.resolution
    results = {}
    for folder in sorted(p for p in generated.iterdir() if (p / "manifest.jsonl").is_file() and p.name != "good"):
        records = placed_records(folder)
        if not records:
            continue
        sampler = sampler_for(parts, records[0], run, resolution, torch.device("cpu"))
        effect, rows = PlacedEffect(), []
        for record, mask, twin in normal_twins(sampler, token_map.prompt(None), folder, records):
            own, reference = read_rgb(folder / record["image"]), reference_photo(Path(record["reference"]), resolution)
            effect.add(own, twin, reference, mask)
            if len(rows) < strip:
                rows.append(np.concatenate([reference, twin, own, _outlined(own, mask)], axis=1))
        results[folder.name] = effect.result()
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
