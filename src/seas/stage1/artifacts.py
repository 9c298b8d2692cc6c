"""Reading a finished stage-1 run folder back: the fine-tuned generator and its token map.

The folder is the hand-over between stages: ``unet/`` (diffusers), ``tokenizer/`` (with the added
tokens), ``token_embeddings.safetensors`` (``embeddings: new``) or ``text_encoder/`` (``all``),
``token_map.json``, ``split.json`` and ``config.json`` (which names the base model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from diffusers import UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from seas.config import DataConfig, ModelConfig, TrainConfig, config_from_dict
from seas.data.catalog import ProductData, load_product
from seas.data.split import DataSplit, read_split
from seas.errors import ModelLoadError
from seas.integrity import verify_weights
from seas.models.loading import SDComponents, load_base_model
from seas.stage1.tokens import TokenMap, load_token_rows

__all__ = [
    "RunRecord",
    "generator_problem",
    "generator_weight_files",
    "load_generator",
    "missing_generator_files",
    "read_run",
    "read_stage1_configs",
]


def missing_generator_files(run_dir: Path) -> list[Path]:
    """The hand-over files of a finished stage-1 run that are not on disk (empty when complete)."""
    needed = [run_dir / "unet" / "config.json", run_dir / "unet" / "diffusion_pytorch_model.safetensors",
              run_dir / "tokenizer" / "tokenizer_config.json", run_dir / "token_map.json"]  # fmt: skip
    rows, encoder = run_dir / "token_embeddings.safetensors", run_dir / "text_encoder" / "config.json"
    missing = [p for p in needed if not p.is_file()]
    if not rows.is_file() and not encoder.is_file():
        missing.append(rows)
    return missing


def generator_weight_files(run_dir: Path) -> list[Path]:
    """The weights files of a finished stage-1 run's hand-over (U-Net, token rows or text encoder)."""
    files = sorted((run_dir / "unet").glob("*.safetensors")) + sorted(run_dir.glob("token_embeddings.safetensors"))
    return files + sorted((run_dir / "text_encoder").glob("*.safetensors"))


def generator_problem(run_dir: Path) -> str | None:
    """Why a finished stage-1 run's hand-over cannot be used (a missing or damaged file), or None."""
    missing = missing_generator_files(run_dir)
    if missing:
        return f"{missing[0]} is missing"
    try:
        verify_weights(run_dir, None)
    except ModelLoadError as exc:
        return str(exc)
    return None


def load_generator(run_dir: Path) -> tuple[SDComponents, TokenMap]:
    """Base model components with the run's U-Net, tokenizer and token embeddings swapped in.

    Raises:
        ModelLoadError: The folder is not a finished stage-1 run.
    """
    if not (run_dir / "train_complete.json").is_file():
        raise ModelLoadError(run_dir, "not a finished stage-1 run (no train_complete.json)", "run seas train first")
    missing = missing_generator_files(run_dir)
    if missing:  # a local path: never let the loaders fall through to a hub lookup
        raise ModelLoadError(missing[0], "missing from this finished stage-1 run",
                             f"rerun seas train --output-dir {run_dir} (same flags) to write it again")  # fmt: skip
    verify_weights(run_dir, f"rerun seas train --output-dir {run_dir} (same flags) to write it again")
    record = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    model_cfg = record["config"]["ModelConfig"]
    parts = load_base_model(model_cfg["base_model"], model_cfg["model_seed"], model_cfg["resolution"])
    parts.unet = UNet2DConditionModel.from_pretrained(run_dir / "unet").eval()
    parts.tokenizer = CLIPTokenizer.from_pretrained(run_dir / "tokenizer")
    if (run_dir / "text_encoder").is_dir():
        parts.text_encoder = CLIPTextModel.from_pretrained(run_dir / "text_encoder").eval()
    else:
        load_token_rows(run_dir / "token_embeddings.safetensors", parts.text_encoder)
    token_map = TokenMap.from_json((run_dir / "token_map.json").read_text(encoding="utf-8"))
    return parts, token_map


def read_stage1_configs(run_dir: Path) -> tuple[DataConfig, ModelConfig, TrainConfig]:
    """The resolved stage-1 configs recorded in ``<run>/config.json``.

    Raises:
        ModelLoadError: No such run folder, or its record is unreadable.
    """
    path = run_dir / "config.json"
    if not path.is_file():
        problem = "not a seas run folder (no config.json)" if run_dir.is_dir() else "no such folder"
        raise ModelLoadError(run_dir, problem, "pass the --output-dir of a seas train run")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))["config"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ModelLoadError(path, f"unreadable run record ({type(exc).__name__})", "rerun seas train") from exc
    return (config_from_dict(DataConfig, record["DataConfig"]), config_from_dict(ModelConfig, record["ModelConfig"]),
            config_from_dict(TrainConfig, record["TrainConfig"]))  # fmt: skip


@dataclass(frozen=True)
class RunRecord:
    """What every later stage reads first from a stage-1 run folder: its settings, its product and its split."""

    data_cfg: DataConfig
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    data: ProductData
    split: DataSplit


def read_run(run_dir: Path, data: ProductData | None = None) -> RunRecord:
    """The run's recorded configs, its product's listing (``data`` when the caller already listed it) and split.

    Raises:
        ModelLoadError: No such run folder, or its record is unreadable.
    """
    data_cfg, model_cfg, train_cfg = read_stage1_configs(run_dir)
    data = data if data is not None else load_product(data_cfg)
    return RunRecord(data_cfg, model_cfg, train_cfg, data, read_split(run_dir / "split.json", data))
