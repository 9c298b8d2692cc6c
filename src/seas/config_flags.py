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

from seas.config import PRESETS
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


def add_config_flags(parser: argparse.ArgumentParser, config_classes: list[type]) -> None:
    """Add one flag per field of each config class to ``parser`` (help text from the field)."""
    seen: set[str] = set()
    for cls in config_classes:
        group = parser.add_argument_group(cls.__name__, (cls.__doc__ or "").splitlines()[0])
        hints = get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if f.name in seen:
                continue
            seen.add(f.name)
            tp, _ = _strip_optional(hints[f.name])
            help_text = f.metadata.get("help", "")
            default = f.default
            shown = (
                "none" if default is None else (" ".join(map(str, default)) if isinstance(default, tuple) else default)
            )
            # argparse %-formats help strings: a literal "%" (as in "0.3 % of the image") must be doubled.
            text = f"{help_text} (default: {shown})".replace("%", "%%")
            kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": text}
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
            raise ConfigError(path, f"unknown option(s) in section {section!r}: {', '.join(unknown)}",
                              f"valid there: {', '.join(sorted(fields))}")  # fmt: skip
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
        unknown = sorted(set(file_values) - set(known))
        if unknown:
            raise ConfigError(
                config_path, f"unknown option(s) {', '.join(unknown)}", f"valid options: {', '.join(sorted(known))}"
            )
    preset_name = cli.get("preset", file_values.get("preset"))
    preset = PRESETS.get(str(preset_name), {}) if preset_name is not None else {}
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
