"""``seas paste``: generated patch pairs back in their full photos, exact masks, reruns and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.config import DataConfig, PasteConfig, PatchConfig
from seas.data.catalog import load_product
from seas.data.patches import cut_patches
from seas.errors import InputFileError
from seas.generate.paste import paste_pairs, paste_weight
from tests.unit.data.test_patches import _dataset

SIZE, FEATHER, RED = 24, 4, (250, 10, 10)


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Patches of the dummy widget and a generated folder: 2 'crack' pairs started from two normal patches."""
    data = load_product(DataConfig(data=_dataset(tmp_path / "src"), product="widget"))
    patches = cut_patches(data, PatchConfig(output_dir=tmp_path / "patches", size=SIZE, per_normal=1))
    generated = tmp_path / "generated" / "widget"
    folder = generated / "crack"
    (folder / "image").mkdir(parents=True)
    (folder / "mask").mkdir()
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[8:14, 10:16] = 255
    lines = []
    for i, ref in enumerate(["0_000.png", "0_002.png"]):
        Image.fromarray(np.full((SIZE, SIZE, 3), RED, np.uint8)).save(folder / "image" / f"{i:04d}.png")
        Image.fromarray(mask).save(folder / "mask" / f"{i:04d}.png")
        record = {
            "index": i,
            "image": f"image/{i:04d}.png",
            "mask": f"mask/{i:04d}.png",
            "mask_fraction": 36 / 576,
            "reference": str(patches / "train" / "good" / ref),
            "seed": i,
        }
        lines.append(json.dumps(record, sort_keys=True))
    (folder / "manifest.jsonl").write_text("".join(f"{x}\n" for x in lines))
    return patches, generated, tmp_path / "src" / "widget" / "train" / "good"


def _read(out: Path, index: int) -> tuple[np.ndarray, np.ndarray, dict[str, object]]:
    folder = out / "widget" / "crack"
    image = np.asarray(Image.open(folder / "image" / f"{index:04d}.png"))
    mask = np.asarray(Image.open(folder / "mask" / f"{index:04d}.png")) > 127
    records = [json.loads(x) for x in (folder / "manifest.jsonl").read_text().splitlines()]
    return image, mask, records[index]


