"""The shared config mechanism: presets, number checks, records; each stage's options live beside it in this package.

Each field carries its default and its help text in one place (``metadata["help"]``); the CLI
builds its flags from the fields under the same names (``num_normals`` -> ``--num-normals``).
Precedence, lowest first: field defaults, dataset preset, ``--config`` file, command line
(the reference implementation lets the file override the command line: pitfall 1 in
docs/method.md). ``__post_init__`` rejects impossible values before any weights load.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
from dataclasses import field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

from seas.errors import ConfigError, flag
from seas.files import atomic_write_json

__all__ = [
    "IMAGE_EXTENSIONS",
    "PRESETS",
    "SEED_MAX",
    "Layout",
    "check_numbers",
    "checkpoint_every",
    "checkpoint_limit",
    "config_from_dict",
    "config_to_dict",
    "cpu_switch",
    "dumps",
    "hint",
    "package_versions",
    "write_run_record",
]

IMAGE_EXTENSIONS: tuple[str, ...] = ("png", "jpg", "jpeg", "bmp", "tif", "tiff")
Layout = Literal["mvtec", "visa", "mvtec3d", "folder"]

# Per-dataset defaults named in docs/method.md (§2.2, §2.4, §2.9); the field defaults are MVTec AD's
# (rot90/flip, DA region >= 0.5, guidance 8). A key applies only to commands whose configs have that
# field. VisA and MVTec 3D-AD keep the reference's `> 0` DA region, which is never empty for a
# non-empty mask; MVTec AD uses the project's `>= 0.5` (pitfall 6).
PRESETS: dict[str, dict[str, Any]] = {
    "visa": {"augment": "none", "da_region": "any", "guidance": 2.0},
    "mvtec3d": {"augment": "rot90_flip", "da_region": "any", "guidance": 5.0},
}


def hint(text: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: the help text of its flag (and ``project=True`` for an option not in the paper)."""
    return {"help": text, **extra}


def checkpoint_every(default: int = 500) -> Any:  # Any: a dataclass field
    """The ``checkpointing_steps`` field every training stage has."""
    return field(default=default, metadata=hint("Save a resumable checkpoint every N steps (0 = never)."))


def checkpoint_limit(default: int = 3) -> Any:  # Any: a dataclass field
    """The ``checkpoints_total_limit`` field every training stage has."""
    return field(default=default, metadata=hint("Keep at most this many checkpoints."))


def cpu_switch(doing: str) -> Any:  # Any: a dataclass field
    """The ``cpu`` field: ``doing`` (``Train``, ``Generate``, ...) on CPU even with a GPU."""
    return field(default=False, metadata=hint(f"{doing} on CPU even when a GPU is present."))


SEED_MAX = 2**32 - 1  # seeds are offset per image and attempt; every generator accepts this range
INT_MAX = 2**31 - 1
_UNIT_INTERVAL = ("mask_threshold", "adam_beta1", "adam_beta2")  # probabilities / decay rates: [0, 1)


def _is_rate(name: str) -> bool:
    return "learning_rate" in name or name.endswith("_lr") or name == "adam_epsilon"


def check_numbers(cfg: Any, at_least_one: tuple[str, ...] = ()) -> None:
    """The checks every numeric field of every config gets, before its own: one line naming the flag.

    Every number is finite and >= 0 (no option here means anything negative); integer fields hold
    integers below 2**31 (seeds up to 2**32 - 1); learning rates and Adam's epsilon are > 0;
    thresholds and Adam betas lie in [0, 1); a checkpoint limit, when set, keeps at least one; the
    fields named in ``at_least_one`` (counts and sizes) are >= 1.
    """
    for f in dataclasses.fields(cfg):
        value, name = getattr(cfg, f.name), flag(f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(name, f"must be a finite number, got {value}", None)
        if str(f.type).startswith("int") and not isinstance(value, int):
            raise ConfigError(name, f"must be an integer, got {value}", None)
        if value < 0:
            raise ConfigError(name, f"must be >= 0, got {value}", None)
        highest = SEED_MAX if "seed" in f.name else INT_MAX
        if isinstance(value, int) and value > highest:
            raise ConfigError(name, f"must be at most {highest}, got {value}", None)
        if _is_rate(f.name) and value == 0:
            raise ConfigError(name, "must be > 0, got 0", None)
        if f.name in _UNIT_INTERVAL and value >= 1:
            raise ConfigError(name, f"must be in [0, 1), got {value}", None)
    for name in at_least_one:
        if getattr(cfg, name) < 1:
            raise ConfigError(flag(name), f"must be at least 1, got {getattr(cfg, name)}", None)
    limit = getattr(cfg, "checkpoints_total_limit", None)
    if limit is not None and limit < 1:
        raise ConfigError(
            flag("checkpoints_total_limit"), f"must be at least 1, got {limit}", "keep at least one checkpoint"
        )


def config_to_dict(config: Any) -> dict[str, Any]:  # Any: any of this package's config dataclasses
    """JSON-safe dict of a config dataclass (paths as strings, tuples as lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return {f.name: plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def config_from_dict(cls: type, values: dict[str, Any]) -> Any:  # Any: the dataclass instance / JSON values
    """Inverse of :func:`config_to_dict` for a run record (unknown keys from other versions are ignored)."""
    from typing import get_type_hints

    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value, hint = values[f.name], str(hints[f.name])
        if value is not None and "Path" in hint:
            value = Path(value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide numerical results, for run records."""
    names = ["seas", "torch", "diffusers", "transformers", "accelerate", "safetensors", "numpy", "Pillow", "peft"]
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def write_run_record(
    out_dir: Path, configs: list[Any], base_model: dict[str, Any] | None, command: str
) -> dict[str, Any]:  # Any: config dataclasses / JSON values
    """Write ``config.json`` (resolved configuration, versions, base-model identity) into ``out_dir``.

    Returns:
        The record that was written.
    """
    record = {
        "command": command,
        "argv": sys.argv[1:],
        "config": {type(c).__name__: config_to_dict(c) for c in configs},
        "versions": package_versions(),
        "base_model": base_model,
    }
    atomic_write_json(out_dir / "config.json", record)
    return record


def dumps(configs: list[Any]) -> str:  # Any: config dataclasses
    """Pretty JSON of several configs, for ``--print-config``."""
    return json.dumps({type(c).__name__: config_to_dict(c) for c in configs}, indent=2)
