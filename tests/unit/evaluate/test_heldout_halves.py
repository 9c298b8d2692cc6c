"""The validation / test halves of the held-out images: disjoint, complete, seeded, recorded once."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from seas.data.split import DataSplit, TypeSplit
from seas.errors import ConfigError, DatasetLayoutError
from seas.evaluate.heldout_halves import heldout_halves


def _split(root: Path, counts: dict[str, int]) -> DataSplit:
    types = {}
    for t, n in counts.items():
        pairs = tuple((root / t / f"{k:03d}.png", root / "gt" / t / f"{k:03d}.png") for k in range(n))
        types[t] = TypeSplit(train=pairs[:1], heldout=pairs[1:])
    return DataSplit("widget", Fraction(1, 3), types, ())


def test_halves_are_disjoint_complete_seeded_and_written_once(tmp_path: Path) -> None:
    split = _split(tmp_path, {"crack": 11, "hole": 6})
    good = [tmp_path / "good" / f"{k:03d}.png" for k in range(9)]
    record = tmp_path / "run" / "heldout_halves.json"
    halves = heldout_halves(record, split, good, tmp_path)
    for t in ("crack", "hole"):
        val, test = set(halves.types[t]["val"]), set(halves.types[t]["test"])
        assert not val & test
        assert val | test == set(split.types[t].heldout)
        assert len(val) == len(split.types[t].heldout) // 2
    assert not set(halves.good["val"]) & set(halves.good["test"])
    assert set(halves.good["val"]) | set(halves.good["test"]) == set(good)
    assert halves.types["crack"]["val"] != split.types["crack"].heldout[:5]  # a permutation, not the first half
    again = heldout_halves(tmp_path / "other.json", split, good, tmp_path)
    assert again == halves  # the same seed draws the same halves
    assert heldout_halves(record, split, list(reversed(good)), tmp_path) == halves  # read back from the record
    saved = json.loads(record.read_text())
    assert saved["seed"] == 0
    assert saved["types"]["hole"]["val"] == ["hole/" + p.name for p, _ in halves.types["hole"]["val"]]
    val, val_good = halves.part("val")
    test, test_good = halves.part("test")
    whole, whole_good = halves.part("all")
    assert set(val["crack"]) | set(test["crack"]) == set(whole["crack"])
    assert len(whole_good) == 9
    assert not set(val_good) & set(test_good)


def test_a_record_of_other_images_and_an_empty_half_are_refused(tmp_path: Path) -> None:
    split = _split(tmp_path, {"crack": 11, "tiny": 2})  # tiny: one held-out image, all in the test half
    record = tmp_path / "heldout_halves.json"
    halves = heldout_halves(record, split, [tmp_path / "g.png"], tmp_path)
    assert len(halves.part("test")[0]["tiny"]) == 1
    with pytest.raises(ConfigError, match="tiny has no held-out image in the val half"):
        halves.part("val")
    with pytest.raises(DatasetLayoutError, match="lists other held-out images"):
        heldout_halves(record, _split(tmp_path, {"crack": 12, "tiny": 2}), [tmp_path / "g.png"], tmp_path)
