"""``seas evaluate segmentation``: the downstream protocol of spec 2.12, with baselines in the same run.

Test set: the held-out two thirds of every defect type (from the run's ``split.json``: the
generator never saw them) plus ``test/good``. Training sets, each with the same recipe and seed:
``real`` = real training third + normal training images (empty masks); ``perlin``, ``cutpaste`` =
``real`` plus as many synthetic pairs as there are SeaS pairs; ``seas`` = ``real`` plus the
generated pairs. Metrics (spec 2.11) per defect type (its held-out images + all good test images),
their unweighted mean, and pooled over the product.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from seas.config import DownstreamConfig, config_to_dict, package_versions
from seas.data.catalog import load_product
from seas.data.imageio import read_mask, read_rgb
from seas.data.split import read_split
from seas.errors import InputFileError
from seas.evaluate.segmentation import segmentation_metrics
from seas.evaluate.segmenter import RECIPE, train_segmenter
from seas.evaluate.synthetic import cutpaste, perlin_defect
from seas.files import atomic_write_json, atomic_write_text
from seas.stage2.train import read_stage1_configs

__all__ = [
    "evaluate_segmentation",
    "format_table",
    "generated_pairs",
    "load_eval_image",
    "load_eval_mask",
    "stack_pairs",
]

METRICS = ("image_auroc", "image_ap", "image_f1max", "pixel_auroc", "pixel_ap", "pixel_f1max", "aupro_0.3",
           "iou_oracle", "iou_at_f1")  # fmt: skip


def load_eval_image(path: Path, size: int) -> np.ndarray:
    """``[size, size, 3]`` float in [0, 1] (stretched: no crop can cut a defect off)."""
    return np.asarray(Image.fromarray(read_rgb(path)).resize((size, size), Image.Resampling.BILINEAR)) / 255.0


def load_eval_mask(path: Path | None, size: int) -> np.ndarray:
    """``[size, size]`` bool, nearest-neighbour resized (spec 2.11); all False without a mask."""
    if path is None:
        return np.zeros((size, size), dtype=bool)
    return np.asarray(Image.fromarray(read_mask(path)).resize((size, size), Image.Resampling.NEAREST))


def generated_pairs(tree: Path, types: list[str]) -> list[tuple[Path, Path]]:
    """(image, mask) paths of every generated pair of ``types`` under ``tree`` (= <out>/<product>), manifest order."""
    pairs = []
    for t in types:
        manifest = tree / t / "manifest.jsonl"
        if not manifest.is_file():
            raise InputFileError(manifest, "no generated pairs for this defect type", "run seas generate first")
        for line in manifest.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            pairs.append((tree / t / record["image"], tree / t / record["mask"]))
    return pairs


def stack_pairs(items: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, 3, H, W]`` float images and ``[N, H, W]`` bool masks from (image, mask) arrays."""
    images = torch.from_numpy(np.stack([i for i, _ in items])).permute(0, 3, 1, 2).float()  # [N, 3, H, W]
    return images, torch.from_numpy(np.stack([m for _, m in items]))


def evaluate_segmentation(cfg: DownstreamConfig) -> dict[str, Any]:  # Any: JSON results
    """Train and evaluate every variant; write ``<run>/evaluation/segmentation.json`` and ``.md``."""
    data_cfg, _, _ = read_stage1_configs(cfg.model)
    data = load_product(data_cfg)
    split = read_split(cfg.model / "split.json", data)
    size, rng = cfg.eval_resolution, np.random.default_rng(cfg.seed)
    device = torch.device("cuda" if torch.cuda.is_available() and not cfg.cpu else "cpu")
    types = sorted(split.types)
    real = [(load_eval_image(i, size), load_eval_mask(m, size)) for t in types for i, m in split.types[t].train]
    normals = [(load_eval_image(p, size), load_eval_mask(None, size)) for p in split.normals]
    test_good = [(load_eval_image(s.image_path, size), load_eval_mask(None, size)) for s in data.test_normals]
    test = {t: [(load_eval_image(i, size), load_eval_mask(m, size)) for i, m in split.types[t].heldout] for t in types}
    generated: list[tuple[np.ndarray, np.ndarray]] = []
    if "seas" in cfg.variants or "perlin" in cfg.variants or "cutpaste" in cfg.variants:
        tree = (cfg.generated or cfg.model / "generated") / split.product
        generated = [(load_eval_image(i, size), load_eval_mask(m, size)) for i, m in generated_pairs(tree, types)]
    count = len(generated)
    extra = {
        "real": [],
        "seas": generated,
        "perlin": [perlin_defect(normals[rng.integers(len(normals))][0], normals[rng.integers(len(normals))][0], rng)
                   for _ in range(count)],
        "cutpaste": [cutpaste(normals[rng.integers(len(normals))][0], rng) for _ in range(count)],
    }  # fmt: skip
    counts = {"real_pairs": len(real), "normals": len(normals), "extra_pairs": count,
              "test_defect": sum(len(v) for v in test.values()), "test_good": len(test_good)}  # fmt: skip
    results: dict[str, Any] = {"recipe": RECIPE, "config": config_to_dict(cfg), "product": split.product,
                               "counts": counts, "versions": package_versions(), "variants": {}}  # fmt: skip
    for variant in cfg.variants:
        started = time.perf_counter()
        images, masks = stack_pairs(real + normals + list(extra[variant]))
        model = train_segmenter(
            images,
            masks,
            cfg.seg_epochs,
            cfg.seg_batch_size,
            cfg.seg_lr,
            cfg.seed,
            device,
            desc=f"segmenter ({variant}, {len(images)} images)",
        )
        per_type = {}
        with torch.no_grad():
            for t in types:
                x, y = stack_pairs(test[t] + test_good)
                probs = torch.cat(
                    [model(x[i : i + 16].to(device)).softmax(1)[:, 1].cpu() for i in range(0, len(x), 16)]
                )
                per_type[t] = segmentation_metrics(probs.numpy(), y.numpy())
        mean = {k: float(np.mean([per_type[t][k] for t in types])) for k in METRICS}
        results["variants"][variant] = {"per_type": per_type, "mean": mean, "seconds": time.perf_counter() - started}
    out_dir = cfg.model / "evaluation"
    atomic_write_json(out_dir / "segmentation.json", results)
    atomic_write_text(out_dir / "segmentation.md", format_table(results) + "\n")
    return results


def format_table(results: dict[str, Any]) -> str:  # Any: JSON results
    """Markdown table in percent with 2 decimals: one row per training set (mean over defect types)."""
    names = {"real": "real only", "perlin": "real + Perlin (DRAEM-style)", "cutpaste": "real + CutPaste",
             "seas": "real + SeaS pairs"}  # fmt: skip
    header = "| training set | " + " | ".join(METRICS) + " |"
    lines = [header, "|" + "---|" * (len(METRICS) + 1)]
    known = [v for v in names if v in results["variants"]]  # fixed row order: JSON files store keys sorted
    for variant in known + sorted(set(results["variants"]) - set(known)):
        value = results["variants"][variant]
        cells = " | ".join(f"{100 * value['mean'][k]:.2f}" for k in METRICS)
        lines.append(f"| {names.get(variant, variant)} | {cells} |")
    return "\n".join(lines)
