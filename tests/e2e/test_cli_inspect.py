"""``seas inspect`` end to end: the tire split, and every refused input ends in one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.cli import main
from tests.helpers.dummy_data import make_mvtec, write_image, write_mask


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    code, _, err = _run(argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _inspect_json(root: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    code, out, _ = _run(["inspect", "--data", str(root), "--layout", "mvtec", "--product", "tire", "--json"], capsys)
    assert code == 0
    return json.loads(out)


def test_tire_json_split(tire_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _inspect_json(tire_root, capsys)
    got = {t: (v["train"], v["heldout"]) for t, v in report["types"].items()}
    assert got == {"combined": (1, 4), "contamination": (3, 6), "cut": (3, 6), "hole": (3, 6)}
    assert report["normals"]["train"] == 12
    assert report["product"] == "tire"


def test_full_tire_json_split(full_tire_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = _inspect_json(full_tire_root, capsys)
    got = {t: (v["train"], v["heldout"]) for t, v in report["types"].items()}
    assert got == {"combined": (1, 4), "contamination": (9, 19), "cut": (9, 18), "hole": (9, 18)}
    assert report["normals"]["train"] == 80


def test_default_is_the_bundled_sample(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["inspect"], capsys)
    assert code == 0
    assert "product tire" in out
    assert "contamination" in out


def test_missing_mask(mvtec_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mvtec_root / "widget" / "ground_truth" / "crack" / "002_mask.png").unlink()
    _refused(
        ["inspect", "--data", str(mvtec_root), "--product", "widget"],
        capsys,
        "test/crack/002.png",
        "no mask found",
        "002_mask",
    )


def test_mask_of_other_size(mvtec_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_mask(mvtec_root / "widget" / "ground_truth" / "scratch" / "001_mask.png", size=(30, 30))
    _refused(
        ["inspect", "--data", str(mvtec_root), "--product", "widget"],
        capsys,
        "001_mask.png",
        "mask is 30x30",
        "scratch/001.png is 48x40",
    )


def test_truncated_image(mvtec_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = mvtec_root / "widget" / "test" / "crack" / "003.png"
    path.write_bytes(path.read_bytes()[:60])
    _refused(["inspect", "--data", str(mvtec_root), "--product", "widget"], capsys, "crack/003.png", "truncated")


def test_empty_type_folder(mvtec_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (mvtec_root / "widget" / "test" / "dent").mkdir()
    (mvtec_root / "widget" / "test" / "dent" / "notes.txt").write_text("todo")
    _refused(["inspect", "--data", str(mvtec_root), "--product", "widget"], capsys, "test/dent", "no 'dent' defect")


def test_no_defect_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_image(tmp_path / "p" / "train" / "good" / "0.png", seed=0)
    (tmp_path / "p" / "test" / "good").mkdir(parents=True)
    _refused(["inspect", "--data", str(tmp_path), "--product", "p"], capsys, "no defect types found")


def test_no_normal_images(mvtec_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for p in (mvtec_root / "widget" / "train" / "good").iterdir():
        p.unlink()
    _refused(["inspect", "--data", str(mvtec_root), "--product", "widget"], capsys, "train/good", "no normal")


def test_unknown_defect_type(mvtec_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(
        ["inspect", "--data", str(mvtec_root), "--product", "widget", "--defect-type", "dent"],
        capsys,
        "unknown defect type(s) dent",
        "known types: crack, scratch",
    )


def test_missing_root_and_product(tmp_path: Path, mvtec_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["inspect", "--data", str(tmp_path / "nope"), "--product", "x"], capsys, "nope", "data root not found")
    _refused(
        ["inspect", "--data", str(mvtec_root), "--product", "gadget"],
        capsys,
        "gadget",
        "product folder not found",
        "products under",
        "widget",
    )
    assert not (tmp_path / "nope").exists()  # never created


def test_warnings_for_empty_mask_tiny_defect_single_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_mvtec(tmp_path, types={"crack": 3, "dot": 1})
    write_mask(root / "widget" / "ground_truth" / "crack" / "000_mask.png", box=(0, 0, 0, 0))
    write_mask(root / "widget" / "ground_truth" / "crack" / "001_mask.png", box=(0, 0, 2, 2))
    code, out, _ = _run(["inspect", "--data", str(root), "--product", "widget", "--json"], capsys)
    assert code == 0
    warnings = json.loads(out)["warnings"]
    assert any("000_mask.png: empty mask" in w for w in warnings)
    assert any("001_mask.png: defect of only 4 pixels" in w for w in warnings)
    assert any("dot: only one image" in w for w in warnings)


def test_user_formats_are_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_mvtec(tmp_path, types={"crack": 3})
    img = root / "widget" / "test" / "crack" / "001.png"
    Image.open(img).convert("L").save(img)  # greyscale image
    Image.fromarray(np.zeros((40, 48), dtype=np.uint16) + 300).save(root / "widget" / "train" / "good" / "000.png")
    big = root / "widget" / "test" / "crack" / "002.png"
    Image.open(write_image(big, seed=5, size=(960, 700))).convert("RGBA").save(big)  # large, RGBA, other size
    write_mask(root / "widget" / "ground_truth" / "crack" / "002_mask.png", size=(960, 700))
    write_mask(root / "widget" / "ground_truth" / "crack" / "001_mask.png", value=1)  # 0/1 mask
    code, out, _ = _run(["inspect", "--data", str(root), "--product", "widget", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["types"]["crack"]["mask_coverage"]["min"] > 0


def test_debug_shows_the_traceback(mvtec_root: Path) -> None:
    from seas.errors import DatasetLayoutError

    with pytest.raises(DatasetLayoutError):
        main(["inspect", "--data", str(mvtec_root), "--product", "gadget", "--debug"])


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("seas ")


def test_without_the_demo_folder_the_default_data_and_prior_are_one_line(
    mvtec_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SEAS_DEMO_DIR", str(tmp_path / "no-demo"))  # as in a plain pip install
    needles = ("is not there: the demo data and prior are not part of the pip package", "set SEAS_DEMO_DIR")
    assert "the bundled tire sample" in _refused(["inspect"], capsys, *needles)
    argv = ["train", "--data", str(mvtec_root), "--product", "widget", "--base-model", "tiny-tire"]
    line = _refused([*argv, "--max-steps", "1", "--run-dir", str(tmp_path / "run")], capsys, *needles)
    assert "the tiny-tire prior" in line
    assert not (tmp_path / "run" / "unet").exists()
