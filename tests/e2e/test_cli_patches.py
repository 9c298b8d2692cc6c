"""``seas patches`` end to end on the real tire data: a patch dataset that ``seas inspect`` reads, defects kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.cli import main


def test_tire_patches_keep_every_defect_whole_and_the_split(
    tire_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "patches"
    argv = ["--data", str(tire_root), "--layout", "mvtec", "--product", "tire", "--defect-type", "cut"]
    assert main(["patches", *argv, "--per-normal", "1", "--size", "64", "--output-dir", str(out)]) == 0
    assert f"--data {out} --product tire --resolution 64" in capsys.readouterr().out
    assert main(["inspect", "--data", str(out), "--layout", "mvtec", "--product", "tire", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {t: (v["train"], v["heldout"]) for t, v in report["types"].items()} == {"cut": (3, 6)}  # as the source
    for mask_path in sorted((tire_root / "tire" / "ground_truth" / "cut").glob("*.png")):
        whole = (np.asarray(Image.open(mask_path)) > 0).sum()
        patch = np.asarray(Image.open(out / "tire" / "ground_truth" / "cut" / mask_path.name)) > 0
        assert patch.shape == (64, 64)
        assert patch.sum() == whole
    normals = sorted((out / "tire" / "train" / "good").glob("*.png"))
    assert len(normals) == 12  # one per normal photo of the sample
    means = [np.asarray(Image.open(p).convert("L")).mean() for p in normals]
    assert min(means) > 25  # on the tire (31-48), not the dark backdrop (about 19 grey levels)


def test_a_patch_larger_than_the_photos_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["patches", "--size", "512", "--output-dir", str(tmp_path / "p")]) == 2  # the bundled 192 x 256 sample
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("error: ")
    assert "test/combined/000.png: is 192 x 256 px, smaller than the patch size 512; pass a smaller --size" in err
    assert not (tmp_path / "p" / "tire").exists()


def test_paste_writes_full_size_pairs_and_names_a_wrong_patch_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.unit.data.test_paste import _setup

    patches, generated, _ = _setup(tmp_path)
    out = tmp_path / "pasted"
    assert main(["paste", "--generated", str(generated), "--patches", str(patches), "--output-dir", str(out)]) == 0
    assert f"full-size pairs in {out / 'widget'} (crack: 2)" in capsys.readouterr().out
    assert Image.open(out / "widget" / "crack" / "image" / "0001.png").size == (48, 40)  # the photo's size
    assert main(["paste", "--generated", str(generated), "--patches", str(tmp_path), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    fix = "pass --patches, the seas patches folder the run used"
    assert err == f"error: {tmp_path / 'patches.json'}: is missing; {fix}"
