"""The ``seas`` command line: one entry point, one sub-command per pipeline stage.

Each sub-command names the config dataclasses it uses; their fields become its flags, and ``main``
resolves them (defaults < preset < ``--config`` file < flags) before the command runs. User errors
(:class:`~seas.errors.SeasError`) print one ``error: ...`` line and exit with status 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seas import __version__
from seas.config import (
    BenchmarkConfig,
    DataConfig,
    DownstreamConfig,
    GenerateConfig,
    GenerationMetricsConfig,
    MaskTrainConfig,
    ModelConfig,
    PasteConfig,
    PatchConfig,
    PretrainConfig,
    QualityConfig,
    ReportConfig,
    TrainConfig,
    dumps,
)
from seas.config_flags import add_config_flags, resolve_configs
from seas.errors import SeasError, storage_error
from seas.locks import writer_lock, writer_locks
from seas.pipeline import RUN_CONFIGS
from seas.run_folder import RunFolder

Handler = Callable[[argparse.Namespace, list[Any]], int]  # Any: the command's resolved config dataclasses


def _log_to_console() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _inspect(args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.data.catalog import load_product
    from seas.data.inspection import format_report, inspect_product
    from seas.data.split import make_split, read_split

    (data_cfg,) = configs
    data = load_product(data_cfg)
    split = read_split(data_cfg.split_file, data) if data_cfg.split_file else make_split(data, data_cfg.train_ratio)
    report = inspect_product(data, split)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _pretrain(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.pretrain.train import pretrain

    _log_to_console()
    with writer_lock(configs[-1].output_dir):
        out = pretrain(*configs)
    print(f"prior done: {out} (use it with --base-model {out})")
    return 0


def _patches(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.data.catalog import load_product
    from seas.data.patches import cut_patches

    data_cfg, patch_cfg = configs
    data = load_product(data_cfg)
    with writer_lock(patch_cfg.output_dir):
        out = cut_patches(data, patch_cfg)
    print(f"patches of {data.product} in {out} (use them with --data {patch_cfg.output_dir} --product {data.product} "
          f"--resolution {patch_cfg.size})")  # fmt: skip
    return 0


def _paste(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.generate.paste import paste_pairs

    (cfg,) = configs
    with writer_lock(cfg.output_dir):
        counts = paste_pairs(cfg)
    pairs = ", ".join(f"{k}: {v}" for k, v in counts.items())
    print(f"full-size pairs in {cfg.output_dir / cfg.generated.name} ({pairs})")
    return 0


def _train(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.stage1.train import train

    _log_to_console()
    with writer_lock(configs[-1].run_dir):
        print(f"stage 1 done: {train(*configs)}")
    return 0


def _train_mask(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.stage2.train import train_mask

    _log_to_console()
    with writer_lock(configs[-1].run_dir):
        print(f"stage 2 done: {train_mask(*configs)}")
    return 0


def _pairs_line(summary: dict[str, Any]) -> str:
    counts = ", ".join(f"{k}: {v}" for k, v in summary.items() if k not in ("out", "anomalib"))
    return f"image/mask pairs in {summary['out']} ({counts})"


def _generate(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.generate.run import generate, precheck_folders

    _log_to_console()
    (cfg,) = configs
    precheck_folders(cfg)  # overlapping folders are refused before the lock tidies anything
    with writer_lock(cfg.output_dir or RunFolder(cfg.run_dir).generated_out):
        summary = generate(cfg)
    print(_pairs_line(summary))
    if "anomalib" in summary:
        print(f"anomalib Folder dataset in {cfg.export_anomalib}: {summary['anomalib']}")
    return 0


def _run(args: argparse.Namespace, _configs: list[Any]) -> int:
    from seas.config_flags import load_config_file
    from seas.pipeline import check_folders, product_run, products, run_product

    _log_to_console()
    from_file = load_config_file(args.config) if getattr(args, "config", None) else {}
    named = vars(args).get("product", from_file.get("product"))
    runs = []
    for product in products(named, vars(args).get("data", from_file.get("data"))):
        ns = argparse.Namespace(**vars(args))
        if product is not None:
            ns.product = product  # one product per resolution (a flag beats the file's list)
        elif hasattr(ns, "product"):
            del ns.product
        runs.append(product_run(resolve_configs(RUN_CONFIGS, ns), product))
    for run in runs:  # every product's settings and folders checked before the first one starts
        if not args.print_config:
            check_folders(run)
    for run in runs:
        if args.print_config:
            print(dumps([run.run, run.data, run.model, run.train, run.mask, run.generate, run.evaluate, run.quality]))
            continue
        pairs = run.generate.output_dir or RunFolder(run.train.run_dir).generated_out  # product_run fills it in
        with writer_locks([run.train.run_dir, pairs]):  # the run folder and the pairs' folder
            run_product(run)
    return 0


def _evaluate_segmentation(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.evaluate.downstream import evaluate_segmentation, format_table

    _log_to_console()
    (cfg,) = configs
    out = RunFolder(cfg.run_dir).evaluation
    with writer_lock(out):
        results = evaluate_segmentation(cfg)
    print(format_table(results))
    print(f"written to {out}/segmentation.json and .md")
    return 0


def _evaluate_quality(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.evaluate.quality import evaluate_quality, format_quality

    _log_to_console()
    (cfg,) = configs
    out = RunFolder(cfg.run_dir).evaluation
    with writer_lock(out):
        print(format_quality(evaluate_quality(cfg)))
    print(f"written to {out}/quality.json, quality.md, reconstruction.png and reconstruction_defects.png")
    return 0


def _evaluate_generation(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.evaluate.generation import evaluate_generation

    _log_to_console()
    (cfg,) = configs
    with writer_lock(RunFolder(cfg.run_dir).evaluation):
        results = evaluate_generation(cfg)
    print(f"IC-LPIPS {results['mean_ic_lpips']:.4f}, IS {results['mean_is_mean']:.4f} ({cfg.net}, cap {cfg.cap})")
    return 0


def _report(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.report.build import build_report

    (cfg,) = configs
    index = build_report(cfg.run_dir, cfg.output_dir, cfg.generated, cfg.per_type)
    print(f"report: {index}")
    return 0


def _benchmark_train(_args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.benchmark.train_step import BenchmarkSettings, run_train_benchmark
    from seas.training import check_optional_packages

    model_cfg, bench_cfg = configs
    check_optional_packages(bench_cfg.optimizer, bench_cfg.lora_rank)
    results = run_train_benchmark(
        BenchmarkSettings(model_cfg.base_model, model_cfg.resolution, bench_cfg, model_cfg.model_seed)
    )
    stock, seas = results["stock_step"], results["seas_step"]
    memory = "peak_gib" if "peak_gib" in stock else "process_peak_rss_gib"
    print(f"{model_cfg.base_model} @ {model_cfg.resolution}px on {results['hardware']} ({results['device']}, "
          f"{results['dtype']})")  # fmt: skip
    print(f"stock diffusers step: {stock['median_s'] * 1000:.1f} ms  ({memory} {stock[memory]:.2f})")
    print(f"SeaS step:            {seas['median_s'] * 1000:.1f} ms  ({memory} {seas[memory]:.2f})")
    _print_ratio(results, bench_cfg.results)
    return 0


def _print_ratio(results: dict[str, Any], target: Path | None) -> None:  # Any: JSON values
    from seas.benchmark.train_step import write_result

    spread = results["seas_over_stock_spread"]
    where = "not written: pass --results FILE to keep it"
    if target is not None:
        write_result(results, target)
        where = f"appended to {target}"
    print(f"SeaS / stock:         {results['seas_over_stock']:.3f} (median of {spread['pairs']} interleaved pairs, "
          f"IQR {spread['q25']:.3f}-{spread['q75']:.3f}; {where})")  # fmt: skip


def _benchmark_generate(args: argparse.Namespace, configs: list[Any]) -> int:
    from seas.benchmark.generate_step import run_generate_benchmark

    model_cfg, bench_cfg = configs
    results = run_generate_benchmark(model_cfg.base_model, model_cfg.resolution, bench_cfg, args.batch)
    stock, seas = results["stock_img2img"], results["seas_image_and_mask"]
    print(f"{model_cfg.base_model} @ {model_cfg.resolution}px, batch {args.batch}, on {results['hardware']} "
          f"({results['dtype']})")  # fmt: skip
    print(f"stock img2img (image): {stock['ms_per_image']:.1f} ms/image")
    print(f"SeaS (image + mask):  {seas['ms_per_image']:.1f} ms/image")
    _print_ratio(results, bench_cfg.results)
    return 0


def _command(sub: Any, name: str, help_text: str, description: str, configs: list[type], handler: Handler,
             resolve: bool = True) -> argparse.ArgumentParser:  # fmt: skip  # Any: argparse's sub-parser action
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=description, allow_abbrev=False)
    parser.add_argument("--config", type=Path, help="YAML or TOML file of options; command-line flags override it.")
    parser.add_argument("--print-config", action="store_true", help="Print the resolved configuration and exit.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks for errors.")
    add_config_flags(parser, configs)
    parser.set_defaults(handler=handler, config_classes=configs if resolve else None)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The full ``seas`` argument parser."""
    # No abbreviations: a retired spelling (--out, --model) must fail, not match --output-dir or --model-seed.
    parser = argparse.ArgumentParser(
        prog="seas",
        allow_abbrev=False,
        description="SeaS: generate realistic industrial defect images with exact pixel masks from a few examples.",
    )
    parser.add_argument("--version", action="version", version=f"seas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = _command(
        sub, "inspect", "Check a product's data and show what training would use.",
        "Read every image and mask of a product, show counts, the train/held-out split per defect type, mask "
        "coverage and warnings. With no --data, inspects the bundled tire sample.", [DataConfig], _inspect,
    )  # fmt: skip
    inspect.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    _command(
        sub, "patches", "Cut a product into native-resolution patches (small defects stay several latent cells wide).",
        "Write an MVTec-layout copy of a product made of --size px squares cut at the photos' own resolution: "
        "--per-normal patches on the product of each normal training image, one per test normal, one around each "
        "defect (its mask cut with it). Every other command then runs on it with --data OUTPUT_DIR at --resolution "
        "SIZE. Use it when training below the photos' resolution would shrink defects under one latent cell (8 px).",
        [DataConfig, PatchConfig], _patches,
    )  # fmt: skip
    _command(
        sub, "pretrain", "Stage 0: train a product prior (VAE + U-Net) from defect-free images, offline.",
        "Train a base model that --base-model accepts from a product's defect-free images only (train/good of the "
        "layout, or --images folders; never test images). From a built-in random model (tiny, tiny-slim) the VAE "
        "is trained first, then the text-conditioned U-Net; from a real Stable Diffusion checkpoint only the U-Net "
        "is fine-tuned. Writes a diffusers folder to --output-dir; resumes from its newest checkpoint.",
        [DataConfig, ModelConfig, PretrainConfig], _pretrain,
    )  # fmt: skip
    _command(
        sub, "train", "Stage 1: fine-tune the generator (UA tokens, DA + NA losses).",
        "Fine-tune Stable Diffusion on one product: defect images with their masks and normal images in one shared "
        "step. Writes unet/, tokenizer/, token rows, token_map.json, split.json and logs to --run-dir; resumes "
        "from its newest checkpoint.", [DataConfig, ModelConfig, TrainConfig], _train,
    )  # fmt: skip
    _command(
        sub, "train-mask", "Stage 2: train the RMP mask head on a finished stage-1 run.",
        "Train the Refined Mask Prediction head on the frozen generator of --run-dir RUN, with the same data, split "
        "and sampling as stage 1. Writes RUN/rmp/; checkpoints and logs go to RUN/stage2/.", [MaskTrainConfig],
        _train_mask,
    )  # fmt: skip
    _command(
        sub, "generate", "Generate defect images with pixel masks from a trained run.",
        "Sample image/mask pairs for each defect type of --run-dir RUN into OUTPUT_DIR/<product>/<type>/{image,mask}/"
        "NNNN.png with a manifest.jsonl per type. Reruns skip finished pairs.", [GenerateConfig], _generate,
    )  # fmt: skip
    _command(
        sub, "paste", "Put generated patch pairs back into the full photos they started from (after seas patches).",
        "For a run trained on seas patches: paste each generated image into the photo its start patch was cut "
        "from (patches.json knows where), fading over --feather px, and write full-size image/mask pairs with a "
        "manifest.jsonl per type. --region mask keeps the real photo outside the generated mask. Reruns skip "
        "pairs whose generated record is unchanged.", [PasteConfig], _paste,
    )  # fmt: skip
    _command(
        sub, "run", "The whole pipeline: inspect, train, train-mask, generate (finished stages are skipped).",
        "Run every stage for one product (or several, one model each). Each stage is skipped when its finished "
        "output is already in the run folder, so rerunning after a crash continues where it stopped. With no "
        "--data: the bundled tire sample.", RUN_CONFIGS, _run, resolve=False,
    )  # fmt: skip
    evaluate = sub.add_parser(
        "evaluate", help="Measure what the generated pairs are worth.", description="Evaluation of a finished run."
    )
    evaluate_what = evaluate.add_subparsers(dest="what", required=True, metavar="WHAT")
    _command(
        evaluate_what, "segmentation", "Downstream benchmark: a segmenter trained with and without the pairs.",
        "Train the same small segmenter on real data alone, with Perlin or CutPaste synthetic defects, and with "
        "the generated pairs; test on the held-out two thirds of each defect type and test/good.",
        [DownstreamConfig], _evaluate_segmentation,
    )  # fmt: skip
    _command(
        evaluate_what, "quality", "Are the pairs right? VAE reconstruction, mask agreement, RMP on real defects.",
        "VAE reconstruction of test/good next to the mean-image baseline, and whether the VAE keeps the real "
        "held-out defects (error inside their masks vs a shuffled mask); a real-only segmenter run on the "
        "generated images and scored against the generated masks (shuffled masks and real held-out pairs as "
        "baselines); the RMP head as a segmenter of the real held-out defects; where the defect prompt changes "
        "the image against its normal twin (needs seas generate --normals).", [QualityConfig], _evaluate_quality,
    )  # fmt: skip
    _command(
        evaluate_what, "generation", "IC-LPIPS and Inception Score of the generated images.",
        "Per defect type: IC-LPIPS (DFMGAN definition) against the real defect images and the Inception Score. "
        "Needs the optional lpips/torchvision and torch-fidelity packages and their weights on disk.",
        [GenerationMetricsConfig], _evaluate_generation,
    )  # fmt: skip
    _command(
        sub, "report", "Build a static HTML report of a run (opens from disk, no server).",
        "Per defect type: generated image | mask | overlay | zoom next to real training examples, mask statistics, "
        "loss curves of both stages, metric tables with baselines, configs and checkpoint hashes.", [ReportConfig],
        _report,
    )  # fmt: skip
    bench = sub.add_parser(
        "benchmark",
        help="Measure speed and memory against stock diffusers baselines.",
        description="Benchmarks with random weights (no downloads), each next to a stock diffusers baseline.",
    )
    what = bench.add_subparsers(dest="what", required=True, metavar="WHAT")
    _command(what, "train", "Stage-1 optimiser step versus a stock fine-tuning step.",
             "Time and memory of one SeaS stage-1 optimiser step next to a plain stock diffusers fine-tuning step.",
             [ModelConfig, BenchmarkConfig], _benchmark_train)  # fmt: skip
    gen = _command(what, "generate", "Image + mask sampling versus stock img2img (same steps, CFG, batch).",
                   "Milliseconds per image of image + mask generation next to StableDiffusionImg2ImgPipeline.",
                   [ModelConfig, BenchmarkConfig], _benchmark_generate)  # fmt: skip
    gen.add_argument("--batch", type=int, default=4, help="Images per batch on both sides (default: 4).")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``seas`` command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        configs: list[Any] = []
        if args.config_classes is not None:
            configs = resolve_configs(args.config_classes, args)
            if args.print_config:
                print(dumps(configs))
                return 0
        handler: Handler = args.handler
        return handler(args, configs)
    except SeasError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the operating system refused a path outside the atomic writers (mkdir, lock, read)
        error = storage_error(Path(exc.filename or "?"), exc)
        if args.debug or error is None:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
