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
from seas.config import DataConfig, ModelConfig, TrainConfig, dumps
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
    import logging

    from seas.stage1.train import train

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run_dir = train(*configs)
    print(f"stage 1 done: {run_dir}")
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
