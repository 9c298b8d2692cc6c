"""The Python interface: every ``seas`` command as a function, with the command line's guarantees.

Each function takes its command's options as keyword arguments named like the flags with ``_`` for
``-`` (``max_steps=100`` is ``--max-steps 100``), and ``config``, a YAML or TOML file of options. They
are resolved by the code the command line uses, in its order (defaults < preset < file < keywords),
validated the same way, and a bad value raises :class:`~seas.errors.SeasError` (a
:class:`~seas.errors.ConfigError` for options) carrying the line the command would print. Functions
that write take the same writer locks as the commands, resume the same way and refuse the same
changed settings.

Example::

    import seas

    run = seas.train(run_dir="runs/tire", base_model="tiny-tire", resolution=128, max_steps=100)
    run.train_mask(max_steps=60)
    pairs = run.generate(num_per_type=4)  # or seas.generate_pairs(run.root, num_per_type=4)
    for pair in pairs:
        print(pair.defect_type, pair.index, pair.mask_array.mean())
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

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
    ReviewConfig,
    TrainConfig,
)
from seas.config.flags import resolve_configs
from seas.errors import ConfigError, InputFileError
from seas.handles import GeneratedPairs, Pair, Run
from seas.locks import writer_lock, writer_locks
from seas.pipeline import RUN_CONFIGS
from seas.run_folder import RunFolder, read_run

__all__ = [
    "GeneratedPairs",
    "Pair",
    "Run",
    "build_report",
    "cut_patches",
    "evaluate_generation",
    "evaluate_quality",
    "evaluate_segmentation",
    "generate_pairs",
    "inspect",
    "load_data",
    "open_run",
    "paste",
    "resolve",
    "review",
    "run",
    "sample",
    "train",
    "train_mask",
    "train_prior",
]

ConfigFile = str | Path | None
RunDir = str | Path | None
Results = dict[str, Any]  # Any: JSON

# The config dataclasses of each command, in the order its function receives them; the CLI's flags come from here.
COMMANDS: dict[str, list[type]] = {
    "inspect": [DataConfig],
    "patches": [DataConfig, PatchConfig],
    "pretrain": [DataConfig, ModelConfig, PretrainConfig],
    "train": [DataConfig, ModelConfig, TrainConfig],
    "train-mask": [MaskTrainConfig],
    "generate": [GenerateConfig],
    "paste": [PasteConfig],
    "run": RUN_CONFIGS,
    "evaluate segmentation": [DownstreamConfig],
    "evaluate quality": [QualityConfig],
    "evaluate generation": [GenerationMetricsConfig],
    "report": [ReportConfig],
    "review": [ReviewConfig],
    "benchmark train": [ModelConfig, BenchmarkConfig],
    "benchmark generate": [ModelConfig, BenchmarkConfig],
}


def resolve(command: str, config: ConfigFile = None, **options: Any) -> list[Any]:  # Any: option values, configs
    """The resolved, validated config dataclasses of ``command`` (what ``--print-config`` prints).

    Args:
        command: A key of :data:`COMMANDS`, spelt as on the command line (``"train-mask"``).
        config: Optional YAML or TOML file of options.
        **options: Option values by field name; they override the file.

    Raises:
        ConfigError: An option no config of the command has, a bad value or a refused combination.
    """
    classes = COMMANDS[command]
    known = {f.name for cls in classes for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        names = ", ".join(unknown)
        subject = f"seas {command}"
        raise ConfigError(subject, f"unknown option(s) {names}", f"see seas {command} --help")
    return resolve_configs(classes, argparse.Namespace(config=config, **options))


def _with_run_dir(run_dir: str | Path | None, options: dict[str, Any]) -> dict[str, Any]:  # Any: option values
    """``options`` with ``run_dir`` added when given (left out, the config file's or the default applies)."""
    return options if run_dir is None else {**options, "run_dir": run_dir}


def open_run(run_dir: str | Path) -> Run:
    """A finished (or started) stage-1 run folder.

    Raises:
        ModelLoadError: No run record in the folder.
    """
    from seas.run_folder import read_stage1_configs

    read_stage1_configs(Path(run_dir))  # a clear error now rather than at the first stage that reads it
    return Run(Path(run_dir))


def load_data(config: ConfigFile = None, **options: Any) -> Any:  # Any: seas.data.catalog.ProductData
    """List and validate a product's data set (``data``, ``product``, ``layout``, ...); no image is decoded.

    Returns:
        :class:`seas.data.catalog.ProductData`: its samples, defect types and normal images.
    """
    from seas.data.catalog import load_product

    (data_cfg,) = resolve("inspect", config, **options)
    return load_product(data_cfg)


def inspect(config: ConfigFile = None, **options: Any) -> Results:  # Any: JSON
    """What ``seas inspect --json`` prints: counts, the split per defect type, mask coverage and warnings."""
    from seas.data.catalog import load_product
    from seas.data.inspection import inspect_product
    from seas.data.split import make_split, read_split

    (data_cfg,) = resolve("inspect", config, **options)
    data = load_product(data_cfg)
    split = read_split(data_cfg.split_file, data) if data_cfg.split_file else make_split(data, data_cfg.train_ratio)
    return inspect_product(data, split)


def cut_patches(config: ConfigFile = None, **options: Any) -> Path:
    """``seas patches``: native-resolution patches of a product as a new data set; returns its product folder."""
    from seas.data.catalog import load_product
    from seas.data.patches import cut_patches as cut

    data_cfg, patch_cfg = resolve("patches", config, **options)
    data = load_product(data_cfg)
    with writer_lock(patch_cfg.output_dir):
        return cut(data, patch_cfg)


def train_prior(config: ConfigFile = None, **options: Any) -> Path:
    """``seas pretrain``: a product prior from defect-free images; returns the model folder (a ``base_model``)."""
    from seas.pretrain.train import pretrain as train_prior

    configs = resolve("pretrain", config, **options)
    with writer_lock(configs[-1].output_dir):
        return train_prior(*configs)


def train(config: ConfigFile = None, **options: Any) -> Run:
    """``seas train``: stage 1 (UA prompt, DA and NA losses) into ``run_dir``; resumes from its newest checkpoint."""
    from seas.stage1.train import train as train_generator

    data_cfg, model_cfg, train_cfg = resolve("train", config, **options)
    with writer_lock(train_cfg.run_dir):
        return Run(train_generator(data_cfg, model_cfg, train_cfg))


def train_mask(run_dir: RunDir = None, config: ConfigFile = None, **options: Any) -> Run:
    """``seas train-mask``: stage 2, the Refined Mask Prediction head, on a finished stage-1 run."""
    from seas.stage2.train import train_mask as train_head

    (cfg,) = resolve("train-mask", config, **_with_run_dir(run_dir, options))
    with writer_lock(cfg.run_dir):
        train_head(cfg)
    return Run(cfg.run_dir)


def generate_pairs(run_dir: RunDir = None, config: ConfigFile = None, **options: Any) -> GeneratedPairs:
    """``seas generate``: image/mask pairs as PNG files with a manifest per type; reruns skip finished pairs."""
    from seas.generate.checks import precheck_folders
    from seas.generate.run import generate as write_pairs

    (cfg,) = resolve("generate", config, **_with_run_dir(run_dir, options))
    precheck_folders(cfg)  # overlapping folders are refused before the lock tidies anything
    with writer_lock(cfg.output_dir or RunFolder(cfg.run_dir).generated_out):
        summary = write_pairs(cfg)
    folder = Path(summary["out"])
    counts = {k: int(v) for k, v in summary.items() if k not in ("out", "exports")}
    done = summary.get("exports", {})
    exports = {name: getattr(cfg, f"export_{name}") / folder.name for name in done}
    return GeneratedPairs(folder, counts, exports, {name: dict(c) for name, c in done.items()})


def sample(run_dir: RunDir = None, config: ConfigFile = None, **options: Any) -> Iterator[Pair]:
    """The pairs :func:`generate_pairs` would write (same seeds, order and redraws), in memory; nothing is written.

    Takes :func:`generate_pairs`'s options; the folder options play no part. Weights load at the first ``next()``.
    """
    (cfg,) = resolve("generate", config, **_with_run_dir(run_dir, options))  # a bad option fails here, not later
    return _drawn(cfg)


def _drawn(cfg: Any) -> Iterator[Pair]:  # Any: seas.config.GenerateConfig
    from seas.generate.run import sample as draw_pairs

    for name, result in draw_pairs(cfg):
        mask = Image.fromarray(result.mask.astype(np.uint8) * 255) if result.mask is not None else None
        yield Pair(name, result.job.index, Image.fromarray(result.image), mask, {})


def paste(config: ConfigFile = None, **options: Any) -> dict[str, int]:
    """``seas paste``: generated patch pairs put back into their full photos; returns pairs per type."""
    from seas.generate.paste import paste_pairs

    (cfg,) = resolve("paste", config, **options)
    with writer_lock(cfg.output_dir):
        return paste_pairs(cfg)


def evaluate_segmentation(run_dir: RunDir = None, config: ConfigFile = None, **options: Any) -> dict[str, Any]:
    """``seas evaluate segmentation``: a segmenter trained with and without the pairs; returns the JSON results."""
    from seas.evaluate.downstream import evaluate_segmentation as downstream

    (cfg,) = resolve("evaluate segmentation", config, **_with_run_dir(run_dir, options))
    with writer_lock(RunFolder(cfg.run_dir).evaluation):
        return downstream(cfg)


def evaluate_quality(run_dir: RunDir = None, config: ConfigFile = None, **options: Any) -> Results:
    """``seas evaluate quality``: VAE reconstruction, mask agreement, RMP on real defects; returns the JSON."""
    from seas.evaluate.quality import evaluate_quality as quality

    (cfg,) = resolve("evaluate quality", config, **_with_run_dir(run_dir, options))
    with writer_lock(RunFolder(cfg.run_dir).evaluation):
        return quality(cfg)


def evaluate_generation(run_dir: RunDir = None, config: ConfigFile = None, **options: Any) -> dict[str, Any]:
    """``seas evaluate generation``: IC-LPIPS and Inception Score (needs the optional metric packages)."""
    from seas.evaluate.generation import evaluate_generation as metrics

    (cfg,) = resolve("evaluate generation", config, **_with_run_dir(run_dir, options))
    with writer_lock(RunFolder(cfg.run_dir).evaluation):
        return metrics(cfg)


def build_report(run_dir: RunDir = None, config: ConfigFile = None, **options: Any) -> Path:
    """``seas report``: the static HTML report of a run; returns its ``index.html``."""
    from seas.report.build import build_report as write_report

    (cfg,) = resolve("report", config, **_with_run_dir(run_dir, options))
    return write_report(cfg.run_dir, cfg.output_dir, cfg.generated, cfg.per_type)


def review(run_dir: RunDir = None, config: ConfigFile = None, **options: Any) -> Any:  # Any: ReviewServer
    """``seas review``: the review page's server for the run's pairs, bound but not yet serving.

    Call ``serve_forever()`` on it (``shutdown()`` from another thread ends it); its ``url`` is the page.
    Decisions go to ``<pairs>/<product>/review.jsonl``, which later stages then follow; masks painted on
    ``url + "paint"`` go to ``paint_dir`` (default ``RUN/painted_masks``), one new file per save.
    """
    from seas.review.painting import MaskPainter
    from seas.review.server import ReviewServer

    (cfg,) = resolve("review", config, **_with_run_dir(run_dir, options))
    record = read_run(cfg.run_dir)
    tree = RunFolder(cfg.run_dir).generated(record.split.product, cfg.generated)
    if not any(tree.glob("*/manifest.jsonl")):
        raise InputFileError(tree, "no generated pairs to review", "run seas generate first, or pass --generated")
    painter = MaskPainter(
        list(record.split.normals),
        record.model_cfg.resolution,
        sorted(record.split.types),
        cfg.paint_dir or cfg.run_dir / "painted_masks",
    )
    return ReviewServer(tree, cfg.host, cfg.port, painter)


def run(config: ConfigFile = None, **options: Any) -> list[Run]:
    """``seas run``: every stage for each product (``product`` may be a list or ``all``); finished stages are skipped.

    Every product's settings and folders are checked before the first one starts.
    """
    from seas.pipeline import check_folders, run_product

    runs = resolve_runs(config, **options)
    for product_run in runs:
        check_folders(product_run)
    for product_run in runs:
        pairs = product_run.generate.output_dir or RunFolder(product_run.train.run_dir).generated_out
        with writer_locks([product_run.train.run_dir, pairs]):  # the run folder and the pairs' folder
            run_product(product_run)
    return [Run(product_run.train.run_dir) for product_run in runs]


def resolve_runs(config: ConfigFile = None, **options: Any) -> list[Any]:  # Any: seas.pipeline.ProductRun
    """The resolved configs of each product :func:`run` covers, folders filled in (nothing runs)."""
    from seas.config.flags import load_config_file
    from seas.pipeline import product_run, products

    from_file = load_config_file(Path(config)) if config is not None else {}
    named = options.get("product", from_file.get("product"))
    runs = []
    for product in products(named, options.get("data", from_file.get("data"))):
        mine = dict(options)
        if product is not None:
            mine["product"] = product  # one product per resolution (a keyword beats the file's list)
        else:
            mine.pop("product", None)
        runs.append(product_run(resolve("run", config, **mine), product))
    return runs
