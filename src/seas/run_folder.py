"""The run folder: the one module that knows its layout, and the reads every later stage starts with.

A run folder is the hand-over between stages. ``seas train`` (stage 1) makes it; ``seas train-mask``,
``seas generate``, ``seas evaluate`` and ``seas report`` add to it or read it. Every path below is named
here once (:class:`RunFolder`); no other module spells a run-folder file name.

=============================  ======================================================================
``config.json``                resolved stage-1 settings (DataConfig, ModelConfig, TrainConfig) + provenance
``split.json``                 which defect images train and which are held out (part of the settings)
``heldout_halves.json``        the held-out images and ``test/good`` halved into validation and test
``token_map.json``             the UA prompt's learned tokens per defect type
``tokenizer/``                 the base tokenizer with those tokens added
``unet/``                      the fine-tuned U-Net (diffusers)
``token_embeddings.safetensors``  the learned token rows (``embeddings: new``), or ``text_encoder/`` (``all``)
``sha256.json``                the hashes of the weights above, written after them (:mod:`seas.integrity`)
``train_complete.json``        stage 1 finished (written last)
``checkpoint-N/``, ``logs.jsonl``  stage-1 checkpoints and losses (``tensorboard/``, ``validation/`` grids)
``stage2/``                    stage-2 settings record, checkpoints and losses
``rmp/``                       the trained RMP head (``model.safetensors``, ``config.json``, ``sha256.json``)
``generated/<product>/``       ``seas generate``'s default output tree
``checkpoint_ids.json``        the weight identities of the last generation (the report shows them)
``evaluation/``, ``report/``   ``seas evaluate`` results and ``seas report``'s page
=============================  ======================================================================

Weight identities are recomputed from the files they name on every read (:func:`checkpoint_ids`),
never taken from a cache that could outlive them. Leftover temp files of killed writers are removed
by :func:`seas.locks.writer_lock` when the next writer takes the folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seas.config import DataConfig, ModelConfig, TrainConfig, config_from_dict
from seas.data.catalog import ProductData, load_product
from seas.data.split import DataSplit, read_split
from seas.errors import ModelLoadError
from seas.integrity import combined_id, file_sha256, recorded_hashes, weights_problem
from seas.records import read_json

if TYPE_CHECKING:  # torch stays unimported until a token map is read: the CLI imports this module
    from seas.stage1.tokens import TokenMap

__all__ = [
    "LAYOUT",
    "RunFolder",
    "RunRecord",
    "checkpoint_ids",
    "generator_problem",
    "generator_weight_files",
    "missing_generator_files",
    "read_run",
    "read_stage1_configs",
    "read_token_map",
]


# Attribute of :class:`RunFolder` -> path inside the run folder (the table of the module docstring).
LAYOUT = {
    "record": "config.json",
    "split": "split.json",
    "halves": "heldout_halves.json",
    "token_map": "token_map.json",
    "tokenizer": "tokenizer",
    "unet": "unet",
    "token_rows": "token_embeddings.safetensors",
    "text_encoder": "text_encoder",
    "finished": "train_complete.json",
    "logs": "logs.jsonl",
    "tensorboard": "tensorboard",
    "validation": "validation",
    "stage2": "stage2",
    "rmp": "rmp",
    "rmp_weights": "rmp/model.safetensors",
    "weight_ids": "checkpoint_ids.json",
    "generated_out": "generated",
    "evaluation": "evaluation",
    "report": "report",
}


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (:data:`LAYOUT`); nothing is read or created."""

    root: Path
    record: Path = field(init=False)
    split: Path = field(init=False)
    halves: Path = field(init=False)
    token_map: Path = field(init=False)
    tokenizer: Path = field(init=False)
    unet: Path = field(init=False)
    token_rows: Path = field(init=False)
    text_encoder: Path = field(init=False)
    finished: Path = field(init=False)
    logs: Path = field(init=False)
    tensorboard: Path = field(init=False)
    validation: Path = field(init=False)
    stage2: Path = field(init=False)
    rmp: Path = field(init=False)
    rmp_weights: Path = field(init=False)
    weight_ids: Path = field(init=False)
    generated_out: Path = field(init=False)
    evaluation: Path = field(init=False)
    report: Path = field(init=False)

    def __post_init__(self) -> None:
        for name, relative in LAYOUT.items():
            object.__setattr__(self, name, Path(self.root) / relative)

    def generated(self, product: str, out: Path | None = None) -> Path:
        """The pair tree of ``product``: under ``out`` (``--generated``, ``--output-dir``) or RUN/generated/."""
        return (out if out is not None else self.generated_out) / product


