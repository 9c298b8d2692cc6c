"""``seas evaluate segmentation``: the downstream protocol of spec 2.12, with baselines in the same run.

Test set: the held-out two thirds of every defect type (from the run's ``split.json``: the
generator never saw them) plus ``test/good``. Training sets, each with the same recipe and seed:
``real`` = real training third + normal training images (empty masks); ``perlin``, ``cutpaste`` =
``real`` plus as many synthetic pairs as there are SeaS pairs; ``seas`` = ``real`` plus the
generated pairs. Metrics (spec 2.11) per defect type (its held-out images + all good test images),
their unweighted mean, and pooled over the product.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from seas.config import DownstreamConfig, config_to_dict, package_versions
from seas.data.catalog import ProductData
from seas.data.imageio import read_mask, read_rgb
from seas.errors import InputFileError
from seas.evaluate.inputs import evaluation_inputs
from seas.evaluate.segmentation import segmentation_metrics
from seas.evaluate.segmenter import RECIPE, defect_probabilities, train_segmenter
from seas.evaluate.synthetic import cutpaste, perlin_defect
from seas.files import atomic_write_json, atomic_write_text
from seas.run_folder import RunFolder, read_run

__all__ = [
    "evaluate_segmentation",
    "format_table",
    "generated_pairs",
    "load_eval_image",
    "load_eval_mask",
    "load_eval_pairs",
    "stack_pairs",
    "synthetic_pairs",
]

SYNTHETIC_KINDS = ("perlin", "cutpaste")
METRICS = ("image_auroc", "image_ap", "image_f1max", "pixel_auroc", "pixel_ap", "pixel_f1max", "aupro_0.3",
           "iou_oracle", "iou_at_f1")  # fmt: skip


def load_eval_image(path: Path, size: int) -> np.ndarray:
    """``[size, size, 3]`` uint8 (stretched: no crop can cut a defect off)."""
    return np.asarray(Image.fromarray(read_rgb(path)).resize((size, size), Image.Resampling.BILINEAR))


def load_eval_mask(path: Path | None, size: int) -> np.ndarray:
    """``[size, size]`` bool, nearest-neighbour resized (spec 2.11); all False without a mask."""
    if path is None:
        return np.zeros((size, size), dtype=bool)
    return np.asarray(Image.fromarray(read_mask(path)).resize((size, size), Image.Resampling.NEAREST))


def load_eval_pairs(pairs: Iterable[tuple[Path, Path | None]], size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(image, mask) arrays of (image, mask-or-None) paths, read one at a time as they are consumed."""
    return ((load_eval_image(i, size), load_eval_mask(m, size)) for i, m in pairs)


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


