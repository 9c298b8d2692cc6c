"""The ``seas`` command line: one entry point, one sub-command per pipeline stage.

User errors (:class:`~seas.errors.SeasError`) print one ``error: ...`` line and exit with status 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from seas import __version__
from seas.config import (
    BenchmarkConfig,
    DataConfig,
    GenerateConfig,
    MaskTrainConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    dumps,
)
from seas.config_flags import add_config_flags, resolve_configs
from seas.errors import SeasError

Handler = Callable[[argparse.Namespace], int]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML or TOML file of options; command-line flags override it.")
    parser.add_argument("--print-config", action="store_true", help="Print the resolved configuration and exit.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks for errors.")


def _run_inspect(args: argparse.Namespace) -> int:
    from seas.data.catalog import load_product
    from seas.data.inspection import format_report, inspect_product
    from seas.data.split import make_split, read_split

    (data_cfg,) = resolve_configs([DataConfig], args)
    if args.print_config:
        print(dumps([data_cfg]))
        return 0
    data = load_product(data_cfg)
    split = read_split(data_cfg.split_file, data) if data_cfg.split_file else make_split(data, data_cfg.train_ratio)
    report = inspect_product(data, split)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _run_train(args: argparse.Namespace) -> int:
    configs = resolve_configs([DataConfig, ModelConfig, TrainConfig], args)
    if args.print_config:
        print(dumps(configs))
        return 0
    from seas.stage1.train import train

    _log_to_console()
    run_dir = train(*configs)
    print(f"stage 1 done: {run_dir}")
    return 0


def _run_train_mask(args: argparse.Namespace) -> int:
    (cfg,) = resolve_configs([MaskTrainConfig], args)
    if args.print_config:
        print(dumps([cfg]))
        return 0
    from seas.stage2.train import train_mask

    _log_to_console()
    print(f"stage 2 done: {train_mask(cfg)}")
    return 0


def _run_generate(args: argparse.Namespace) -> int:
    (cfg,) = resolve_configs([GenerateConfig], args)
    if args.print_config:
        print(dumps([cfg]))
        return 0
    from seas.generate.run import generate

    _log_to_console()
    summary = generate(cfg)
    counts = ", ".join(f"{k}: {v}" for k, v in summary.items() if k not in ("out", "anomalib"))
    print(f"pairs in {summary['out']} ({counts})")
    if "anomalib" in summary:
        print(f"anomalib Folder dataset in {cfg.export_anomalib}: {summary['anomalib']}")
    return 0


RUN_CONFIGS = [RunConfig, DataConfig, ModelConfig, TrainConfig, MaskTrainConfig, GenerateConfig]


def _products(args: argparse.Namespace) -> list[str | None]:
    """Products named by ``--product`` (``all``: every product folder under ``--data``)."""
    named = list(getattr(args, "product", []) or [])
    if named != ["all"]:
        return list(named) or [None]
    root = Path(getattr(args, "data", "") or "")
    if not root.is_dir():
        from seas.errors import ConfigError

        subject = "--product all"
        raise ConfigError(subject, "needs --data with product folders", "pass --data ROOT")
    return [p.name for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def _run_pipeline(args: argparse.Namespace) -> int:
    import dataclasses

    from seas.data.catalog import load_product
    from seas.data.inspection import inspect_product
    from seas.data.split import make_split
    from seas.generate.run import generate
    from seas.stage1.train import train
    from seas.stage2.train import train_mask

    _log_to_console()
    out_given = "out" in vars(args)
    for product in _products(args):
        ns = argparse.Namespace(**vars(args))
        if product is not None:
            ns.product = product
        elif hasattr(ns, "product"):
            del ns.product
        _, data_cfg, model_cfg, train_cfg, mask_cfg, gen_cfg = resolve_configs(RUN_CONFIGS, ns)
        name = product or load_product(data_cfg).product
        run_dir = train_cfg.output_dir / name if product is not None else train_cfg.output_dir
        train_cfg = dataclasses.replace(train_cfg, output_dir=run_dir)
        mask_cfg = dataclasses.replace(mask_cfg, model=run_dir)
        gen_cfg = dataclasses.replace(gen_cfg, model=run_dir, out=gen_cfg.out if out_given else run_dir / "generated")
        if args.print_config:
            print(dumps([data_cfg, model_cfg, train_cfg, mask_cfg, gen_cfg]))
            continue
        data = load_product(data_cfg)
        report = inspect_product(data, make_split(data, data_cfg.train_ratio))
        print(f"[{name}] data: {len(report['types'])} defect types, {report['normals']['used']} normal images, "
              f"{len(report['warnings'])} warning(s)")  # fmt: skip
        train(data_cfg, model_cfg, train_cfg)
        train_mask(mask_cfg)
        summary = generate(gen_cfg)
        counts = ", ".join(f"{k}: {v}" for k, v in summary.items() if k not in ("out", "anomalib"))
        print(f"[{name}] image/mask pairs in {summary['out']} ({counts})")
    return 0


def _log_to_console() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _run_benchmark_generate(args: argparse.Namespace) -> int:
    model_cfg, bench_cfg = resolve_configs([ModelConfig, BenchmarkConfig], args)
    if args.print_config:
        print(dumps([model_cfg, bench_cfg]))
        return 0
    from seas.benchmark.generate_step import run_generate_benchmark
    from seas.benchmark.train_step import write_result

    results = run_generate_benchmark(model_cfg.base_model, model_cfg.resolution, bench_cfg, args.batch)
    target = bench_cfg.results or Path("docs/benchmarks/generate/results.jsonl")
    write_result(results, target)
    stock, seas = results["stock_img2img"], results["seas_image_and_mask"]
    print(f"{model_cfg.base_model} @ {model_cfg.resolution}px, batch {args.batch}, on {results['hardware']}")
    print(f"stock img2img (image):  {stock['ms_per_image']:.1f} ms/image")
    print(f"SeaS (image + mask):    {seas['ms_per_image']:.1f} ms/image")
    print(f"SeaS / stock:           {results['seas_over_stock']:.3f}   (appended to {target})")
    return 0


def _run_benchmark(args: argparse.Namespace) -> int:
    model_cfg, bench_cfg = resolve_configs([ModelConfig, BenchmarkConfig], args)
    if args.print_config:
        print(dumps([model_cfg, bench_cfg]))
        return 0
    from seas.benchmark.train_step import BenchmarkSettings, run_train_benchmark, write_result

    results = run_train_benchmark(
        BenchmarkSettings(model_cfg.base_model, model_cfg.resolution, bench_cfg, model_cfg.model_seed)
    )
    target = bench_cfg.results or Path("docs/benchmarks/train_step/results.jsonl")
    write_result(results, target)
    stock, seas = results["stock_step"], results["seas_step"]
    memory = "peak_gib" if "peak_gib" in stock else "process_peak_rss_gib"
    print(f"{model_cfg.base_model} @ {model_cfg.resolution}px on {results['hardware']} ({results['device']})")
    print(f"stock diffusers step: {stock['median_s'] * 1000:.1f} ms  ({memory} {stock[memory]:.2f})")
    print(f"SeaS step:            {seas['median_s'] * 1000:.1f} ms  ({memory} {seas[memory]:.2f})")
    print(f"SeaS / stock:         {results['seas_over_stock']:.3f}   (appended to {target})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full ``seas`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="seas",
        description="SeaS: generate realistic industrial defect images with exact pixel masks from a few examples.",
    )
    parser.add_argument("--version", action="version", version=f"seas {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect = sub.add_parser(
        "inspect",
        help="Check a product's data and show what training would use.",
        description="Read every image and mask of a product, show counts, the train/held-out split per defect "
        "type, mask coverage and warnings. With no --data, inspects the bundled tire sample.",
    )
    _common(inspect)
    inspect.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    add_config_flags(inspect, [DataConfig])
    inspect.set_defaults(handler=_run_inspect)

    train = sub.add_parser(
        "train",
        help="Stage 1: fine-tune the generator (UA tokens, DA + NA losses).",
        description="Fine-tune Stable Diffusion on one product: defect images with their masks and normal images "
        "in one shared step. Writes unet/, tokenizer/, token rows, token_map.json, split.json and logs to "
        "--output-dir; resumes from its newest checkpoint.",
    )
    _common(train)
    add_config_flags(train, [DataConfig, ModelConfig, TrainConfig])
    train.set_defaults(handler=_run_train)

    train_mask = sub.add_parser(
        "train-mask",
        help="Stage 2: train the RMP mask head on a finished stage-1 run.",
        description="Train the Refined Mask Prediction head on the frozen generator of --model RUN, with the same "
        "data, split and sampling as stage 1. Writes RUN/rmp/; checkpoints and logs go to RUN/stage2/.",
    )
    _common(train_mask)
    add_config_flags(train_mask, [MaskTrainConfig])
    train_mask.set_defaults(handler=_run_train_mask)

    gen = sub.add_parser(
        "generate",
        help="Generate defect images with pixel masks from a trained run.",
        description="Sample image/mask pairs for each defect type of --model RUN into "
        "<out>/<product>/<type>/{image,mask}/NNNN.png with a manifest.jsonl per type. Reruns skip finished pairs.",
    )
    _common(gen)
    add_config_flags(gen, [GenerateConfig])
    gen.set_defaults(handler=_run_generate)

    run = sub.add_parser(
        "run",
        help="The whole pipeline: inspect, train, train-mask, generate (finished stages are skipped).",
        description="Run every stage for one product (or several, one model each). Each stage is skipped when its "
        "finished output is already in the run folder, so rerunning after a crash continues where it stopped. "
        "With no --data: the bundled tire sample.",
    )
    _common(run)
    add_config_flags(run, RUN_CONFIGS)
    run.set_defaults(handler=_run_pipeline)

    bench = sub.add_parser(
        "benchmark",
        help="Measure speed and memory against stock diffusers baselines.",
        description="Benchmarks with random weights (no downloads): 'train' times one SeaS stage-1 optimiser step "
        "next to a plain stock diffusers fine-tuning step of the same U-Net.",
    )
    bench_sub = bench.add_subparsers(dest="what", required=True, metavar="WHAT")
    bench_train = bench_sub.add_parser("train", help="Stage-1 optimiser step versus a stock fine-tuning step.")
    _common(bench_train)
    add_config_flags(bench_train, [ModelConfig, BenchmarkConfig])
    bench_train.set_defaults(handler=_run_benchmark)
    bench_gen = bench_sub.add_parser(
        "generate", help="Image + mask sampling versus stock img2img (same steps, CFG, batch)."
    )
    _common(bench_gen)
    bench_gen.add_argument("--batch", type=int, default=4, help="Images per batch on both sides (default: 4).")
    add_config_flags(bench_gen, [ModelConfig, BenchmarkConfig])
    bench_gen.set_defaults(handler=_run_benchmark_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``seas`` command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        handler: Handler = args.handler
        return handler(args)
    except SeasError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