def missing_generator_files(run_dir: Path) -> list[Path]:
    """The hand-over files of a finished stage-1 run that are not on disk (empty when complete)."""
    run = RunFolder(run_dir)
    needed = [
        run.unet / "config.json",
        run.unet / "diffusion_pytorch_model.safetensors",
        run.tokenizer / "tokenizer_config.json",
        run.token_map,
    ]
    missing = [p for p in needed if not p.is_file()]
    if not run.token_rows.is_file() and not (run.text_encoder / "config.json").is_file():
        missing.append(run.token_rows)
    return missing


def generator_weight_files(run_dir: Path) -> list[Path]:
    """The weights files of a finished stage-1 run's hand-over (U-Net, token rows or text encoder)."""
    run = RunFolder(run_dir)
    files = sorted(run.unet.glob("*.safetensors")) + ([run.token_rows] if run.token_rows.is_file() else [])
    return files + sorted(run.text_encoder.glob("*.safetensors"))


def generator_problem(run_dir: Path) -> str | None:
    """Why a finished stage-1 run's hand-over cannot be used (a missing or damaged file), or None."""
    missing = missing_generator_files(run_dir)
    return f"{missing[0]} is missing" if missing else weights_problem(run_dir)


def read_token_map(run_dir: Path) -> TokenMap:
    """The run's token map (``token_map.json``)."""
    from seas.stage1.tokens import TokenMap

    path = RunFolder(run_dir).token_map
    if not path.is_file():
        raise ModelLoadError(path, "missing from this run", f"rerun seas train --run-dir {run_dir} (same flags)")
    finished = RunFolder(run_dir).finished.name
    fix = f"delete {path} and {finished}, then rerun seas train --run-dir {run_dir} (same flags)"
    return read_json(path, fix, TokenMap.from_dict)


def read_stage1_configs(run_dir: Path) -> tuple[DataConfig, ModelConfig, TrainConfig]:
    """The resolved stage-1 configs recorded in ``<run>/config.json``.

    Raises:
        ModelLoadError: No such run folder, or its record is unreadable.
    """
    path = RunFolder(run_dir).record
    if not path.is_file():
        problem = "not a seas run folder (no config.json)" if run_dir.is_dir() else "no such folder"
        raise ModelLoadError(run_dir, problem, "pass the --run-dir folder of a seas train run")
    fix = f"start a new run folder, or restore {path.name} from a copy (it holds the run's settings)"
    record = read_json(
        path, fix, lambda r: {k: dict(r["config"][k]) for k in ("DataConfig", "ModelConfig", "TrainConfig")}
    )
    return (
        config_from_dict(DataConfig, record["DataConfig"]),
        config_from_dict(ModelConfig, record["ModelConfig"]),
        config_from_dict(TrainConfig, record["TrainConfig"]),
    )


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
    return RunRecord(data_cfg, model_cfg, train_cfg, data, read_split(RunFolder(run_dir).split, data))


def checkpoint_ids(run_dir: Path) -> dict[str, str]:
    """Identities of a run's generator and RMP weights, from the sha256 records written with them.

    Recomputed on every call (a folder without a record is hashed directly), so an identity never
    outlives the files it names. Reads only.
    """
    run = RunFolder(run_dir)
    ids = {}
    for key, folder, files in (
        ("generator", run.root, generator_weight_files(run.root)),
        ("rmp", run.rmp, [run.rmp_weights]),
    ):
        hashes = recorded_hashes(folder)
        if hashes is None:
            hashes = {p.relative_to(folder).as_posix(): file_sha256(p) for p in files if p.is_file()}
        ids[key] = combined_id(hashes)
    return ids