def stack_pairs(items: Iterable[tuple[np.ndarray, np.ndarray]], count: int | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``[N, 3, H, W]`` uint8 images and ``[N, H, W]`` bool masks, filled one pair at a time.

    With ``count`` (the number of items) an iterator is consumed lazily, so peak memory is the
    stack itself, never a list of arrays beside it.
    """
    if count is None:
        items = list(items)
        count = len(items)
    images = masks = None
    for k, (image, mask) in enumerate(items):
        if images is None or masks is None:
            images = torch.empty((count, 3, *image.shape[:2]), dtype=torch.uint8)
            masks = torch.empty((count, *mask.shape), dtype=torch.bool)
        images[k] = torch.tensor(image).permute(2, 0, 1)  # a copy: PIL-backed arrays are read-only
        masks[k] = torch.tensor(mask)
    if images is None or masks is None:
        return torch.empty((0, 3, 0, 0), dtype=torch.uint8), torch.empty((0, 0, 0), dtype=torch.bool)
    return images, masks


def synthetic_pairs(kind: str, normals: list[tuple[np.ndarray, np.ndarray]], count: int,
                    seed: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """``count`` Perlin (DRAEM-style) or CutPaste pairs made from the uint8 ``normals``, built as consumed.

    Each kind draws from its own seeded stream, so a set does not depend on which others were requested.
    """
    rng = np.random.default_rng([seed, SYNTHETIC_KINDS.index(kind)])
    for _ in range(count):
        base = normals[rng.integers(len(normals))][0] / 255.0
        if kind == "perlin":
            image, mask = perlin_defect(base, normals[rng.integers(len(normals))][0] / 255.0, rng)
        else:
            image, mask = cutpaste(base, rng)
        yield (image * 255.0).round().astype(np.uint8), mask


def _variant_metrics(cfg: DownstreamConfig, variant: str, base: list[tuple[np.ndarray, np.ndarray]],
                     extra: Iterator[tuple[np.ndarray, np.ndarray]], extra_count: int,
                     test: dict[str, tuple[torch.Tensor, torch.Tensor]], device: torch.device,
                     ) -> dict[str, Any]:  # fmt: skip
    """Train one variant's segmenter (its training stack lives only in this call) and score every type.

    The segmenter is trained once per seed (``seg_repeats`` of them) on the same stack; ``per_type`` and
    ``mean`` are averages over the runs; with more than one, ``runs`` holds each run's mean over types
    and ``spread`` their standard deviation (ddof 1).
    """
    started = time.perf_counter()
    images, masks = stack_pairs(itertools.chain(base, extra), len(base) + extra_count)
    repeats = cfg.seg_repeats
    runs = []
    for r in range(repeats):
        label = f"segmenter ({variant}, {len(images)} images" + (f", run {r + 1}/{repeats})" if repeats > 1 else ")")
        model = train_segmenter(images, masks, cfg.seg_epochs, cfg.seg_batch_size, cfg.seg_lr, cfg.seed + r, device,
                                desc=label)  # fmt: skip
        runs.append({t: segmentation_metrics(defect_probabilities(model, x, device), y.numpy())
                     for t, (x, y) in test.items()})  # fmt: skip
    # The mean over one run is that run's value, so one code path serves every repeat count.
    per_type = {t: {k: float(np.mean([run[t][k] for run in runs])) for k in runs[0][t]} for t in test}
    mean = {k: float(np.mean([per_type[t][k] for t in test])) for k in METRICS}
    out: dict[str, Any] = {"per_type": per_type, "mean": mean}
    if repeats > 1:
        out["runs"] = [{k: float(np.mean([run[t][k] for t in test])) for k in METRICS} for run in runs]
        out["spread"] = {k: float(np.std([run[k] for run in out["runs"]], ddof=1)) for k in METRICS}
    out["seconds"] = time.perf_counter() - started
    return out


def evaluate_segmentation(cfg: DownstreamConfig, data: ProductData | None = None) -> dict[str, Any]:  # Any: JSON
    """Train and evaluate every variant; write ``<run>/evaluation/segmentation.json`` and ``.md``.

    Images are held as uint8; the generated and synthetic sets are read or built only for the
    variants requested, while that variant's training set is stacked.
    """
    run = read_run(cfg.model, data)  # ``data``: the product's listing when the caller already made it
    data, split = run.data, run.split
    size = cfg.eval_resolution
    device = torch.device("cuda" if torch.cuda.is_available() and not cfg.cpu else "cpu")
    types = sorted(split.types)
    real = list(load_eval_pairs([pair for t in types for pair in split.types[t].train], size))
    normals = list(load_eval_pairs([(p, None) for p in split.normals], size))
    test_good = list(load_eval_pairs([(s.image_path, None) for s in data.test_normals], size))
    # Stacked once: every variant is scored on the same tensors.
    test = {t: stack_pairs(list(load_eval_pairs(split.types[t].heldout, size)) + test_good) for t in types}
    paths: list[tuple[Path, Path]] = []
    tree = RunFolder(cfg.model).generated(split.product, cfg.generated)
    if any(v in cfg.variants for v in ("seas", *SYNTHETIC_KINDS)):  # the synthetic sets match the SeaS count
        paths = generated_pairs(tree, types)
    count = len(paths)
    counts = {"real_pairs": len(real), "normals": len(normals), "extra_pairs": count,
              "test_defect": sum(len(split.types[t].heldout) for t in types), "test_good": len(test_good)}  # fmt: skip
    results: dict[str, Any] = {"recipe": RECIPE, "config": config_to_dict(cfg), "product": split.product,
                               "counts": counts, "versions": package_versions(), "variants": {},
                               "inputs": evaluation_inputs(cfg.model, tree)}  # fmt: skip
    for variant in cfg.variants:
        extra: Iterator[tuple[np.ndarray, np.ndarray]]
        if variant == "real":
            extra, n = iter(()), 0
        elif variant == "seas":
            extra, n = load_eval_pairs(paths, size), count
        else:
            extra, n = synthetic_pairs(variant, normals, count, cfg.seed), count
        results["variants"][variant] = _variant_metrics(cfg, variant, real + normals, extra, n, test, device)
    out_dir = RunFolder(cfg.model).evaluation
    atomic_write_json(out_dir / "segmentation.json", results)
    atomic_write_text(out_dir / "segmentation.md", format_table(results) + "\n")
    return results


def format_table(results: dict[str, Any]) -> str:  # Any: JSON results
    """Markdown table in percent with 2 decimals: one row per training set (mean over defect types).

    With ``seg_repeats`` > 1 each cell also shows ± the standard deviation over the segmenter seeds.
    """
    names = {"real": "real only", "perlin": "real + Perlin (DRAEM-style)", "cutpaste": "real + CutPaste",
             "seas": "real + SeaS pairs"}  # fmt: skip
    header = "| training set | " + " | ".join(METRICS) + " |"
    lines = [header, "|" + "---|" * (len(METRICS) + 1)]
    known = [v for v in names if v in results["variants"]]  # fixed row order: JSON files store keys sorted
    for variant in known + sorted(set(results["variants"]) - set(known)):
        value = results["variants"][variant]
        spread = value.get("spread", {})
        cells = " | ".join(f"{100 * value['mean'][k]:.2f}" + (f" ± {100 * spread[k]:.2f}" if k in spread else "")
                           for k in METRICS)  # fmt: skip
        lines.append(f"| {names.get(variant, variant)} | {cells} |")
    return "\n".join(lines)
