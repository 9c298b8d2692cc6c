"""``seas evaluate quality``: does the offline pipeline make good pairs? Four measurements, each with a baseline.

1. VAE reconstruction of ``test/good`` (never trained on by a prior made with ``seas pretrain``): PSNR,
   SSIM and detail next to the mean-image baseline (:mod:`seas.evaluate.reconstruction`), plus a
   strip of originals over reconstructions (test/good and held-out defect images) to look at; and
   whether the VAE keeps the real held-out *defects* (error inside their masks vs a shuffled mask),
   with a magnified strip of them (``reconstruction_defects.png``).
2. Mask agreement of the generated pairs (:mod:`seas.evaluate.pairs`).
3. The RMP head as a segmenter of the real held-out defects (:mod:`seas.evaluate.pairs`).
4. Where the defect prompt changes the image, against the same seed and start with the normal prompt
   (:mod:`seas.evaluate.prompt_effect`; needs generated ``good/`` images, ``--normals``); for pairs with
   placed masks, inside the mask against a normal-prompt redraw of each pair (:mod:`seas.evaluate.placed_effect`).

Writes ``RUN/evaluation/quality.json``, ``quality.md``, ``reconstruction.png`` and ``reconstruction_defects.png``.
"""

from __future__ import annotations

import io
import time
from typing import Any

import numpy as np
import torch
from PIL import Image

from seas.config import QualityConfig, config_to_dict, package_versions
from seas.data.augment import to_training_mask, to_training_rgb
from seas.data.catalog import ProductData
from seas.data.imageio import read_mask, read_rgb
from seas.evaluate.downstream import generated_pairs, generated_types, load_eval_mask, load_eval_pairs, stack_pairs
from seas.evaluate.inputs import evaluation_inputs
from seas.evaluate.pairs import PooledPixelScores, derangement, rmp_segmentation
from seas.evaluate.placed_effect import placed_effect
from seas.evaluate.prompt_effect import VISIBLE, prompt_effect
from seas.evaluate.reconstruction import DefectFidelity, reconstruct, reconstruction_metrics, strip, zoom_strip
from seas.evaluate.segmenter import SegmenterTraining, defect_probabilities, train_segmenter
from seas.files import atomic_write_bytes, atomic_write_json, atomic_write_text
from seas.progress import Progress
from seas.run_folder import RunFolder, read_run
from seas.stage1.artifacts import load_generator
from seas.stage2.artifacts import load_rmp

__all__ = ["evaluate_quality", "format_quality"]


def _images(paths: list[Any], resolution: int) -> torch.Tensor:  # Any: Path
    """``[N, 3, R, R]`` in [-1, 1], cropped as for training."""
    return torch.stack([torch.from_numpy(to_training_rgb(read_rgb(p), resolution, "crop")) for p in paths])


