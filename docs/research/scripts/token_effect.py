"""Do a run's defect tokens act where the defect is? Two measurements on its real defect images.

1. Attention share: the fraction of the U-Net's own cross-attention (softmax over the 77 tokens, the DA
   layers, heads and layers averaged) that goes to the type's defect tokens, inside the true mask versus
   outside it. Uniform attention gives about 4/77 = 5.2 % in both places.
2. Denoising gain: the U-Net's ε error inside the true mask with the type's own prompt, the normal
   prompt and another type's prompt, on the same noised latents. Tokens that learned the defect's
   appearance predict the noise inside the defect better than the normal prompt does.

Both on the run's stage-1 training defects and on its held-out ones, at t = 100, 300, 500, the noise
seeded per image. Usage (about a minute per run on 2 CPU cores):

    python docs/research/scripts/token_effect.py runs/A/tire runs/B/tire --out docs/research/pair_quality/token_effect.json
"""

from __future__ import annotations

import argparse
import json
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from seas.data.augment import to_training_mask, to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.run_folder import read_stage1_configs
from seas.stage1.artifacts import load_generator
from seas.stage1.attention import AttentionCapture, capturing, install_capture_processors
from seas.stage1.prompts import encode_prompts, prompt_tables

TIMESTEPS = (100, 300, 500)


@torch.no_grad()
def measure(run: Path, part: str, per_type: int) -> dict[str, dict[str, float]]:
    """Per defect type: attention share inside / outside the masks and ε error inside them per prompt."""
    parts, token_map = load_generator(run)
    prompt_ids, positions = prompt_tables(parts, token_map)
    keys: list[str | None] = [None, *token_map.defect_types]
    context = encode_prompts(parts.text_encoder, prompt_ids, keys, torch.device("cpu"))
    split = json.loads((run / "split.json").read_text())
    _, model_cfg, train_cfg = read_stage1_configs(run)  # the size and resize stage 1 trained with
    root, resolution, resize = Path(split["root"]), model_cfg.resolution, train_cfg.resize
    processors = install_capture_processors(parts.unet, "down")
    types = token_map.defect_types
    out = {}
    for k, defect_type in enumerate(types):
        other = types[(k + 1) % len(types)]
        sums = {"share_in": [], "share_out": [], "own": [], "normal": [], "other": []}
        for i, pair in enumerate(split["types"][defect_type][part][:per_type]):
            image = torch.from_numpy(to_training_rgb(read_rgb(root / pair["image"]), resolution, resize))[None]
            mask = torch.from_numpy(to_training_mask(read_mask(root / pair["mask"]), resolution, resize))[None]
            z0 = parts.vae.encode(image).latent_dist.mean * parts.scaling_factor
            latent_mask = F.adaptive_avg_pool2d(mask.float(), z0.shape[-2:])  # [1, 1, h, w] defect share per cell
            for t in TIMESTEPS:
                noise = torch.randn(z0.shape, generator=torch.Generator().manual_seed(1000 * i + t))
                noisy = parts.scheduler.add_noise(z0, noise, torch.tensor([t]))
                capture = AttentionCapture(positions[defect_type][None], tuple(z0.shape[-2:]), "token")
                for name, key in (("own", defect_type), ("normal", None), ("other", other)):
                    row = keys.index(key)
                    with capturing(processors, capture) if name == "own" else nullcontext():
                        eps = parts.unet(noisy, torch.tensor([t]), context[row : row + 1]).sample
                    error = (eps - noise).square().mean(dim=1, keepdim=True)
                    sums[name].append(float((error * latent_mask).sum() / latent_mask.sum().clamp_min(1e-8)))
                for level in capture.maps.values():  # own prompt; [1, m, H, W], column 0 is the product token
                    share = level[:, 1:].sum(dim=1, keepdim=True)
                    inside = F.adaptive_max_pool2d(mask.float(), share.shape[-2:]) >= 0.5
                    sums["share_in"].append(float(share[inside].mean()))
                    sums["share_out"].append(float(share[~inside].mean()))
        out[defect_type] = {name: float(np.mean(v)) for name, v in sums.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="finished stage-1 run folders (<output-dir>/<product>)")
    parser.add_argument("--per-type", type=int, default=9, help="defect images per type and part")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here")
    args = parser.parse_args()
    result = {}
    for run in args.runs:
        result[str(run)] = {part: measure(run, part, args.per_type) for part in ("train", "heldout")}
        for part, rows in result[str(run)].items():
            print(f"{run} {part}")
            for defect_type, r in rows.items():
                share = f"share in/out {100 * r['share_in']:5.1f} / {100 * r['share_out']:4.1f} %"
                error = f"eps error in mask own / normal / other {r['own']:.3f} / {r['normal']:.3f} / {r['other']:.3f}"
                print(f"  {defect_type:14s} {share}  {error}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
