"""``seas run`` as plain functions: which products, each product's resolved configs, and its stages in order.

The command line only parses; everything here works on resolved config dataclasses (testable
without argparse). Flag scope: a flag that several stages share (``--max-steps``, ``--seed``,
``--mixed-precision``, ...) reaches each of them, a config file's stage sections give one stage its
own value (see :mod:`seas.config.flags`), and the folders are fixed by the pipeline: stage 2,
generation and evaluation always use the run folder stage 1 trains, so they all take ``--run-dir``
and a checkpoint passed to ``--resume`` belongs to stage 1 only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

from seas.config import (
    DataConfig,
    DownstreamConfig,
    GenerateConfig,
    MaskTrainConfig,
    ModelConfig,
    QualityConfig,
    RunConfig,
    TrainConfig,
)
from seas.data.catalog import ProductData
from seas.errors import ConfigError
from seas.records import read_json
from seas.run_folder import RunFolder

__all__ = ["RUN_CONFIGS", "ProductRun", "check_folders", "product_run", "products", "run_product"]

RUN_CONFIGS = [
    RunConfig,
    DataConfig,
    ModelConfig,
    TrainConfig,
    MaskTrainConfig,
    GenerateConfig,
    DownstreamConfig,
    QualityConfig,
]


class ProductRun(NamedTuple):
    """The resolved configs of one product's run, folders filled in."""

    name: str
    run: RunConfig
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    mask: MaskTrainConfig
    generate: GenerateConfig
    evaluate: DownstreamConfig
    quality: QualityConfig
    listing: ProductData  # the product's samples, listed once and handed to every stage


def products(named: list[str] | str | None, data_root: str | Path | None) -> list[str | None]:
    """The products a run covers; ``[None]`` means the data config's own product.

    ``named`` is what the flag or the config file gives: a name, a list, or ``all`` (every product
    folder under ``data_root``).

    Raises:
        ConfigError: ``all`` without a data folder.
    """
    names = [named] if isinstance(named, str) else [str(n) for n in (named or [])]
    if names != ["all"]:
        return list(names) or [None]
    root = Path(data_root) if data_root else None
    if root is None or not root.is_dir():
        subject = "--product all"
        raise ConfigError(subject, "needs --data (flag or config file) with product folders", "pass --data ROOT")
    return [p.name for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")]


def product_run(configs: list[Any], product: str | None) -> ProductRun:  # Any: RUN_CONFIGS
    """One product's configs, folders filled in (``RUN/<product>`` when products are named), and its listing.

    The listing is made here, once; every stage gets it. A ``--resume`` checkpoint path is kept for stage 1.

    Raises:
        DatasetLayoutError: The product cannot be listed.
    """
    from seas.data.catalog import load_product

    run_cfg, data_cfg, model_cfg, train_cfg, mask_cfg, gen_cfg, eval_cfg, quality_cfg = configs
    if train_cfg.mixed_precision != mask_cfg.mixed_precision:  # accelerate fixes one precision per process
        subject = "--mixed-precision"
        raise ConfigError(
            subject,
            f"train {train_cfg.mixed_precision!r} and train_mask "
            f"{mask_cfg.mixed_precision!r} differ, but seas run trains both stages in one process",
            "use one value, or run seas train and seas train-mask separately",
        )
    listing = load_product(data_cfg)
    name = product or listing.product
    run_dir = train_cfg.run_dir / name if product is not None else train_cfg.run_dir
    out = gen_cfg.output_dir if gen_cfg.output_dir is not None else RunFolder(run_dir).generated_out
    stage2_resume = mask_cfg.resume if mask_cfg.resume in (None, "latest") else "latest"  # a path is stage 1's
    train_cfg = dataclasses.replace(train_cfg, run_dir=run_dir)
    mask_cfg = dataclasses.replace(mask_cfg, run_dir=run_dir, resume=stage2_resume)
    gen_cfg = dataclasses.replace(gen_cfg, run_dir=run_dir, output_dir=out)
    eval_cfg = dataclasses.replace(eval_cfg, run_dir=run_dir, generated=out)
    quality_cfg = dataclasses.replace(quality_cfg, run_dir=run_dir, generated=out)
    return ProductRun(name, run_cfg, data_cfg, model_cfg, train_cfg, mask_cfg, gen_cfg, eval_cfg, quality_cfg, listing)


def check_folders(p: ProductRun) -> None:
    """Refuse a run folder, pair folder or export that overlaps the data or each other, before any stage runs.

    Raises:
        ConfigError: One line naming the two folders.
    """
    from seas.data.catalog import data_folders
    from seas.generate.checks import check_generate_folders
    from seas.ownership import refuse_overlaps

    away = "choose a run folder outside it"
    refuse_overlaps("--run-dir", p.train.run_dir, "the data set", data_folders(p.data), away)
    check_generate_folders(p.data, p.train.run_dir, p.generate, p.listing.product)


def run_product(p: ProductRun) -> None:
    """Every stage of one product, in order; each skips work that is already finished and current."""
    from seas.evaluate.downstream import evaluate_segmentation, format_table
    from seas.evaluate.inputs import evaluation_inputs, is_current
    from seas.evaluate.quality import evaluate_quality, format_quality
    from seas.generate.run import generate
    from seas.report.build import build_report
    from seas.stage1.train import train
    from seas.stage2.train import train_mask

    check_folders(p)
    data = p.listing
    # Listing only: train() decodes and checks every file (and logs its warnings) before any weights load.
    print(f"[{p.name}] data: {len(data.defect_types)} defect types, {len(data.normals)} normal images")
    train(p.data, p.model, p.train, data)
    train_mask(p.mask, data)
    summary = generate(p.generate, data)
    counts = ", ".join(f"{k}: {v}" for k, v in summary.items() if k not in ("out", "exports"))
    print(f"[{p.name}] image/mask pairs in {summary['out']} ({counts})")
    folder = RunFolder(p.train.run_dir)
    evaluation = folder.evaluation
    if p.run.evaluate:
        inputs = evaluation_inputs(folder.root, folder.generated(data.product, p.generate.output_dir))
        if not is_current(evaluation / "segmentation.json", p.evaluate, inputs):
            evaluate_segmentation(p.evaluate, data)  # first time, or the pairs, weights or settings changed
        print(f"[{p.name}] downstream segmentation ({evaluation}):")
        print(format_table(read_json(evaluation / "segmentation.json", f"rerun seas run --run-dir {folder.root}")))
        if not is_current(evaluation / "quality.json", p.quality, inputs):
            evaluate_quality(p.quality, data)
        print(f"[{p.name}] pair quality ({evaluation}/quality.md):")
        print(format_quality(read_json(evaluation / "quality.json", f"rerun seas run --run-dir {folder.root}")))
    if p.run.report:
        print(f"[{p.name}] report: {build_report(p.train.run_dir, generated=p.generate.output_dir)}")
