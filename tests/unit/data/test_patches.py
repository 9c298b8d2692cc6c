"""Native-resolution patches: where they are cut, the dataset they make, reruns and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.config import DataConfig, PatchConfig
from seas.data.catalog import ProductData, load_product
from seas.data.patches import BLUR, content_table, cut_patches, defect_corner, normal_corner
from seas.data.split import make_split
from seas.errors import ConfigError, InputFileError
from tests.helpers.dummy_data import make_mvtec, write_mask


def _product_photo() -> np.ndarray:
    """Dark 160 x 120 background with a bright textured block at x 60-140, y 20-100: where patches belong."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 12, (120, 160, 3)).astype(np.uint8)
    rgb[20:100, 60:140] = rng.integers(120, 200, (80, 80, 3))
    return rgb


def test_normal_patches_land_on_the_product() -> None:
    table = content_table(_product_photo(), content_grey=12)
    cfg = PatchConfig(size=32, min_content=0.9)
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = normal_corner(table, 32, cfg, rng)
        reach = BLUR + 4  # the blur widens the block by BLUR px; 10 % of the patch (3 rows) may lie off it
        assert 60 - reach <= x
        assert x + 32 <= 140 + reach
        assert 20 - reach <= y
        assert y + 32 <= 100 + reach


def test_normal_patch_falls_back_to_the_best_place_when_none_is_enough() -> None:
    table = content_table(_product_photo(), content_grey=12)
    x, y = normal_corner(table, 96, PatchConfig(size=96, min_content=1.0), np.random.default_rng(1))
    assert x >= 40
    assert 4 <= y <= 20


@pytest.mark.parametrize("box", [(5, 5, 15, 12), (70, 50, 95, 79), (30, 20, 60, 40)])
def test_defect_patch_holds_the_whole_defect(box: tuple[int, int, int, int]) -> None:
    mask = np.zeros((80, 96), dtype=bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    rng = np.random.default_rng(3)
    for _ in range(20):
        x, y = defect_corner(mask, 48, 16, rng)
        assert 0 <= x <= 96 - 48
        assert 0 <= y <= 80 - 48
        assert mask[y : y + 48, x : x + 48].sum() == mask.sum()


def test_defect_wider_than_the_patch_is_cut_to_it_around_its_centre() -> None:
    mask = np.zeros((80, 96), dtype=bool)
    mask[30:40, 4:92] = True
    for seed in range(5):
        x, y = defect_corner(mask, 32, 16, np.random.default_rng(seed))
        assert x == 48 - 16  # no room to jitter across: centred exactly
        assert y <= 30
        assert y + 32 >= 40


def _dataset(root: Path) -> Path:
    make_mvtec(root, types={"crack": 3}, normals=3)
    for i in range(3):  # boxes near different corners: each patch must follow its own defect
        mask = root / "widget" / "ground_truth" / "crack" / f"{i:03d}_mask.png"
        write_mask(mask, box=(2 + 12 * i, 2, 10 + 12 * i, 9))
    return root


def _split_names(data: ProductData) -> dict[str, tuple[list[str], list[str]]]:
    split = make_split(data, DataConfig().train_ratio)
    return {t: ([i.name for i, _ in s.train], [i.name for i, _ in s.heldout]) for t, s in split.types.items()}


def test_cut_patches_writes_an_mvtec_dataset_the_tool_reads(tmp_path: Path) -> None:
    data = load_product(DataConfig(data=_dataset(tmp_path / "src"), product="widget"))
    out = cut_patches(data, PatchConfig(output_dir=tmp_path / "patches", size=24, per_normal=2))
    assert out == tmp_path / "patches" / "widget"
    names = sorted(p.name for p in (out / "train" / "good").iterdir())
    assert names == ["0_000.png", "0_001.png", "0_002.png", "1_000.png", "1_001.png", "1_002.png"]
    patched = load_product(DataConfig(data=tmp_path / "patches", product="widget", num_normals=3))
    assert [p.name for p in patched.normals] == ["0_000.png", "0_001.png", "0_002.png"]  # one per photo
    assert _split_names(patched) == _split_names(data)  # same names, so the same train / held-out split
    record = json.loads((out / "patches.json").read_text())
    for i in range(3):  # every defect patch is the source's crop at the recorded corner, mask included
        x, y = record["patches"][f"test/crack/{i:03d}.png"]["xy"]
        source = np.asarray(Image.open(tmp_path / "src" / "widget" / "test" / "crack" / f"{i:03d}.png"))
        patch = np.asarray(Image.open(out / "test" / "crack" / f"{i:03d}.png"))
        np.testing.assert_array_equal(patch, source[y : y + 24, x : x + 24])
        mask = np.asarray(Image.open(out / "ground_truth" / "crack" / f"{i:03d}_mask.png")) > 0
        assert patch.shape[:2] == mask.shape == (24, 24)
        assert mask.sum() == 8 * 7


def test_rerun_keeps_the_cut_and_other_settings_replace_it(tmp_path: Path) -> None:
    data = load_product(DataConfig(data=_dataset(tmp_path / "src"), product="widget"))
    cfg = PatchConfig(output_dir=tmp_path / "patches", size=24, per_normal=1)
    out = cut_patches(data, cfg)
    first = {p.name: p.read_bytes() for p in sorted((out / "train" / "good").iterdir())}
    stamp = (out / "patches.json").stat().st_mtime_ns
    cut_patches(data, cfg)
    assert (out / "patches.json").stat().st_mtime_ns == stamp  # skipped, not rewritten
    cut_patches(data, PatchConfig(output_dir=tmp_path / "patches", size=24, per_normal=2))
    assert len(list((out / "train" / "good").iterdir())) == 6
    again = cut_patches(data, PatchConfig(output_dir=tmp_path / "other", size=24, per_normal=1))
    assert {p.name: p.read_bytes() for p in sorted((again / "train" / "good").iterdir())} == first  # seeded


def test_photo_smaller_than_the_patch_is_named(tmp_path: Path) -> None:
    data = load_product(DataConfig(data=_dataset(tmp_path / "src"), product="widget"))
    with pytest.raises(InputFileError, match=r"widget/test/crack/000.png: is 48 x 40 px, smaller than the patch"):
        cut_patches(data, PatchConfig(output_dir=tmp_path / "patches", size=64))
    assert not (tmp_path / "patches" / "widget").exists()  # nothing half-written


def test_patch_size_must_be_a_multiple_of_8() -> None:
    with pytest.raises(ConfigError, match="--size: must be a multiple of 8"):
        PatchConfig(size=30)


def test_a_mask_of_another_size_than_its_image_is_named(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "src")
    write_mask(root / "widget" / "ground_truth" / "crack" / "001_mask.png", size=(40, 40))
    data = load_product(DataConfig(data=root, product="widget"))
    with pytest.raises(InputFileError, match=r"crack/001_mask.png: is 40 x 40 px, its image 48 x 40"):
        cut_patches(data, PatchConfig(output_dir=tmp_path / "patches", size=24))