def _streamed_scores(
    model: Any, pairs: list[Any], size: int, device: torch.device, shuffle_seed: int | None, batch: int = 32
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Pooled pixel scores of ``model`` on ``pairs`` against their masks (and against a derangement of them).

    Only the masks (bool) are held for all pairs; images are read and scored ``batch`` at a time, so
    memory stays flat at 1,000 pairs of 256² per type.
    """
    masks = np.stack([load_eval_mask(m, size) for _, m in pairs])
    shuffled = None
    if shuffle_seed is not None:
        order = derangement(len(pairs), shuffle_seed)
        shuffled = PooledPixelScores()
    own = PooledPixelScores()
    for k in range(0, len(pairs), batch):
        chunk = pairs[k : k + batch]
        x, _ = stack_pairs(load_eval_pairs(chunk, size), len(chunk))
        probs = defect_probabilities(model, x, device)
        own.add(probs, masks[k : k + batch])
        if shuffled is not None:
            shuffled.add(probs, masks[order[k : k + batch]])
    return own.result(), shuffled.result() if shuffled is not None else None


def _mask_agreement(cfg: QualityConfig, split: Any, types: list[str], device: torch.device) -> dict[str, Any]:
    """Real-only segmenter on generated images against generated masks; shuffled masks and real pairs as baselines."""
    size = cfg.eval_resolution
    train = [pair for t in types for pair in split.types[t].train] + [(p, None) for p in split.normals]
    images, masks = stack_pairs(load_eval_pairs(train, size), len(train))
    label = f"segmenter (real only, {len(images)} images)"
    model = train_segmenter(images, masks, SegmenterTraining.of(cfg), device, desc=label)
    del images, masks
    tree = RunFolder(cfg.run_dir).generated(split.product, cfg.generated)
    out: dict[str, Any] = {}
    listed = generated_types(tree, types)
    progress = Progress(len(listed), "mask agreement", unit="type")
    for t in listed:
        pairs = generated_pairs(tree, [t])
        generated, shuffled = _streamed_scores(model, pairs, size, device, cfg.seed)
        row: dict[str, Any] = {"pairs": len(pairs), "generated": generated, "shuffled_masks": shuffled}
        held = split.types[t].heldout
        if held:
            row["real_heldout"] = _streamed_scores(model, list(held), size, device, None)[0]
        out[t] = row
        progress.update()
    progress.close()
    return out


def _reconstruction(
    parts: Any, data: Any, split: Any, resolution: int, seed: int
) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """Metrics on test/good and on the held-out defects, and two pictures of originals over reconstructions.

    The strip shows test/good and one held-out defect per type; the zoom strip magnifies up to two
    held-out defects per type around their masks (None without held-out defects).
    """
    train = _images(list(split.normals), resolution)
    test = _images([s.image_path for s in data.test_normals], resolution)
    metrics: dict[str, Any] = dict(reconstruction_metrics(parts.vae, train, test))
    metrics["images"] = {"train_normals": len(train), "test_good": len(test)}
    shown = [s.image_path for s in data.test_normals][:4]
    shown += [split.types[t].heldout[0][0] for t in sorted(split.types) if split.types[t].heldout]
    originals = _images(shown, resolution)
    picture = strip([originals, reconstruct(parts.vae, originals)])
    held = [pair for t in sorted(split.types) for pair in split.types[t].heldout]
    if not held:
        return metrics, picture, None
    masks = torch.stack(
        [torch.from_numpy(to_training_mask(read_mask(m), resolution, "crop")[0] > 0.5) for _, m in held]
    )  # bool: small beside the images
    order = torch.from_numpy(derangement(len(held), seed))
    fidelity = DefectFidelity()
    for k in range(0, len(held), 16):  # images 16 at a time: flat memory
        images = _images([image for image, _ in held[k : k + 16]], resolution)
        fidelity.add(images, reconstruct(parts.vae, images), masks[k : k + 16], masks[order[k : k + 16]])
    metrics["defects"] = fidelity.result()
    first = [held.index(pair) for t in sorted(split.types) for pair in split.types[t].heldout[:2]]
    images = _images([held[i][0] for i in first], resolution)
    zoom = zoom_strip([images, reconstruct(parts.vae, images)], masks[first])
    return metrics, picture, zoom


def evaluate_quality(cfg: QualityConfig, data: ProductData | None = None) -> dict[str, Any]:  # Any: JSON results
    """Run the three measurements of the module docstring on a finished run; returns and writes the results."""
    started = time.perf_counter()
    folder = RunFolder(cfg.run_dir)
    run = read_run(cfg.run_dir, data)  # ``data``: the product's listing when the caller already made it
    data, split, model_cfg = run.data, run.split, run.model_cfg
    types = sorted(split.types)
    device = torch.device("cuda" if torch.cuda.is_available() and not cfg.cpu else "cpu")
    parts, token_map = load_generator(cfg.run_dir)
    for module in (parts.unet, parts.vae, parts.text_encoder):
        module.to(device).eval()
    recon, picture, zoom = _reconstruction(parts, data, split, model_cfg.resolution, cfg.seed)
    rmp = load_rmp(cfg.run_dir).fused_for_inference().to(device)
    tok = parts.tokenizer
    prompts = {}
    with torch.no_grad():
        for t in types:
            ids = tok(
                token_map.prompt(t),
                padding="max_length",
                max_length=tok.model_max_length,
                truncation=True,
                return_tensors="pt",
            ).input_ids.to(device)
            prompts[t] = parts.text_encoder(ids)[0][0]
    tree = folder.generated(split.product, cfg.generated)
    results: dict[str, Any] = {
        "product": split.product,
        "base_model": model_cfg.base_model,
        "resolution": model_cfg.resolution,
        "config": config_to_dict(cfg),
        "versions": package_versions(),
        "reconstruction": recon,
        "rmp_segmentation": rmp_segmentation(parts, rmp, prompts, split, model_cfg.resolution, cfg.seed, device),
        "mask_agreement": _mask_agreement(cfg, split, types, device),
        "prompt_effect": prompt_effect(tree, types, cfg.seed),
        # Last to use the models: it casts them to the dtype the pairs were made in.
        "placed_effect": placed_effect(parts, token_map, cfg.run_dir, tree, types, model_cfg.resolution, device),
        "inputs": evaluation_inputs(cfg.run_dir, tree),
    }
    results["seconds"] = time.perf_counter() - started
    out = folder.evaluation
    for name, array in (("reconstruction.png", picture), ("reconstruction_defects.png", zoom)):
        if array is not None:
            buffer = io.BytesIO()
            Image.fromarray(array).save(buffer, format="PNG")
            atomic_write_bytes(out / name, buffer.getvalue())
    atomic_write_json(out / "quality.json", results)
    atomic_write_text(out / "quality.md", format_quality(results) + "\n")
    return results


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _num(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _defect_fidelity_lines(row: dict[str, Any] | None) -> list[str]:  # Any: JSON results
    if row is None:
        return []
    head = "Does the VAE keep real defects? Reconstruction error of the held-out defect images (grey levels):"
    return [
        "",
        head,
        "",
        "| images | error inside the masks | outside | ratio | ratio, shuffled masks (a defect kept as well "
        "as any detail) |",
        "|---|---|---|---|---|",
        f"| {row['images']} | {_num(row['inside'], 2)} | {_num(row['outside'], 2)} | {_num(row['ratio'], 2)} "
        f"| {_num(row['shuffled_ratio'], 2)} |",
    ]


def _prompt_effect_lines(effect: dict[str, Any] | None, placed: bool) -> list[str]:  # Any: JSON results
    head = "Where the defect prompt changes the image (vs the normal prompt, same seed and start):"
    if effect is None and not placed:
        return ["", head + " not measured (generate normal images with --normals to measure it)."]
    if effect is None or (effect and all(row["pairs"] == 0 and row.get("placed_masks") for row in effect.values())):
        return [
            "",
            head + " not measured this way: the pairs have placed masks (--mask-source train), so outside "
            "the mask they are the reference image, not a generated twin (the next table redraws them with the "
            "normal prompt in the same masks).",
        ]
    lines = [
        "",
        head,
        "",
        "| defect type | pairs | mean change inside / outside the mask (grey levels) | ratio | "
        f"ratio, shuffled masks (≈ chance) | mask pixels changed > {VISIBLE} levels |",
        "|---|---|---|---|---|---|",
    ]

    for t, row in effect.items():
        g, s = row["generated"], row["shuffled_masks"]
        lines.append(
            f"| {t} | {row['pairs']} | {_num(g['inside'], 2)} / {_num(g['outside'], 2)} "
            f"| {_num(g['ratio'], 2)} | {_num(s['ratio'], 2)} | {_pct(g['visible_inside'])} % |"
        )
    return lines


def _placed_effect_lines(effect: dict[str, Any] | None) -> list[str]:  # Any: JSON results
    if not effect:
        return []
    lines = [
        "",
        "Placed masks: what the defect prompt draws inside the mask (each pair redrawn with the normal "
        "prompt, same seed, start and mask; grey levels of change from the reference photo):",
        "",
        "| defect type | pairs | own prompt | normal prompt | own vs normal (the defect tokens' part) | "
        f"mask pixels changed > {VISIBLE} levels, own / normal |",
        "|---|---|---|---|---|---|",
    ]
    for t, row in effect.items():
        lines.append(
            f"| {t} | {row['pairs']} | {_num(row.get('own'), 1)} | {_num(row.get('normal'), 1)} "
            f"| {_num(row.get('own_vs_normal'), 1)} | {_pct(row.get('own_visible'))} / "
            f"{_pct(row.get('normal_visible'))} % |"
        )
    return lines


def format_quality(results: dict[str, Any]) -> str:  # Any: JSON results
    """Markdown tables: reconstruction, mask agreement, RMP on real held-out defects, where the prompt acts."""
    rec = results["reconstruction"]
    lines = [
        "VAE reconstruction of test/good (never trained on):",
        "",
        "| | PSNR (dB) | SSIM | detail (gradient ratio) |",
        "|---|---|---|---|",
    ]
    for name, label in (("vae", "VAE reconstruction"), ("mean_image", "mean-image baseline")):
        lines.append(f"| {label} | {rec[name]['psnr_db']:.2f} | {rec[name]['ssim']:.4f} | {rec[name]['detail']:.3f} |")
    lines += _defect_fidelity_lines(rec.get("defects"))
    lines += [
        "",
        "Mask agreement (real-only segmenter on generated images, pixel AUROC / AP in %):",
        "",
        "| defect type | pairs | generated masks | shuffled masks (≈ chance) | real held-out (ceiling) |",
        "|---|---|---|---|---|",
    ]
    for t, row in results["mask_agreement"].items():
        cells = []
        for key in ("generated", "shuffled_masks", "real_heldout"):
            value = row.get(key, {})
            cells.append(f"{_pct(value.get('pixel_auroc'))} / {_pct(value.get('pixel_ap'))}")
        lines.append(f"| {t} | {row['pairs']} | " + " | ".join(cells) + " |")
    rmp = results["rmp_segmentation"]
    lines += [
        "",
        f"RMP head on real held-out defects (noised to t = {rmp['timesteps']}), in %:",
        "",
        "| defect type | images | pixel AUROC | pixel AP | AUPRO@0.3 | defect-pixel rate (AP of chance) |",
        "|---|---|---|---|---|---|",
    ]
    for t, row in [*rmp["per_type"].items(), ("pooled", rmp["pooled"])]:
        lines.append(
            f"| {t} | {row.get('images', 0)} | {_pct(row.get('pixel_auroc'))} | {_pct(row.get('pixel_ap'))} "
            f"| {_pct(row.get('aupro_0.3'))} | {_pct(row.get('defect_rate'))} |"
        )
    lines += _prompt_effect_lines(results.get("prompt_effect"), bool(results.get("placed_effect")))
    lines += _placed_effect_lines(results.get("placed_effect"))
    return "\n".join(lines)
