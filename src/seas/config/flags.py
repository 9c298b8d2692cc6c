"""Command-line flags built from the config dataclasses, and the precedence rule that merges them.

Precedence, lowest first: field defaults < dataset preset < ``--config`` file < command line.
Flags use ``argparse.SUPPRESS`` as default so that only the flags a user typed override the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

from seas.config import ALL_CONFIGS, PRESETS
from seas.errors import ConfigError, flag

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["add_config_flags", "load_config_file", "resolve_configs"]


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    """Return (inner type, is_optional) for ``X | None``."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


# Help group title of each config class, in words; options marked ``project`` in their metadata go to one
# group of their own, whatever their class (they are not in the paper: docs/deviations.md lists each).
GROUP_TITLES: dict[str, str] = {
    "DataConfig": "Data",
    "ModelConfig": "Base model",
    "PretrainConfig": "Prior (seas pretrain)",
    "PatchConfig": "Patches (seas patches)",
    "PasteConfig": "Paste (seas paste)",
    "TrainConfig": "Stage 1: generator fine-tuning",
    "MaskTrainConfig": "Stage 2: mask head (RMP)",
    "GenerateConfig": "Generation",
    "RunConfig": "Pipeline (seas run)",
    "ReportConfig": "Report",
    "ReviewConfig": "Review (seas review)",
    "DownstreamConfig": "Downstream segmentation",
    "QualityConfig": "Pair quality",
    "GenerationMetricsConfig": "IC-LPIPS and Inception Score",
    "BenchmarkConfig": "Benchmark",
}
PROJECT_TITLE = "Project options (not in the paper; each is listed in docs/deviations.md)"


def _help_text(f: dataclasses.Field[Any]) -> str:
    """The field's help with its default appended, unless the help already says what the default is."""
    text = f.metadata.get("help", "")
    if "default:" not in text.lower():
        default = f.default
        shown = "none" if default is None else (" ".join(map(str, default)) if isinstance(default, tuple) else default)
        text = f"{text} (default: {shown})"
    return text.replace("%", "%%")  # argparse %-formats help strings


def add_config_flags(parser: argparse.ArgumentParser, config_classes: list[type]) -> None:
    """Add one flag per field of each config class to ``parser`` (help text from the field).

    Flags are grouped by config class under :data:`GROUP_TITLES`; fields marked ``project`` in their
    metadata are gathered under :data:`PROJECT_TITLE` after the others.
    """
    seen: set[str] = set()
    project: argparse._ArgumentGroup | None = None
    project_fields: list[tuple[type, dataclasses.Field[Any]]] = []
    for cls in config_classes:
        group = parser.add_argument_group(GROUP_TITLES[cls.__name__])
        for f in dataclasses.fields(cls):
            if f.name in seen:
                continue
            seen.add(f.name)
            if f.metadata.get("project"):
                project_fields.append((cls, f))
                continue
            _add_flag(group, cls, f)
    for cls, f in project_fields:
        project = project or parser.add_argument_group(PROJECT_TITLE)
        _add_flag(project, cls, f)


def _add_flag(group: argparse._ArgumentGroup, cls: type, f: dataclasses.Field[Any]) -> None:
    tp, _ = _strip_optional(get_type_hints(cls)[f.name])
    kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": _help_text(f)}
    if tp is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif get_origin(tp) is Literal:
        kwargs["choices"] = [str(c) for c in get_args(tp)]
        kwargs["metavar"] = "{" + ",".join(str(c) for c in get_args(tp)) + "}"
    elif get_origin(tp) is tuple:
        kwargs["nargs"] = "+"
        kwargs["metavar"] = f.name.upper()
    elif tp in (int, float, str, Path):
        kwargs["type"] = tp if tp is not Path else str
        kwargs["metavar"] = f.name.upper()
    else:  # pragma: no cover - a developer error, caught by the config tests
        msg = f"unsupported config field type {tp!r} for {cls.__name__}.{f.name}"
        raise TypeError(msg)
    group.add_argument(flag(f.name), dest=f.name, **kwargs)


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a flat YAML (.yaml/.yml) or TOML (.toml) mapping of field names to values.

    Raises:
        ConfigError: The file is missing, unparsable, or not a flat mapping.
    """
    if not path.is_file():
        raise ConfigError(path, "config file not found", "check the --config path")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml", ".json"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(path, f"unknown config file type {path.suffix!r}", "use .yaml, .yml, .json or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(path, f"cannot parse config file ({first})", "fix the syntax") from exc
    if not isinstance(data, dict):
        raise ConfigError(path, "config file must hold a mapping of option names to values", None)
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def _coerce(cls: type, name: str, value: Any, source: str) -> Any:
    """Convert a file or flag value to the field's type; ``source`` names where it came from."""
    tp, optional = _strip_optional(get_type_hints(cls)[name])
    if value is None:
        if optional:
            return None
        raise ConfigError(source, f"{name} cannot be empty", f"give {flag(name)} a value")
    try:
        if tp is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "yes", "1")
            return bool(value)
        if get_origin(tp) is Literal:
            choices = get_args(tp)
            match = [c for c in choices if str(c) == str(value)]
            if not match:
                raise ConfigError(source, f"{name} must be one of {', '.join(map(str, choices))}, got {value!r}", None)
            return match[0]
        if get_origin(tp) is tuple:
            items = value if isinstance(value, list | tuple) else [value]
            return tuple(str(v) for v in items)
        if tp is Path:
            return Path(str(value)).expanduser()
        if tp is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return tp(value)
    except ConfigError:
        raise  # already names the choices
    except (TypeError, ValueError) as exc:
        raise ConfigError(source, f"{name} must be {getattr(tp, '__name__', tp)}, got {value!r}", None) from exc


