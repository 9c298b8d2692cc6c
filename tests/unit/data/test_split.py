from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from seas.config import DataConfig
from seas.data.catalog import load_product
from seas.data.split import make_split, read_split, train_count, write_split
from seas.errors import DatasetLayoutError


@pytest.mark.parametrize(("n", "k"), [(1, 1), (2, 1), (3, 1), (5, 1), (6, 2), (27, 9), (28, 9), (100, 33)])
def test_train_count_is_floor_third_at_least_one(n: int, k: int) -> None:
    assert train_count(n, Fraction(1, 3)) == k


def test_float_third_is_exact() -> None:
    assert DataConfig(train_fraction=1 / 3).train_ratio == Fraction(1, 3)


@pytest.mark.parametrize("full", [False, True], ids=["sample", "full"])
def test_tire_split_on_real_data(request: pytest.FixtureRequest, full: bool) -> None:
    root = request.getfixturevalue("full_tire_root" if full else "tire_root")
    data = load_product(DataConfig(data=root, product="tire"))
    split = make_split(data, Fraction(1, 3))
    counts = {t: (len(s.train), len(s.heldout)) for t, s in split.types.items()}
    contamination, cut, normals = ((9, 19), (9, 18), 60) if full else ((3, 6), (3, 6), 12)
    assert counts == {"combined": (1, 4), "contamination": contamination, "cut": cut, "hole": cut}
    assert [p.name for p, _ in split.types["cut"].train] == [f"{i:03d}.png" for i in range(cut[0])]
    assert len(split.normals) == normals


def test_split_file_round_trip_and_override(mvtec_root: Path, tmp_path: Path) -> None:
    data = load_product(DataConfig(data=mvtec_root, product="widget"))
    split = make_split(data, Fraction(1, 2))
    path = tmp_path / "split.json"
    write_split(split, data.root, path)
    record = json.loads(path.read_text())
    assert record["types"]["crack"]["train"][0] == {
        "image": "widget/test/crack/000.png",
        "mask": "widget/ground_truth/crack/000_mask.png",
    }
    again = read_split(path, data)
    assert again.types == split.types
    assert again.train_fraction == Fraction(1, 2)


def test_split_file_with_foreign_image_is_refused(mvtec_root: Path, tmp_path: Path) -> None:
    data = load_product(DataConfig(data=mvtec_root, product="widget"))
    path = tmp_path / "split.json"
    write_split(make_split(data, Fraction(1, 3)), data.root, path)
    record = json.loads(path.read_text())
    record["types"]["crack"]["train"][0]["image"] = "widget/test/crack/999.png"
    path.write_text(json.dumps(record))
    with pytest.raises(DatasetLayoutError, match=r"999\.png, which is not a selected defect image"):
        read_split(path, data)
