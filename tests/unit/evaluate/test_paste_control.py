"""The no-model paste control: the training defect under the pair's mask, the reference elsewhere."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.data.split import DataSplit, TypeSplit
from seas.errors import ConfigError
from seas.evaluate.paste_control import has_placed_masks, pasted_pairs

R = 32


def _tree(tmp_path: Path, placed: bool) -> tuple[Path, DataSplit, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    reference, defect = (rng.integers(0, 255, (R, R, 3), dtype=np.uint8) for _ in range(2))
    mask = np.zeros((R, R), bool)
    mask[10:18, 6:20] = True
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(reference).save(data / "good.png")
    Image.fromarray(defect).save(data / "crack.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(data / "crack_mask.png")
    folder = tmp_path / "pairs" / "tire" / "crack"
    (folder / "mask").mkdir(parents=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "mask" / "0000.png")
    record = {"index": 0, "image": "image/0000.png", "mask": "mask/0000.png", "reference": str(data / "good.png")}
    record["settings"] = {"mask_margin": 0}
    if placed:
        record["mask_from"] = {"mask": str(data / "crack_mask.png"), "turns": 0, "flip": False}
    (folder / "manifest.jsonl").write_text(json.dumps(record) + "\n")
    pairs = ((data / "crack.png", data / "crack_mask.png"),)
    types = {"crack": TypeSplit(train=pairs, heldout=())}
    split = DataSplit(product="tire", train_fraction=Fraction(1, 3), types=types, normals=(data / "good.png",))
    return tmp_path / "pairs" / "tire", split, reference, defect, mask


def test_the_training_defect_is_pasted_under_the_mask_and_nothing_else_changes(tmp_path: Path) -> None:
    tree, split, reference, defect, mask = _tree(tmp_path, placed=True)
    assert has_placed_masks(tree, ["crack"])
    ((image, small),) = list(pasted_pairs(tree, ["crack"], split, R))
    assert np.array_equal(small, mask)
    diff_in = np.abs(image.astype(int) - defect.astype(int))[mask]
    diff_out = np.abs(image.astype(int) - reference.astype(int))[~mask]
    assert diff_in.max() <= 1  # the defect's pixels (up to rounding through [-1, 1])
    assert diff_out.max() <= 1  # the reference photo's pixels


def test_a_pair_with_a_drawn_mask_is_refused_in_one_line(tmp_path: Path) -> None:
    tree, split, *_ = _tree(tmp_path, placed=False)
    assert not has_placed_masks(tree, ["crack"])
    with pytest.raises(ConfigError, match=r"--variants paste: .*pair 0 has a mask the RMP head drew"):
        list(pasted_pairs(tree, ["crack"], split, R))
