from __future__ import annotations

from pathlib import Path

import pytest

from seas.config import DataConfig
from seas.data.catalog import load_product
from seas.data.folder import make_folder_samples
from seas.data.mvtec_3d import make_mvtec_3d_samples
from seas.data.mvtec_ad import make_mvtec_ad_samples
from seas.data.samples import Label, find_mask, list_images
from seas.data.visa import make_visa_samples
from seas.errors import DatasetLayoutError
from tests.helpers.dummy_data import make_folder, make_mvtec, make_mvtec3d, write_image, write_mask


def test_listing_ignores_hidden_and_foreign_files_and_sorts(tmp_path: Path) -> None:
    for name in ("b.png", "a.PNG", "c.JpEg", "d.tif"):
        write_image(tmp_path / name, seed=1)
    write_image(tmp_path / ".hidden.png", seed=1)
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "Thumbs.db").write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path, ("png", "jpeg", "tif"))] == ["a.PNG", "b.png", "c.JpEg", "d.tif"]


def test_mask_pairs_by_exact_stem_not_prefix(tmp_path: Path) -> None:
    write_mask(tmp_path / "gt" / "11_mask.png")
    with pytest.raises(DatasetLayoutError, match=r"1\.png: no mask found"):
        find_mask(tmp_path / "1.png", tmp_path / "gt", "_mask", ("png",))
    assert find_mask(tmp_path / "11.png", tmp_path / "gt", "_mask", ("png",)).name == "11_mask.png"


def test_every_layout_gives_the_same_table(tmp_path: Path) -> None:
    tables = {
        "mvtec": make_mvtec_ad_samples(make_mvtec(tmp_path / "m"), "widget"),
        "visa": make_visa_samples(make_mvtec(tmp_path / "v", mask_suffix=""), "widget"),
        "mvtec3d": make_mvtec_3d_samples(make_mvtec3d(tmp_path / "3"), "widget"),
        "folder": make_folder_samples("widget", mask_suffix="-label", **make_folder(tmp_path / "f")),
    }
    for name, samples in tables.items():
        anomalies = [s for s in samples if s.label == Label.ANOMALOUS]
        assert sorted({s.defect_type for s in anomalies}) == ["crack", "scratch"], name
        assert len(anomalies) == 10, name
        assert all(s.mask_path is not None and s.mask_path.is_file() for s in anomalies), name
        assert any(s.label == Label.NORMAL for s in samples), name


def test_folder_layout_uses_names_as_they_are(tmp_path: Path) -> None:
    folders = make_folder(tmp_path)
    samples = make_folder_samples("widget", mask_suffix="-label", **folders)
    pair = next(s for s in samples if s.image_path.name == "part3.png" and s.defect_type == "crack")
    assert pair.mask_path is not None
    assert pair.mask_path.name == "part3-label.png"


def test_defect_type_selection_and_unknown_type(mvtec_root: Path) -> None:
    data = load_product(DataConfig(data=mvtec_root, product="widget", defect_type=("scratch",)))
    assert data.defect_types == ("scratch",)
    with pytest.raises(DatasetLayoutError, match=r"unknown defect type\(s\) dent; known types: crack, scratch"):
        load_product(DataConfig(data=mvtec_root, product="widget", defect_type=("dent",)))


def test_num_normals_takes_first_sorted(mvtec_root: Path) -> None:
    data = load_product(DataConfig(data=mvtec_root, product="widget", num_normals=2))
    assert [p.name for p in data.normals] == ["000.png", "001.png"]


def test_bundled_sample_is_the_default() -> None:
    data = load_product(DataConfig())
    assert data.product == "tire"
    assert data.defect_types == ("combined", "contamination", "cut", "hole")