def test_weight_is_one_on_the_mask_and_fades_to_the_patch_border() -> None:
    mask = np.zeros((SIZE, SIZE), bool)
    mask[0:3, 10:13] = True  # touches the border: the mask must still be pasted whole
    weight = paste_weight(SIZE, mask, "patch", FEATHER)
    assert (weight[mask] == 1).all()
    assert weight[SIZE // 2, 0] == pytest.approx(1 / FEATHER)
    assert (weight[FEATHER:-FEATHER, FEATHER:-FEATHER] == 1).all()
    only = paste_weight(SIZE, mask, "mask", FEATHER)
    assert (only[mask] == 1).all()
    assert only[SIZE - 1 - FEATHER, 2] == 0  # far from the mask: the photo stays
    assert only[5, 11] > 0  # 3 px off the mask: inside the grown margin
    assert (paste_weight(SIZE, None, "patch", 0) == 1).all()


def test_pairs_are_pasted_where_their_start_patch_was_cut(tmp_path: Path) -> None:
    patches, generated, photos = _setup(tmp_path)
    out = tmp_path / "pasted"
    counts = paste_pairs(PasteConfig(generated=generated, patches=patches, output_dir=out, feather=FEATHER))
    assert counts == {"crack": 2}
    table = json.loads((patches / "patches.json").read_text())["patches"]
    for index, stem in enumerate(["000", "002"]):
        image, mask, record = _read(out, index)
        photo = np.asarray(Image.open(photos / f"{stem}.png").convert("RGB"))
        x, y = table[f"train/good/0_{stem}.png"]["xy"]
        assert record["xy"] == [x, y]
        assert record["photo"] == f"widget/train/good/{stem}.png"
        assert image.shape == photo.shape
        assert mask.shape == photo.shape[:2]
        assert mask.sum() == 36
        assert mask[y + 8 : y + 14, x + 10 : x + 16].all()  # the generated mask, moved to the patch's place
        assert record["mask_fraction"] == pytest.approx(36 / mask.size)
        assert record["patch_mask_fraction"] == pytest.approx(36 / 576)
        outside = np.ones(photo.shape[:2], bool)
        outside[y : y + SIZE, x : x + SIZE] = False
        np.testing.assert_array_equal(image[outside], photo[outside])  # the photo untouched off the patch
        inner = image[y + FEATHER : y + SIZE - FEATHER, x + FEATHER : x + SIZE - FEATHER]
        assert (inner == RED).all()  # the generated patch, whole, away from the fade
        edge = image[y + SIZE // 2, x].astype(int)
        expected = np.rint(photo[y + SIZE // 2, x] * (1 - 1 / FEATHER) + np.array(RED) / FEATHER)
        np.testing.assert_array_equal(edge, expected)  # faded into the photo at the border


def test_region_mask_keeps_the_real_photo_away_from_the_mask(tmp_path: Path) -> None:
    patches, generated, photos = _setup(tmp_path)
    out = tmp_path / "pasted"
    paste_pairs(PasteConfig(generated=generated, patches=patches, output_dir=out, region="mask", feather=2))
    image, mask, record = _read(out, 0)
    photo = np.asarray(Image.open(photos / "000.png").convert("RGB"))
    x, y = record["xy"]
    assert (image[mask] == RED).all()
    far = np.ones(photo.shape[:2], bool)
    far[y + 8 - 5 : y + 14 + 5, x + 10 - 5 : x + 16 + 5] = False  # mask + 2 feathers + blur reach
    np.testing.assert_array_equal(image[far], photo[far])


def test_rerun_skips_finished_pairs_and_redoes_changed_ones(tmp_path: Path) -> None:
    patches, generated, _ = _setup(tmp_path)
    out = tmp_path / "pasted"
    cfg = PasteConfig(generated=generated, patches=patches, output_dir=out, feather=FEATHER)
    paste_pairs(cfg)
    images = out / "widget" / "crack" / "image"
    stamps = [(images / f"{i:04d}.png").stat().st_mtime_ns for i in range(2)]
    paste_pairs(
        PasteConfig(generated=generated, patches=patches, photos=tmp_path / "src", output_dir=out, feather=FEATHER)
    )  # where the photos live changes nothing
    assert [(images / f"{i:04d}.png").stat().st_mtime_ns for i in range(2)] == stamps
    # Pair 1 regenerated (its record changed): only it is pasted again.
    manifest = generated / "crack" / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    lines[1] = lines[1].replace('"seed": 1', '"seed": 7')
    manifest.write_text("\n".join(lines) + "\n")
    paste_pairs(cfg)
    assert (images / "0000.png").stat().st_mtime_ns == stamps[0]
    assert (images / "0001.png").stat().st_mtime_ns != stamps[1]
    assert _read(out, 1)[2]["seed"] == 7
    paste_pairs(PasteConfig(generated=generated, patches=patches, output_dir=out, feather=0))  # other settings
    assert all((images / f"{i:04d}.png").stat().st_mtime_ns != stamps[i] for i in range(2))
    assert json.loads((out / "widget" / "config.json").read_text())["config"]["PasteConfig"]["feather"] == 0


def test_unknown_start_patch_and_missing_photo_are_named(tmp_path: Path) -> None:
    patches, generated, photos = _setup(tmp_path)
    other = cut_patches(
        load_product(DataConfig(data=tmp_path / "src", product="widget")),
        PatchConfig(output_dir=tmp_path / "other", size=SIZE, per_normal=1),
    )
    wrong = r"manifest.jsonl: its start image .*0_000.png is not a patch of .*--patches"
    with pytest.raises(InputFileError, match=wrong):
        paste_pairs(PasteConfig(generated=generated, patches=other, output_dir=tmp_path / "out"))
    (photos / "000.png").unlink()
    with pytest.raises(InputFileError, match=r"widget/train/good/000.png: is missing; pass --photos"):
        paste_pairs(PasteConfig(generated=generated, patches=patches, output_dir=tmp_path / "out"))
