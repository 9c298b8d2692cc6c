"""Peak memory (RSS) of generation, evaluation and the report at the scale users run: 8 folders x 1,000 pairs, 256².

CPU, the tiny model (the pixels do not matter here, only what is held in memory). Each command runs
in its own process under ``/usr/bin/time -v``:

1. ``seas train`` and ``seas train-mask`` (1 step each) at 256 px, the bundled tire sample;
2. ``seas generate`` into 8 folders (4 defect types + 4 two-type mixtures): 4 and 12 pairs per folder
   in batches of 4, and 12 in batches of 10 (the default): generation streams pairs to disk and runs
   its full-resolution work one image at a time, so its peak must grow with neither;
3. a tree of 8 x 1,000 pairs made of hard links to those pairs (manifests included), then
   ``seas evaluate segmentation`` (variant ``seas``: the largest training set; Perlin and CutPaste build
   one set of the same size at a time), ``seas evaluate quality`` and ``seas report`` on it.

Usage: python benchmarks/memory_scale.py WORK --out docs/benchmarks/memory
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from seas.ownership import remove_owned

PARTS = ("generate", "segmentation", "quality", "report")
COMBOS = ["combined+cut", "contamination+hole", "cut+hole", "combined+hole"]


def measured(label: str, args: list[str], rows: list[dict[str, object]]) -> None:
    """Run ``seas ARGS`` under /usr/bin/time -v and record its peak RSS and wall time."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "seas.cli", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        message = f"{label} failed:\n{done.stderr[-3000:]}"
        raise SystemExit(message)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))  # type: ignore[union-attr]
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)  # type: ignore[union-attr]
    rows.append({"step": label, "peak_rss_gib": round(rss_kb / 2**20, 3), "wall": wall})
    print(f"{label}: {rss_kb / 2**20:.2f} GiB peak RSS, {wall}", flush=True)


def fake_tree(source: Path, target: Path, per_folder: int) -> None:
    """``per_folder`` pairs per folder of ``source`` (= <out>/<product>) as hard links, with manifests."""
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        records = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
        out = target / folder.name
        (out / "image").mkdir(parents=True, exist_ok=True)
        (out / "mask").mkdir(parents=True, exist_ok=True)
        lines = []
        for index in range(per_folder):
            record = dict(records[index % len(records)])
            name = f"{index:04d}.png"
            for kind in ("image", "mask"):
                link = out / kind / name
                if not link.exists():
                    os.link(folder / record[kind], link)
                record[kind] = f"{kind}/{name}"
            record["index"] = index
            lines.append(json.dumps(record, sort_keys=True))
        (out / "manifest.jsonl").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pairs", type=int, default=1000, help="pairs per folder in the evaluated tree")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="which parts to measure")
    args = parser.parse_args()
    work: Path = args.work
    run = work / "run"
    rows: list[dict[str, object]] = []
    model = ["--base-model", "tiny", "--resolution", "256"]
    if not (run / "rmp" / "model.safetensors").is_file():
        measured("seas train (1 step, 256 px)", ["train", *model, "--max-steps", "1", "--run-dir", str(run)], rows)
        measured("seas train-mask (1 step)", ["train-mask", "--run-dir", str(run), "--max-steps", "1"], rows)
    gen = ["generate", "--run-dir", str(run), "--steps", "4", "--mask-steps", "2", "--combine", *COMBOS]
    # The count must not move the peak (pairs stream to disk), nor the batch size (full-resolution work
    # runs one image at a time); 10 is the default batch size.
    for count, batch in ((4, 4), (12, 4), (12, 10)) if "generate" in args.only else ():
        out = work / f"generated_b{batch}_{count}"
        for tree in (
            sorted(out.iterdir()) if out.is_dir() else []
        ):  # a rerun into finished pairs would generate nothing
            remove_owned(tree, "pairs", "choose another --work folder")
        sizes = ["--num-per-type", str(count), "--batch-size", str(batch)]
        measured(
            f"seas generate, 8 folders x {count} pairs, batch {batch}", [*gen, *sizes, "--output-dir", str(out)], rows
        )
    big = work / "generated_big"
    if args.only == ["generate"]:
        _write(rows, args.out / "generate")
        return
    if not big.is_dir():
        fake_tree(work / "generated_b4_12" / "tire", big / "tire", args.pairs)
    evaluation = ["--run-dir", str(run), "--generated", str(big), "--eval-resolution", "256", "--seg-epochs", "1"]
    if "segmentation" in args.only:
        measured(
            f"seas evaluate segmentation (seas variant, 4 x {args.pairs} pairs + real)",
            ["evaluate", "segmentation", *evaluation, "--variants", "seas"],
            rows,
        )
    if "quality" in args.only:
        measured(f"seas evaluate quality (8 x {args.pairs} pairs on disk)", ["evaluate", "quality", *evaluation], rows)
    if "report" in args.only:
        measured("seas report", ["report", "--run-dir", str(run), "--generated", str(big)], rows)
    _write(rows, args.out if args.only == list(PARTS) else args.out / "-".join(args.only))


def _write(rows: list[dict[str, object]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    table = ["| step | peak RSS (GiB) | wall |", "|---|---|---|"]
    table += [f"| {r['step']} | {r['peak_rss_gib']:.2f} | {r['wall']} |" for r in rows]
    (out / "results.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
