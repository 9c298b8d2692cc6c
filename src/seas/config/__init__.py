"""Typed, frozen run configuration: one dataclass per stage, built once, never changed.

Each stage's options live in their own module (:mod:`seas.config.data`, :mod:`~seas.config.pretrain`,
:mod:`~seas.config.stage1`, :mod:`~seas.config.stage2`, :mod:`~seas.config.generate`,
:mod:`~seas.config.evaluate`, :mod:`~seas.config.run`); what they share is in one place: number
checks, presets and run records in :mod:`seas.config.base`, flags generated from the dataclasses,
file < flag precedence and ``--print-config`` in :mod:`seas.config.flags`.
"""

from seas.config.base import (
    IMAGE_EXTENSIONS,
    PRESETS,
    SEED_MAX,
    Layout,
    check_numbers,
    config_from_dict,
    config_to_dict,
    dumps,
    package_versions,
    write_run_record,
)
from seas.config.data import DataConfig, ModelConfig, PatchConfig
from seas.config.evaluate import (
    BenchmarkConfig,
    DownstreamConfig,
    GenerationMetricsConfig,
    QualityConfig,
    ReportConfig,
    ReviewConfig,
)
from seas.config.generate import GenerateConfig, PasteConfig
from seas.config.pretrain import PretrainConfig
from seas.config.run import RunConfig
from seas.config.stage1 import TrainConfig
from seas.config.stage2 import MaskTrainConfig

# Every config class: a config file may hold any of their options (each command takes its own).
ALL_CONFIGS: tuple[type, ...] = (
    DataConfig,
    ModelConfig,
    PretrainConfig,
    PatchConfig,
    PasteConfig,
    TrainConfig,
    MaskTrainConfig,
    GenerateConfig,
    RunConfig,
    ReportConfig,
    ReviewConfig,
    DownstreamConfig,
    QualityConfig,
    GenerationMetricsConfig,
    BenchmarkConfig,
)

__all__ = [
    "ALL_CONFIGS",
    "IMAGE_EXTENSIONS",
    "PRESETS",
    "SEED_MAX",
    "BenchmarkConfig",
    "DataConfig",
    "DownstreamConfig",
    "GenerateConfig",
    "GenerationMetricsConfig",
    "Layout",
    "MaskTrainConfig",
    "ModelConfig",
    "PasteConfig",
    "PatchConfig",
    "PretrainConfig",
    "QualityConfig",
    "ReportConfig",
    "ReviewConfig",
    "RunConfig",
    "TrainConfig",
    "check_numbers",
    "config_from_dict",
    "config_to_dict",
    "dumps",
    "package_versions",
    "write_run_record",
]
