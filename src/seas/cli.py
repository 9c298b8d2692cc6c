"""The ``seas`` command line: one entry point, one sub-command per pipeline stage.

Each sub-command names the config dataclasses it uses; their fields become its flags, and ``main``
resolves them (defaults < preset < ``--config`` file < flags) before the command runs. User errors
(:class:`~seas.errors.SeasError`) print one ``error: ...`` line and exit with status 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seas import __version__, api
from seas.config import dumps
from seas.config.flags import add_config_flags
from seas.errors import SeasError, storage_error
from seas.locks import writer_lock
from seas.run_folder import RunFolder

Options = dict[str, Any]  # Any: the flags given, by config field name
Handler = Callable[[argparse.Namespace, Options], int]


def _log_to_console() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _inspect(args: argparse.Namespace, options: Options) -> int:
    from seas.data.inspection import format_report

    report = api.inspect(args.config, **options)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _pretrain(args: argparse.Namespace, options: Options) -> int:
    _log_to_console()
    out = api.train_prior(args.config, **options)
    print(f"prior done: {out} (use it with --base-model {out})")
    return 0


def _patches(args: argparse.Namespace, options: Options) -> int:
    out = api.cut_patches(args.config, **options)
    product, size = out.name, api.resolve("patches", args.config, **options)[1].size
    print(f"patches of {product} in {out} (use them with --data {out.parent} --product {product} --resolution {size})")
    return 0


def _paste(args: argparse.Namespace, options: Options) -> int:
    counts = api.paste(args.config, **options)
    (cfg,) = api.resolve("paste", args.config, **options)
    pairs = ", ".join(f"{k}: {v}" for k, v in counts.items())
    print(f"full-size pairs in {cfg.output_dir / cfg.generated.name} ({pairs})")
    return 0


def _train(args: argparse.Namespace, options: Options) -> int:
    _log_to_console()
    print(f"stage 1 done: {api.train(args.config, **options).root}")
    return 0


def _train_mask(args: argparse.Namespace, options: Options) -> int:
    _log_to_console()
    run = api.train_mask(config=args.config, **options)
    print(f"stage 2 done: {RunFolder(run.root).rmp}")
    return 0


def _generate(args: argparse.Namespace, options: Options) -> int:
    _log_to_console()
    pairs = api.generate_pairs(config=args.config, **options)
    counts = ", ".join(f"{k}: {v}" for k, v in pairs.counts.items())
    print(f"image/mask pairs in {pairs.folder} ({counts})")
    titles = {"anomalib": "anomalib Folder dataset", "coco": "COCO instance segmentation", "yolo": "YOLO segmentation"}
    for name, where in pairs.exports.items():
        print(f"{titles[name]} in {where.parent}: {pairs.export_counts[name]}")
    return 0


def _run(args: argparse.Namespace, options: Options) -> int:
    _log_to_console()
    if args.print_config:
        for run in api.resolve_runs(args.config, **options):
            print(dumps([run.run, run.data, run.model, run.train, run.mask, run.generate, run.evaluate, run.quality]))
        return 0
    api.run(args.config, **options)
    return 0


def _evaluate_segmentation(args: argparse.Namespace, options: Options) -> int:
    from seas.evaluate.downstream import format_table

    _log_to_console()
    (cfg,) = api.resolve("evaluate segmentation", args.config, **options)
    print(format_table(api.evaluate_segmentation(config=args.config, **options)))
    print(f"written to {RunFolder(cfg.run_dir).evaluation}/segmentation.json and .md")
    return 0


def _evaluate_quality(args: argparse.Namespace, options: Options) -> int:
    from seas.evaluate.quality import format_quality

    _log_to_console()
    (cfg,) = api.resolve("evaluate quality", args.config, **options)
    print(format_quality(api.evaluate_quality(config=args.config, **options)))
    out = RunFolder(cfg.run_dir).evaluation
    print(f"written to {out}/quality.json, quality.md, reconstruction.png and reconstruction_defects.png")
    return 0


def _evaluate_generation(args: argparse.Namespace, options: Options) -> int:
    _log_to_console()
    (cfg,) = api.resolve("evaluate generation", args.config, **options)
    results = api.evaluate_generation(config=args.config, **options)
    print(f"IC-LPIPS {results['mean_ic_lpips']:.4f}, IS {results['mean_is_mean']:.4f} ({cfg.net}, cap {cfg.cap})")
    return 0


def _report(args: argparse.Namespace, options: Options) -> int:
    print(f"report: {api.build_report(config=args.config, **options)}")
    return 0


def _review(args: argparse.Namespace, options: Options) -> int:
    server = api.review(config=args.config, **options)
    with writer_lock(server.tree):  # no seas generate into the pairs while they are reviewed
        print(f"review of {server.tree}: open {server.url} (Ctrl-C stops; every decision is already saved)")
        print(f"paint your own masks on {server.url}paint (saved to {server.painter.out})")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print(f"decisions: {server.tree / 'review.jsonl'}")
        finally:
            server.server_close()
    return 0


def _benchmark_train(args: argparse.Namespace, options: Options) -> int:
    from seas.benchmark.train_step import BenchmarkSettings, run_train_benchmark
    from seas.training import check_optional_packages

    model_cfg, bench_cfg = api.resolve("benchmark train", args.config, **options)
    check_optional_packages(bench_cfg.optimizer, bench_cfg.lora_rank)
    results = run_train_benchmark(
        BenchmarkSettings(model_cfg.base_model, model_cfg.resolution, bench_cfg, model_cfg.model_seed)
    )
    stock, seas = results["stock_step"], results["seas_step"]
    memory = "peak_gib" if "peak_gib" in stock else "process_peak_rss_gib"
    where = f"{model_cfg.base_model} @ {model_cfg.resolution}px on {results['hardware']}"
    print(f"{where} ({results['device']}, {results['dtype']})")
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
    pairs = f"median of {spread['pairs']} interleaved pairs, IQR {spread['q25']:.3f}-{spread['q75']:.3f}"
    print(f"SeaS / stock:         {results['seas_over_stock']:.3f} ({pairs}; {where})")


def _benchmark_generate(args: argparse.Namespace, options: Options) -> int:
    from seas.benchmark.generate_step import run_generate_benchmark

    model_cfg, bench_cfg = api.resolve("benchmark generate", args.config, **options)
    results = run_generate_benchmark(model_cfg.base_model, model_cfg.resolution, bench_cfg, args.batch)
    stock, seas = results["stock_img2img"], results["seas_image_and_mask"]
    where = f"{model_cfg.base_model} @ {model_cfg.resolution}px, batch {args.batch}, on {results['hardware']}"
    print(f"{where} ({results['dtype']})")
    print(f"stock img2img (image): {stock['ms_per_image']:.1f} ms/image")
    print(f"SeaS (image + mask):  {seas['ms_per_image']:.1f} ms/image")
    _print_ratio(results, bench_cfg.results)
    return 0


def _command(sub: Any, key: str, handler: Handler, summary: str, description: str) -> argparse.ArgumentParser:
    """Add sub-command ``key`` (of :data:`seas.api.COMMANDS`) with its config flags; ``sub``: a sub-parser action."""
    name = key.split()[-1]
    parser: argparse.ArgumentParser = sub.add_parser(name, help=summary, description=description, allow_abbrev=False)
    parser.add_argument("--config", type=Path, help="YAML or TOML file of options; command-line flags override it.")
    parser.add_argument("--print-config", action="store_true", help="Print the resolved configuration and exit.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks for errors.")
    configs = api.COMMANDS[key]
    add_config_flags(parser, configs)
    fields = {f.name for cls in configs for f in dataclasses.fields(cls)}
    parser.set_defaults(handler=handler, key=key, fields=fields)
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
        sub,
        "inspect",
        _inspect,
        "Check a product's data and show what training would use.",
        "Read every image and mask of a product, show counts, the train/held-out split per defect type, mask "
        "coverage and warnings. With no --data, inspects the bundled tire sample.",
    )
    inspect.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    _command(
        sub,
        "patches",
        _patches,
        "Cut a product into native-resolution patches (small defects stay several latent cells wide).",
        "Write an MVTec-layout copy of a product made of --size px squares cut at the photos' own resolution: "
        "--per-normal patches on the product of each normal training image, one per test normal, one around each "
        "defect (its mask cut with it). Every other command then runs on it with --data OUTPUT_DIR at --resolution "
        "SIZE. Use it when training below the photos' resolution would shrink defects under one latent cell (8 px).",
    )
    _command(
        sub,
        "pretrain",
        _pretrain,
        "Stage 0: train a product prior (VAE + U-Net) from defect-free images, offline.",
        "Train a base model that --base-model accepts from a product's defect-free images only (train/good of the "
        "layout, or --images folders; never test images). From a built-in random model (tiny, tiny-slim) the VAE "
        "is trained first, then the text-conditioned U-Net; from a real Stable Diffusion checkpoint only the U-Net "
        "is fine-tuned. Writes a diffusers folder to --output-dir; resumes from its newest checkpoint.",
    )
    _command(
        sub,
        "train",
        _train,
        "Stage 1: fine-tune the generator (UA tokens, DA + NA losses).",
        "Fine-tune Stable Diffusion on one product: defect images with their masks and normal images in one shared "
        "step. Writes unet/, tokenizer/, token rows, token_map.json, split.json and logs to --run-dir; resumes "
        "from its newest checkpoint.",
    )
    _command(
        sub,
        "train-mask",
        _train_mask,
        "Stage 2: train the RMP mask head on a finished stage-1 run.",
        "Train the Refined Mask Prediction head on the frozen generator of --run-dir RUN, with the same data, split "
        "and sampling as stage 1. Writes RUN/rmp/; checkpoints and logs go to RUN/stage2/.",
    )
    _command(
        sub,
        "generate",
        _generate,
        "Generate defect images with pixel masks from a trained run.",
        "Sample image/mask pairs for each defect type of --run-dir RUN into OUTPUT_DIR/<product>/<type>/{image,mask}/"
        "NNNN.png with a manifest.jsonl per type. Reruns skip finished pairs.",
    )
    _command(
        sub,
        "paste",
        _paste,
        "Put generated patch pairs back into the full photos they started from (after seas patches).",
        "For a run trained on seas patches: paste each generated image into the photo its start patch was cut "
        "from (patches.json knows where), fading over --feather px, and write full-size image/mask pairs with a "
        "manifest.jsonl per type. --region mask keeps the real photo outside the generated mask. Reruns skip "
        "pairs whose generated record is unchanged.",
    )
    _command(
        sub,
        "run",
        _run,
        "The whole pipeline: inspect, train, train-mask, generate (finished stages are skipped).",
        "Run every stage for one product (or several, one model each). Each stage is skipped when its finished "
        "output is already in the run folder, so rerunning after a crash continues where it stopped. With no "
        "--data: the bundled tire sample.",
    )
    evaluate = sub.add_parser(
        "evaluate", help="Measure what the generated pairs are worth.", description="Evaluation of a finished run."
    )
    evaluate_what = evaluate.add_subparsers(dest="what", required=True, metavar="WHAT")
    _command(
        evaluate_what,
        "evaluate segmentation",
        _evaluate_segmentation,
        "Downstream benchmark: a segmenter trained with and without the pairs.",
        "Train the same small segmenter on real data alone, with Perlin or CutPaste synthetic defects, and with "
        "the generated pairs; test on the held-out two thirds of each defect type and test/good.",
    )
    _command(
        evaluate_what,
        "evaluate quality",
        _evaluate_quality,
        "Are the pairs right? VAE reconstruction, mask agreement, RMP on real defects.",
        "VAE reconstruction of test/good next to the mean-image baseline, and whether the VAE keeps the real "
        "held-out defects (error inside their masks vs a shuffled mask); a real-only segmenter run on the "
        "generated images and scored against the generated masks (shuffled masks and real held-out pairs as "
        "baselines); the RMP head as a segmenter of the real held-out defects; where the defect prompt changes "
        "the image against its normal twin (needs seas generate --normals).",
    )
    _command(
        evaluate_what,
        "evaluate generation",
        _evaluate_generation,
        "IC-LPIPS and Inception Score of the generated images.",
        "Per defect type: IC-LPIPS (DFMGAN definition) against the real defect images and the Inception Score. "
        "Needs the optional lpips/torchvision and torch-fidelity packages and their weights on disk.",
    )
    _command(
        sub,
        "report",
        _report,
        "Build a static HTML report of a run (opens from disk, no server).",
        "Per defect type: generated image | mask | overlay | zoom next to real training examples, mask statistics, "
        "loss curves of both stages, metric tables with baselines, configs and checkpoint hashes.",
    )
    _command(
        sub,
        "review",
        _review,
        "Accept or reject the generated pairs on a local web page (keyboard: a, r, u).",
        "Serve a page on 127.0.0.1 that shows every generated pair as image, mask and overlay with its scores, "
        "sorted and filtered by type and score. Each decision is saved as it is made, in <pairs>/<product>/"
        "review.jsonl; once it exists, seas evaluate, the exports and the report use only the accepted pairs.",
    )
    bench = sub.add_parser(
        "benchmark",
        help="Measure speed and memory against stock diffusers baselines.",
        description="Benchmarks with random weights (no downloads), each next to a stock diffusers baseline.",
    )
    what = bench.add_subparsers(dest="what", required=True, metavar="WHAT")
    _command(
        what,
        "benchmark train",
        _benchmark_train,
        "Stage-1 optimiser step versus a stock fine-tuning step.",
        "Time and memory of one SeaS stage-1 optimiser step next to a plain stock diffusers fine-tuning step.",
    )
    gen = _command(
        what,
        "benchmark generate",
        _benchmark_generate,
        "Image + mask sampling versus stock img2img (same steps, CFG, batch).",
        "Milliseconds per image of image + mask generation next to StableDiffusionImg2ImgPipeline.",
    )
    gen.add_argument("--batch", type=int, default=4, help="Images per batch on both sides (default: 4).")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``seas`` command line; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        options = {k: v for k, v in vars(args).items() if k in args.fields}
        if args.print_config and args.key != "run":  # seas run prints one set per product
            print(dumps(api.resolve(args.key, args.config, **options)))
            return 0
        handler: Handler = args.handler
        return handler(args, options)
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
