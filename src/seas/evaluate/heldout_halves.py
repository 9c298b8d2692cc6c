"""Validation and test halves of the held-out images, so settings are chosen off the test set.

``seas evaluate segmentation --split val`` scores on one half of every defect type's held-out images
and of ``test/good``; ``--split test`` on the other half; ``--split all`` on both (the literature's
protocol, which has no validation set). Each list is halved by a permutation seeded with
:data:`HALVES_SEED` and the list's name, the validation half taking ``n // 2`` images; the halves are
written once to the run's ``heldout_halves.json`` and read from there afterwards, so they never change
for a run. Settings (recipes, strengths, epochs) are compared on ``val``; claims are ``test`` numbers.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seas.data.split import DataSplit, portable_name
from seas.errors import ConfigError, DatasetLayoutError, flag
from seas.files import atomic_write_json

__all__ = ["HALVES_SEED", "SPLITS", "HeldoutHalves", "heldout_halves"]

SPLITS = ("val", "test", "all")
HALVES_SEED = 0
_GOOD = "test/good"


@dataclass(frozen=True)
class HeldoutHalves:
    """Per defect type, and for the defect-free test images, the validation and test halves (file order)."""

    types: dict[str, dict[str, tuple[tuple[Path, Path], ...]]]
    good: dict[str, tuple[Path, ...]]

    def part(self, name: str) -> tuple[dict[str, list[tuple[Path, Path]]], list[Path]]:
        """(held-out pairs per type, good images) of ``val``, ``test`` or ``all``.

        Raises:
            ConfigError: A defect type has no image in the requested half.
        """
        names = ("val", "test") if name == "all" else (name,)
        types = {t: [p for n in names for p in halves[n]] for t, halves in self.types.items()}
        empty = sorted(t for t, pairs in types.items() if not pairs)
        if empty:
            raise ConfigError(
                flag("split"), f"defect type {empty[0]} has no held-out image in the {name} half", "use --split all"
            )
        return {t: sorted(pairs) for t, pairs in types.items()}, sorted(p for n in names for p in self.good[n])


def _halve(items: list[Any], name: str) -> dict[str, tuple[Any, ...]]:
    order = np.random.default_rng([HALVES_SEED, zlib.crc32(name.encode())]).permutation(len(items))
    val = sorted(int(k) for k in order[: len(items) // 2])
    return {"val": tuple(items[k] for k in val), "test": tuple(x for k, x in enumerate(items) if k not in val)}


def heldout_halves(path: Path, split: DataSplit, good: list[Path], root: Path) -> HeldoutHalves:
    """The halves recorded in ``path`` (``RUN/heldout_halves.json``), drawn and written there on first use.

    Raises:
        DatasetLayoutError: The recorded halves list other images than the run's held-out set and ``good``.
    """
    drawn = HeldoutHalves(
        {t: _halve(list(split.types[t].heldout), t) for t in sorted(split.types)}, _halve(sorted(good), _GOOD)
    )

    def names(halves: HeldoutHalves) -> dict[str, Any]:
        return {
            "types": {
                t: {h: [portable_name(i, root) for i, _ in pairs] for h, pairs in parts.items()}
                for t, parts in halves.types.items()
            },
            "good": {h: [portable_name(p, root) for p in paths] for h, paths in halves.good.items()},
        }

    if not path.is_file():
        atomic_write_json(path, {"seed": HALVES_SEED, **names(drawn)})
        return drawn
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetLayoutError(path, "not a readable halves record", "delete it to draw the halves again") from exc
    current = names(drawn)

    def as_sets(record: dict[str, Any]) -> Any:  # Any: nested sets
        types = {t: frozenset(x for h in parts.values() for x in h) for t, parts in record.get("types", {}).items()}
        return types, frozenset(x for h in record.get("good", {}).values() for x in h)

    if as_sets(recorded) != as_sets(current):
        raise DatasetLayoutError(
            path, "lists other held-out images than the run's split.json and test/good", "delete it to draw new halves"
        )
    by_name = {portable_name(i, root): (i, m) for t in split.types for i, m in split.types[t].heldout}
    good_by_name = {portable_name(p, root): p for p in good}
    return HeldoutHalves(
        {t: {h: tuple(by_name[n] for n in recorded["types"][t][h]) for h in ("val", "test")} for t in drawn.types},
        {h: tuple(good_by_name[n] for n in recorded["good"][h]) for h in ("val", "test")},
    )
