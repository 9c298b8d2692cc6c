"""What do the defect tokens draw inside a placed mask? The prompt check for ``--mask-source train`` pairs.

A pair with a placed mask changes only inside its mask by construction, and under ``--placed-start defect``
it starts from a real training defect pasted there, so a visible defect in it proves nothing about the
generator. Each such pair is redrawn with the *normal* prompt "a <ob>" (same seed, reference, mask, start
and settings, read from its record), and inside the mask we compare:

* ``own``: mean change from the reference photo with the type's prompt (the pair as written: the paste,
  the VAE's error and what the generator drew);
* ``normal``: the same for the normal-prompt twin (everything but the defect tokens);
* ``own_vs_normal``: mean difference between pair and twin: what the defect tokens add;
* ``own_visible`` / ``normal_visible``: share of mask pixels changed by more than ``VISIBLE`` grey levels.

The redraw runs in the dtype the pairs record, so that ``own_vs_normal`` holds no precision difference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seas.config import GenerateConfig
from seas.data.augment import from_training_rgb, to_training_rgb
from seas.data.imageio import read_mask, read_rgb
from seas.evaluate.prompt_effect import VISIBLE, grey_change
from seas.generate.outputs import read_manifest
from seas.generate.pipeline import Job, MaskedSampler
from seas.models.loading import SDComponents
from seas.stage1.tokens import TokenMap

__all__ = ["PlacedEffect", "normal_twins", "placed_effect", "placed_records", "reference_photo", "sampler_for"]


def reference_photo(path: Path, resolution: int) -> np.ndarray:
    """``[R, R, 3]`` uint8: the reference photo at the resolution, as the sampler reads it."""
    return from_training_rgb(to_training_rgb(read_rgb(path), resolution, "crop"))


class PlacedEffect:
    """Accumulates the module docstring's numbers over the pairs of one defect type."""

    def __init__(self) -> None:
        self._rows: dict[str, list[float]] = {
            k: [] for k in ("own", "normal", "own_vs_normal", "own_visible", "normal_visible")
        }

    def add(self, own: np.ndarray, twin: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> None:
        """One pair: its image, its normal-prompt twin and reference photo (``[R, R, 3]`` uint8), its mask."""
        own_change, twin_change = grey_change(own, reference)[mask], grey_change(twin, reference)[mask]
        self._rows["own"].append(float(own_change.mean()))
        self._rows["normal"].append(float(twin_change.mean()))
        self._rows["own_vs_normal"].append(float(grey_change(own, twin)[mask].mean()))
        self._rows["own_visible"].append(float((own_change > VISIBLE).mean()))
        self._rows["normal_visible"].append(float((twin_change > VISIBLE).mean()))

    def result(self) -> dict[str, Any]:  # Any: JSON
        """``{"pairs", "own", "normal", "own_vs_normal", "own_visible", "normal_visible"}`` (means over pairs)."""
        return {"pairs": len(self._rows["own"]), **{k: float(np.mean(v)) for k, v in self._rows.items() if v}}


def placed_records(folder: Path) -> list[dict[str, Any]]:  # Any: JSON
    """The records of ``folder``'s pairs that have a placed mask (``mask_from``), in manifest order."""
    return [r for r in read_manifest(folder) if "mask_from" in r]


def sampler_for(
    parts: SDComponents, record: dict[str, Any], model: Path, resolution: int, device: torch.device
) -> MaskedSampler:
    """A sampler with the settings ``record`` (a pair's manifest line) holds, in its dtype."""
    names = {f.name for f in dataclasses.fields(GenerateConfig)} - {"mixed_precision"}
    cfg = GenerateConfig(run_dir=model, **{k: v for k, v in record["settings"].items() if k in names})
    dtype = getattr(torch, record["settings"].get("dtype", "torch.float32").removeprefix("torch."))  # "torch.float16"
    return MaskedSampler(parts, None, cfg, resolution, device, dtype)  # casts ``parts`` to it


def normal_twins(
    sampler: MaskedSampler, normal_prompt: str, folder: Path, records: list[dict[str, Any]], batch: int = 8
) -> Iterator[tuple[dict[str, Any], np.ndarray, np.ndarray]]:
    """(record, mask, normal-prompt twin ``[R, R, 3]`` uint8) for each placed-mask pair ``records`` of ``folder``."""
    for k in range(0, len(records), batch):
        chunk = records[k : k + batch]
        masks = [read_mask(folder / r["mask"]) for r in chunk]
        jobs = [
            Job(r["index"], r["attempt"], r["seed"], normal_prompt, Path(r["reference"]), True, m, r["mask_from"])
            for r, m in zip(chunk, masks, strict=True)
        ]
        for r, m, result in zip(chunk, masks, sampler.run(jobs), strict=True):
            yield r, m, result.image


@torch.no_grad()
def placed_effect(
    parts: SDComponents,
    token_map: TokenMap,
    model: Path,
    tree: Path,
    types: list[str],
    resolution: int,
    device: torch.device,
) -> dict[str, Any] | None:
    """Per defect type with placed-mask pairs in ``tree``: the module docstring's numbers; None if there are none."""
    out: dict[str, Any] = {}
    for t in types:
        folder = tree / t
        records = placed_records(folder)
        if not records:
            continue
        sampler = sampler_for(parts, records[0], model, resolution, device)
        effect = PlacedEffect()
        for record, mask, twin in normal_twins(sampler, token_map.prompt(None), folder, records):
            own = read_rgb(folder / record["image"])
            effect.add(own, twin, reference_photo(Path(record["reference"]), resolution), mask)
        out[t] = effect.result()
    return out or None