# Stage sections of a config file: values that apply to one stage only (e.g. ``train_mask: {max_steps: 40}``
# next to a shared ``max_steps: 20``), the way accelerate's config scopes settings per launcher.
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "pretrain": ("PretrainConfig",),
    "train": ("TrainConfig",),
    "train_mask": ("MaskTrainConfig",),
    "generate": ("GenerateConfig",),
    "evaluate": ("DownstreamConfig", "QualityConfig", "GenerationMetricsConfig"),
    "report": ("ReportConfig",),
    "review": ("ReviewConfig",),
}
STAGE_SECTIONS_OF = {cls: section for section, classes in STAGE_SECTIONS.items() for cls in classes}


def _stage_sections(file_values: dict[str, Any], config_classes: list[type], path: Path) -> dict[str, dict[str, Any]]:
    """Remove the stage sections from ``file_values``; returns config class name -> that section's values.

    Sections of stages the command does not run are ignored (one file can serve every command); a key
    that the section's stage does not have is an error.
    """
    scoped: dict[str, dict[str, Any]] = {}
    by_name = {cls.__name__: cls for cls in config_classes}
    for section, classes in STAGE_SECTIONS.items():
        if section not in file_values:
            continue
        values = file_values.pop(section)
        if not isinstance(values, dict):
            raise ConfigError(path, f"section {section!r} must be a mapping of option names to values", None)
        values = {str(k).replace("-", "_"): v for k, v in values.items()}
        present = [by_name[c] for c in classes if c in by_name]
        if not present:
            continue
        fields = {f.name for cls in present for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ConfigError(
                path,
                f"unknown option(s) in section {section!r}: {', '.join(unknown)}",
                f"valid there: {', '.join(sorted(fields))}",
            )
        for cls in present:
            names = {f.name for f in dataclasses.fields(cls)}
            scoped[cls.__name__] = {k: v for k, v in values.items() if k in names}
    return scoped


def resolve_configs(config_classes: list[type], namespace: argparse.Namespace) -> list[Any]:
    """Build the config instances from defaults, preset, ``--config`` file and flags, in that order.

    Args:
        config_classes: The dataclasses the command uses.
        namespace: Parsed arguments; may hold ``config`` (a path) and any field name.

    Returns:
        One validated, frozen instance per class, in the same order.

    Raises:
        ConfigError: Unknown key in the file, bad value, or a combination a config rejects.
    """
    known = {f.name: cls for cls in config_classes for f in dataclasses.fields(cls)}
    cli = {k: v for k, v in vars(namespace).items() if k in known}
    file_values: dict[str, Any] = {}
    scoped: dict[str, dict[str, Any]] = {}  # config class name -> values of its stage section
    config_path = getattr(namespace, "config", None)
    if config_path is not None:
        file_values = load_config_file(Path(config_path))
        scoped = _stage_sections(file_values, config_classes, Path(config_path))
        # One file serves every command of a run: options of other commands are left to them.
        anywhere = {f.name for cls in ALL_CONFIGS for f in dataclasses.fields(cls)}
        unknown = sorted(set(file_values) - anywhere)
        if unknown:
            raise ConfigError(
                config_path,
                f"unknown option(s) {', '.join(unknown)}",
                "see seas <command> --help for the options; names use _ or -",
            )
    # The preset reaches every command of the file's run (generate takes its guidance), not only those with --preset.
    preset_name = cli.get("preset", file_values.get("preset"))
    if preset_name is not None and str(preset_name) not in PRESETS:
        source = flag("preset") if "preset" in cli else str(config_path)
        raise ConfigError(
            source,
            f"unknown preset {preset_name!r}",
            f"use one of {', '.join(PRESETS)}, or none for MVTec AD's settings",
        )
    preset = PRESETS.get(str(preset_name), {}) if preset_name is not None else {}
    file_values = {k: v for k, v in file_values.items() if k in known}
    merged: dict[str, tuple[Any, str]] = {k: (v, f"preset {preset_name}") for k, v in preset.items() if k in known}
    merged.update({k: (v, str(config_path)) for k, v in file_values.items()})
    merged.update({k: (v, flag(k)) for k, v in cli.items()})
    instances = []
    for cls in config_classes:
        names = {f.name for f in dataclasses.fields(cls)}
        mine = dict(merged)
        for key, value in scoped.get(cls.__name__, {}).items():
            if key not in cli:  # a flag still overrides the file, section or not
                mine[key] = (value, f"{config_path} ({STAGE_SECTIONS_OF[cls.__name__]}: section)")
        kwargs = {k: _coerce(cls, k, v, src) for k, (v, src) in mine.items() if k in names}
        instances.append(cls(**kwargs))
    return instances
