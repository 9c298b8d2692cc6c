"""What the RMP head's BatchNorm statistics do to masks (issue 8, item 3), on a finished run.

Three ways to normalise at inference, same trained weights:

* ``calibrated``: running statistics re-estimated after training on inference-like features (default);
* ``training``: running statistics as training left them (the reference's ``rmp_bn: eval`` numbers);
* ``batch``: statistics of the batch itself (the reference's generation code, ``--rmp-bn batch``).

Measured (1) as a segmenter of the run's real held-out defect images (noised to t = 40, 80, 120, the
type's prompt, scored against the true masks: pixel AUROC, AP, AUPRO) and (2) on generated pairs
(same seeds and images for every mode: mask coverage and the pixel agreement of each mode's masks
with the calibrated ones). Usage:

    python docs/research/scripts/rmp_batchnorm.py RUN --out docs/research/rmp_batchnorm [--pairs 4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seas.config import GenerateConfig
from seas.data.catalog import load_product
from seas.data.split import read_split
from seas.evaluate.pairs import rmp_segmentation
from seas.generate.pipeline import Job, MaskedSampler
from seas.generate.run import job_seed
from seas.run_folder import read_stage1_configs
from seas.stage1.artifacts import load_generator
from seas.stage2.artifacts import load_rmp

MODES = ("calibrated", "training", "batch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=4, help="generated pairs per defect type and mode")
    parser.add_argument("--config", type=Path, default=None, help="YAML whose generate settings to use (optional)")
    args = parser.parse_args()
    torch.manual_seed(0)
    data_cfg, model_cfg, _ = read_stage1_configs(args.run)
    data = load_product(data_cfg)
    split = read_split(args.run / "split.json", data)
    parts, token_map = load_generator(args.run)
    device = torch.device("cpu")
    for module in (parts.unet, parts.vae, parts.text_encoder):
        module.to(device).eval()
    prompts = {}
    with torch.no_grad():
        for t in sorted(split.types):
            ids = parts.tokenizer(token_map.prompt(t), padding="max_length", return_tensors="pt",
                                  max_length=parts.tokenizer.model_max_length, truncation=True).input_ids  # fmt: skip
            prompts[t] = parts.text_encoder(ids)[0][0]
    results: dict[str, Any] = {"run": str(args.run), "heldout": {}, "generated": {}}
    heads = {"calibrated": load_rmp(args.run).fused_for_inference(), "training": load_rmp(args.run, "training")}
    batch_head = load_rmp(args.run).train()  # per-image statistics (one held-out image at a time)
    with torch.no_grad():
        for mode, head in [*heads.items(), ("batch", batch_head)]:
            scores = rmp_segmentation(parts, head, prompts, split, model_cfg.resolution, 0, device)
            results["heldout"][mode] = scores["pooled"] | {"per_type": scores["per_type"]}
    settings = _generate_settings(args.config)
    masks: dict[str, list[np.ndarray]] = {}
    for mode in MODES:
        cfg = GenerateConfig(**settings, rmp_bn="batch" if mode == "batch" else "eval")
        sampler = MaskedSampler(parts, load_rmp(args.run, "training" if mode == "training" else "calibrated"), cfg,
                                model_cfg.resolution, device, torch.float32)  # fmt: skip
        jobs = [Job(n, 0, job_seed(cfg.seed, n, 0), token_map.prompt([t]), split.normals[n % len(split.normals)], True)
                for t in sorted(split.types) for n in range(args.pairs)]  # fmt: skip
        masks[mode] = []
        for start in range(0, len(jobs), cfg.batch_size):
            masks[mode] += [r.mask for r in sampler.run(jobs[start : start + cfg.batch_size]) if r.mask is not None]
    for mode in MODES:
        agree = [float((a == b).mean()) for a, b in zip(masks[mode], masks["calibrated"], strict=True)]
        results["generated"][mode] = {"pairs": len(masks[mode]),
                                      "mean_coverage": float(np.mean([m.mean() for m in masks[mode]])),
                                      "empty_masks": int(sum(not m.any() for m in masks[mode])),
                                      "pixel_agreement_with_calibrated": float(np.mean(agree))}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    (args.out / "results.md").write_text(_table(results))
    print(_table(results))


def _generate_settings(config: Path | None) -> dict[str, Any]:
    if config is None:
        return {}
    import yaml

    values = yaml.safe_load(config.read_text()) or {}
    keys = ("steps", "guidance", "start", "strength", "mask_steps", "mask_threshold", "seed", "batch_size")
    return {k: values[k] for k in keys if k in values}


def _table(results: dict[str, Any]) -> str:
    lines = ["RMP head on real held-out defects (pixel AUROC / AP / AUPRO@0.3 in %, defect-pixel rate in %):", "",
             "| statistics | AUROC | AP | AUPRO | rate |", "|---|---|---|---|---|"]  # fmt: skip
    for mode in MODES:
        row = results["heldout"][mode]

        def pct(value: float | None) -> str:
            return "–" if value is None else f"{100 * value:.2f}"

        lines.append(f"| {mode} | {pct(row.get('pixel_auroc'))} | {pct(row.get('pixel_ap'))} | "
                     f"{pct(row.get('aupro_0.3'))} | {pct(row.get('defect_rate'))} |")  # fmt: skip
    lines += ["", "Generated pairs (same seeds and images in every mode):", "",
              "| statistics | pairs | mean mask coverage (%) | empty masks | pixels equal to calibrated (%) |",
              "|---|---|---|---|---|"]  # fmt: skip
    for mode in MODES:
        row = results["generated"][mode]
        lines.append(f"| {mode} | {row['pairs']} | {100 * row['mean_coverage']:.3f} | {row['empty_masks']} | "
                     f"{100 * row['pixel_agreement_with_calibrated']:.2f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
