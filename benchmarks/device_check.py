"""One device check: SD-sized speed and memory numbers plus a pipeline smoke run, as one JSON file and a table.

Run through ``benchmarks/device_check.sh OUTDIR [--smoke]``. On a CUDA GPU (no network needed:
``sd15-random`` has Stable Diffusion 1.5's shapes with random weights) it times, each in its own
process so every run gets its own precision:

* ``seas benchmark train`` at 512²: fp32, bf16, bf16 + 8-bit AdamW + gradient checkpointing, bf16 + LoRA
  rank 4: seconds per optimiser step, SeaS/stock (median of interleaved pairs), peak CUDA memory;
* ``seas benchmark generate`` at 512², batch 16, fp16: ms per image and SeaS/stock;
* ``seas run`` at 512², bf16, a few steps per stage, 4 pairs per defect type: must write every mask.

``--smoke`` runs the same sequence with the tiny model at 64² on any machine (the test suite does), so
the script is known to work before a GPU is lent. A variant whose optional package is missing is
recorded as skipped with the reason. Writes ``OUTDIR/device_check.json`` and ``OUTDIR/device_check.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

BF16 = ["--mixed-precision", "bf16"]
TARGETS = {"s_per_step_bf16": 0.15, "gib_8bit_checkpointing": 16.0, "gib_lora": 10.0, "ms_per_image": 120.0}


def _sizes(smoke: bool) -> dict[str, Any]:
    if smoke:
        return {
            "model": "tiny",
            "resolution": "64",
            "steps": "2",
            "warmup": "1",
            "batch": "2",
            "run_steps": "1",
            "pairs": "1",
            "timeout": 600,
        }
    return {
        "model": "sd15-random",
        "resolution": "512",
        "steps": "6",
        "warmup": "2",
        "batch": "16",
        "run_steps": "4",
        "pairs": "4",
        "timeout": 420,
    }


def _seas(args: list[str], timeout: int) -> tuple[int, str, float]:
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "seas.cli", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        return done.returncode, (done.stdout + done.stderr)[-2000:], time.perf_counter() - start
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout} s", time.perf_counter() - start


def _last_row(path: Path) -> dict[str, Any] | None:
    if not path.is_file() or not path.read_text().strip():
        return None
    return json.loads(path.read_text().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--smoke", action="store_true", help="tiny model at 64 px, any machine")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    size = _sizes(args.smoke)
    common = ["--base-model", size["model"], "--resolution", size["resolution"]]
    timing = ["--steps", size["steps"], "--warmup", size["warmup"]]
    report: dict[str, Any] = {
        "smoke": args.smoke,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "targets": TARGETS,
        "train": {},
    }
    train_variants = {
        "fp32": ["--mixed-precision", "no"],
        "bf16": BF16,
        "bf16_8bit_checkpointing": [*BF16, "--optimizer", "adamw8bit", "--gradient-checkpointing"],
        "bf16_lora4": [*BF16, "--lora-rank", "4"],
    }
    needs = {"bf16_8bit_checkpointing": "bitsandbytes", "bf16_lora4": "peft"}
    for name, flags in train_variants.items():
        package = needs.get(name)
        if package and importlib.util.find_spec(package) is None:
            report["train"][name] = {"skipped": f"{package} is not installed"}
            continue
        rows = out / f"train_{name}.jsonl"
        rc, tail, seconds = _seas(
            ["benchmark", "train", *common, *timing, *flags, "--results", str(rows)], size["timeout"]
        )
        row = _last_row(rows)
        report["train"][name] = {"rc": rc, "seconds": round(seconds, 1)} | (
            {"stock": row["stock_step"], "seas": row["seas_step"], "seas_over_stock": row["seas_over_stock_spread"]}
            if rc == 0 and row
            else {"error": tail}
        )
    rows = out / "generate.jsonl"
    dtype_note = "fp16 on CUDA (the benchmark's choice), fp32 on CPU"
    rc, tail, seconds = _seas(
        ["benchmark", "generate", *common, *timing, "--batch", size["batch"], "--results", str(rows)], size["timeout"]
    )
    row = _last_row(rows)
    report["generate"] = {"rc": rc, "seconds": round(seconds, 1), "dtype": dtype_note} | (
        {"stock": row["stock_img2img"], "seas": row["seas_image_and_mask"], "seas_over_stock": row["seas_over_stock"]}
        if rc == 0 and row
        else {"error": tail}
    )
    data = Path(__file__).resolve().parents[1] / "demo" / "sample_data"
    run_dir = out / "run"
    rc, tail, seconds = _seas(
        [
            "run",
            "--data",
            str(data),
            "--layout",
            "mvtec",
            "--product",
            "tire",
            *common,
            "--max-steps",
            size["run_steps"],
            "--num-per-type",
            size["pairs"],
            "--mixed-precision",
            "bf16",
            "--no-evaluate",
            "--no-report",
            "--run-dir",
            str(run_dir),
        ],
        size["timeout"],
    )
    masks = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("mask/*.png"))  # RUN/<product>/generated/...
    report["run"] = {"rc": rc, "seconds": round(seconds, 1), "masks": len(masks)}
    if rc:
        report["run"]["error"] = tail
    (out / "device_check.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    (out / "device_check.md").write_text(_table(report))
    print(_table(report))
    ok = report["run"]["rc"] == 0 and masks and all(v.get("rc", 0) == 0 for v in report["train"].values())
    return 0 if ok and report["generate"]["rc"] == 0 else 1


def _table(report: dict[str, Any]) -> str:
    lines = [
        f"device check on {report['device']} (torch {report['torch']}, CUDA {report['cuda']}, "
        f"smoke={report['smoke']})",
        "",
        "| train variant | s/step stock | s/step SeaS | SeaS/stock (IQR) | peak GiB SeaS |",
        "|---|---|---|---|---|",
    ]
    for name, row in report["train"].items():
        if "seas" not in row:
            lines.append(f"| {name} | – | – | {row.get('skipped') or 'failed'} | – |")
            continue
        memory = row["seas"].get("peak_gib", row["seas"].get("process_peak_rss_gib", 0.0))
        ratio = row["seas_over_stock"]
        lines.append(
            f"| {name} | {row['stock']['median_s']:.3f} | {row['seas']['median_s']:.3f} | "
            f"{ratio['median']:.3f} ({ratio['q25']:.3f}-{ratio['q75']:.3f}) | {memory:.2f} |"
        )
    gen = report["generate"]
    if "seas" in gen:
        lines += [
            "",
            f"generate: stock {gen['stock']['ms_per_image']:.1f} ms/image, SeaS image + mask "
            f"{gen['seas']['ms_per_image']:.1f} ms/image, SeaS/stock {gen['seas_over_stock']:.3f}",
        ]
    else:
        lines += ["", "generate: failed"]
    lines += [
        f"seas run smoke: rc {report['run']['rc']}, {report['run']['masks']} masks, {report['run']['seconds']:.0f} s",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
