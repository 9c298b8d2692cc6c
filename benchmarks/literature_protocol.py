"""The downstream protocol of the anomaly-generation papers, every product in one command (GPU hours).

Per product: ``seas run`` with the method's settings (800 stage-1 and 800 stage-2 steps per defect
type, 1,000 pairs per type by default), then one segmenter trained on the real training third plus the
pairs and tested on the other two thirds of every defect type and all of ``test/good`` (``--split all``:
the papers have no validation set), over ``--seg-repeats`` seeds. Written to OUT: ``<product>.json``
(the run's segmentation result), ``table.md`` and ``table.json``: one row per product and the mean, in
the published tables' columns, beside the published means this script cites. A product whose result is
in OUT is skipped; ``seas run`` resumes a product killed half-way.

Expected GPU time per product, from the step counts (docs/benchmarks/README.md has the measured step
times once a GPU has run them): stage 1 and stage 2 each ``800 x types`` optimiser steps (the authors
report about an hour per defect type for both on an A100) plus ``0.7 s x 1,000 x types`` for the pairs;
MVTec AD's 15 products hold 73 defect types, so about 73 hours for the whole data set.

    python benchmarks/literature_protocol.py --data /data/mvtec_ad --layout mvtec \
        --base-model CompVis/stable-diffusion-v1-4 --out runs/literature [--products bottle cable]
    python benchmarks/literature_protocol.py --smoke --out /tmp/literature   # the bundled tire sample, tiny model
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import seas
from seas.data.catalog import bundled_sample_root
from seas.files import atomic_write_json, atomic_write_text

# The published tables' columns, in their order (segmentation.json metric names).
COLUMNS = ("pixel_auroc", "pixel_ap", "pixel_f1max", "image_auroc", "image_ap", "image_f1max")
HEADERS = ("px AUROC", "px AP", "px F1-max", "img AUROC", "img AP", "img F1-max")
# Published MVTec AD means (percent) on this protocol, as issue 28 of this project quotes them; not re-checked
# against the papers here (their text was not reachable offline): compare with care.
PUBLISHED = {
    "SeaS, re-run in a shared-protocol table (as quoted in issue 28)": {
        "pixel_auroc": 98.7,
        "pixel_ap": 83.1,
        "pixel_f1max": 78.1,
    },
    "DualAnoDiff, arXiv 2408.13509 (as quoted in issue 28)": {"pixel_ap": 84.5},
    "O2MAG (as quoted in issue 28)": {"pixel_ap": 86.3},
}
SMOKE = {
    "base_model": "tiny",
    "resolution": 64,
    "max_steps": 2,
    "steps": 5,
    "mask_steps": 2,
    "num_per_type": 2,
    "eval_resolution": 64,
    "seg_epochs": 1,
}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="dataset root (MVTec AD or VisA)")
    parser.add_argument("--layout", default="mvtec", help="seas layout of --data (mvtec, visa, mvtec3d)")
    parser.add_argument("--base-model", default="CompVis/stable-diffusion-v1-4", help="hub id or local folder")
    parser.add_argument("--products", nargs="*", default=None, help="products to run (default: all of --data)")
    parser.add_argument("--num-per-type", type=int, default=1000, help="generated pairs per defect type")
    parser.add_argument("--seg-repeats", type=int, default=5, help="segmenter seeds per product")
    parser.add_argument("--out", type=Path, required=True, help="results folder (runs under OUT/runs)")
    parser.add_argument("--smoke", action="store_true", help="the bundled tire sample with the tiny model, on CPU")
    return parser.parse_args(argv)


def _products(args: argparse.Namespace) -> list[str]:
    if args.products:
        return list(args.products)
    return sorted(p.name for p in args.data.iterdir() if (p / "test").is_dir())


def _row(result: dict[str, Any], variant: str) -> dict[str, float]:  # Any: JSON
    mean = result["variants"][variant]["mean"]
    return {k: 100 * mean[k] for k in COLUMNS}


def run_product(args: argparse.Namespace, product: str, options: dict[str, Any]) -> dict[str, Any]:  # Any: JSON
    """The product's segmentation result: read from OUT when there, else ``seas run`` and then read."""
    record = args.out / f"{product}.json"
    if record.is_file():
        return json.loads(record.read_text(encoding="utf-8"))
    print(f"literature protocol: {product}", file=sys.stderr, flush=True)
    (run,) = seas.run(data=args.data, layout=args.layout, product=product, run_dir=args.out / "runs", **options)
    result = json.loads((run.root / "evaluation" / "segmentation.json").read_text(encoding="utf-8"))
    atomic_write_json(record, result)
    return result


def format_tables(rows: dict[str, dict[str, dict[str, float]]], seeds: int) -> str:
    """Markdown: per product the real-only and SeaS rows, the mean over products, then the published means."""
    lines = [
        f"Pixel and image metrics in percent, mean over each product's defect types and {seeds} segmenter seed(s);",
        "test: the held-out two thirds of every defect type and all of test/good (`--split all`).",
        "",
        "| product | training set | " + " | ".join(HEADERS) + " |",
        "|" + "---|" * (len(COLUMNS) + 2),
    ]
    for product, sets in rows.items():
        for name, values in sets.items():
            lines.append(f"| {product} | {name} | " + " | ".join(f"{values[k]:.2f}" for k in COLUMNS) + " |")
    for name in ("real only", "real + SeaS pairs"):
        mean = {k: sum(sets[name][k] for sets in rows.values()) / len(rows) for k in COLUMNS}
        lines.append(f"| **mean** | {name} | " + " | ".join(f"{mean[k]:.2f}" for k in COLUMNS) + " |")
    lines += ["", "Published MVTec AD means on this protocol (sources in the row):", ""]
    lines += ["| source | " + " | ".join(HEADERS) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    for source, values in PUBLISHED.items():
        lines.append(f"| {source} | " + " | ".join(f"{values[k]:.1f}" if k in values else "–" for k in COLUMNS) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    options: dict[str, Any] = {
        "base_model": args.base_model,
        "num_per_type": args.num_per_type,
        "split": "all",
        "variants": ("real", "seas"),
        "seg_repeats": args.seg_repeats,
        "report": False,
    }
    if args.smoke:
        args.data, args.layout, args.products = bundled_sample_root(), "mvtec", args.products or ["tire"]
        options = {**options, **SMOKE, "seg_repeats": min(args.seg_repeats, 2)}
    if args.data is None:
        print("error: --data is required (or --smoke)", file=sys.stderr)
        return 2
    rows = {}
    for product in _products(args):
        result = run_product(args, product, options)
        rows[product] = {"real only": _row(result, "real"), "real + SeaS pairs": _row(result, "seas")}
    seeds = int(options["seg_repeats"])
    atomic_write_json(args.out / "table.json", {"rows": rows, "published": PUBLISHED, "seg_repeats": seeds})
    table = format_tables(rows, seeds)
    atomic_write_text(args.out / "table.md", table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
