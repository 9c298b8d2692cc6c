"""The tool deletes only what it wrote, and refuses folders that overlap, on temporary copies of the tire sample."""

from __future__ import annotations

import hashlib
import shlex
import shutil
from pathlib import Path

import pytest

from seas.cli import main
from seas.data.catalog import bundled_sample_root

FAST = ["--base-model", "tiny", "--resolution", "64", "--seed", "0", "--defect-type", "hole"]
GEN = shlex.split("--num-per-type 2 --steps 3 --mask-steps 1 --mask-source train --start strength --strength 0.5")


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the bundled sample and a finished tiny run on it, named ``tire`` inside a parent folder."""
    base = tmp_path_factory.mktemp("own")
    data = base / "data"
    shutil.copytree(bundled_sample_root(), data)
    run = base / "runs" / "tire"
    assert (
        main(["train", "--data", str(data), "--product", "tire", "--max-steps", "2", "--run-dir", str(run), *FAST])
        == 0
    )
    assert main(["train-mask", "--run-dir", str(run), "--max-steps", "1", "--bn-calibration-batches", "1"]) == 0
    return data, run


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


def test_out_at_the_data_root_with_overwrite_deletes_nothing(
    setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, run = setup
    before = _digest(data)
    capsys.readouterr()
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(data), "--overwrite", *GEN]) == 2
    line = _one_line_error(capsys)
    assert f"--output-dir {data}: is the data set {data}" in line
    assert _digest(data) == before  # train/, test/ and ground_truth/ all still there
    # spelled through ``..`` and a symlink: the same folder, the same refusal
    link = data.parent / "data-link"
    link.symlink_to(data)
    assert (
        main(["generate", "--run-dir", str(run), "--output-dir", str(link / ".." / "data-link"), "--overwrite", *GEN])
        == 2
    )
    assert "is the data set" in _one_line_error(capsys)
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(data / "tire" / "gen"), *GEN]) == 2
    assert "is inside the data set" in _one_line_error(capsys)
    assert _digest(data) == before


def test_overwrite_refuses_a_pair_folder_holding_a_users_file(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = setup
    out = tmp_path / "out"
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(out), *GEN]) == 0
    note = out / "tire" / "hole" / "my-notes.txt"
    note.write_text("the engineer's notes")
    before = _digest(out)
    capsys.readouterr()
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(out), "--overwrite", "--seed", "5", *GEN]) == 2
    line = _one_line_error(capsys)
    assert f"{out / 'tire'}: holds files seas did not write (hole/my-notes.txt)" in line
    assert _digest(out) == before
    note.unlink()
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(out), "--overwrite", "--seed", "5", *GEN]) == 0
    # a folder of the user's own, named like the product, is never taken for a pair tree
    mine = tmp_path / "mine"
    (mine / "tire").mkdir(parents=True)
    (mine / "tire" / "photo.png").write_bytes(b"mine")
    capsys.readouterr()
    for extra in ([], ["--overwrite"]):
        assert main(["generate", "--run-dir", str(run), "--output-dir", str(mine), *extra, *GEN]) == 2
        assert "seas" in _one_line_error(capsys)
        assert (mine / "tire" / "photo.png").read_bytes() == b"mine"


def test_an_export_equal_to_the_output_deletes_no_pair(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = setup
    out = tmp_path / "out"
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(out), *GEN]) == 0
    before = _digest(out)
    capsys.readouterr()
    assert (
        main(["generate", "--run-dir", str(run), "--output-dir", str(out), "--export-anomalib", str(out), *GEN]) == 2
    )
    assert f"--export-anomalib {out / 'tire'}: is the pairs' folder" in _one_line_error(capsys)
    assert _digest(out) == before
    assert all(p.is_file() for p in (out / "tire" / "hole" / "image").iterdir())


def test_an_export_at_the_parent_of_a_run_keeps_the_model(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = setup  # run = <runs>/tire: the export's <export>/tire is the run folder itself
    before = _digest(run)
    capsys.readouterr()
    argv = [
        "generate",
        "--run-dir",
        str(run),
        "--output-dir",
        str(tmp_path / "o"),
        "--export-anomalib",
        str(run.parent),
    ]
    assert main([*argv, *GEN]) == 2
    assert f"--export-anomalib {run}: is the run folder {run}" in _one_line_error(capsys)
    assert _digest(run) == before
    assert not (tmp_path / "o").exists()  # refused before any work


def test_an_export_holding_a_users_file_is_not_rebuilt(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, run = setup
    out, export = tmp_path / "out", tmp_path / "anomalib"
    argv = ["generate", "--run-dir", str(run), "--output-dir", str(out), "--export-anomalib", str(export), *GEN]
    assert main(argv) == 0
    assert main(argv) == 0  # a rebuild of its own export is fine
    planted = export / "tire" / "abnormal" / "extra.png"
    planted.write_bytes(b"a user's labelled image")
    capsys.readouterr()
    assert main(argv) == 2
    assert "holds files seas did not write (abnormal/extra.png)" in _one_line_error(capsys)
    assert planted.read_bytes() == b"a user's labelled image"
    # an export folder the tool never wrote is never replaced either
    shutil.rmtree(export)
    (export / "tire").mkdir(parents=True)
    (export / "tire" / "readme.txt").write_text("mine")
    assert main(argv) == 2
    assert "carries no seas mark" in _one_line_error(capsys)
    assert (export / "tire" / "readme.txt").read_text() == "mine"


def test_a_run_folder_inside_the_data_is_refused(setup: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = setup
    before = _digest(data)
    capsys.readouterr()
    target = data / "tire"
    assert (
        main(["train", "--data", str(data), "--product", "tire", "--max-steps", "1", "--run-dir", str(target), *FAST])
        == 2
    )
    assert f"--run-dir {target}: is inside the data set {data}" in _one_line_error(capsys)
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--product",
                "tire",
                "--max-steps",
                "1",
                "--run-dir",
                str(data.parent),
                *FAST,
            ]
        )
        == 2
    )
    assert f"--run-dir {data.parent}: contains the data set {data}" in _one_line_error(capsys)
    assert (
        main(["run", "--data", str(data), "--product", "tire", "--max-steps", "1", "--run-dir", str(data), *FAST]) == 2
    )
    assert f"--run-dir {data / 'tire'}: is inside the data set {data}" in _one_line_error(capsys)
    assert _digest(data) == before


def test_a_rewrite_of_damaged_weights_keeps_a_users_file_in_the_folder(
    setup: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, original = setup
    run = tmp_path / "tire"
    shutil.copytree(original, run)
    weights = run / "rmp" / "model.safetensors"
    weights.write_bytes(bytes(weights.stat().st_size))  # damaged: stage 2 writes rmp/ again from its checkpoint
    (run / "rmp" / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert main(["train-mask", "--run-dir", str(run), "--max-steps", "1", "--bn-calibration-batches", "1"]) == 2
    assert f"{run / 'rmp'}: holds files seas did not write (notes.txt)" in _one_line_error(capsys)
    assert (run / "rmp" / "notes.txt").read_text() == "mine"
    (run / "rmp" / "notes.txt").unlink()
    assert main(["train-mask", "--run-dir", str(run), "--max-steps", "1", "--bn-calibration-batches", "1"]) == 0
    assert weights.read_bytes() == (original / "rmp" / "model.safetensors").read_bytes()
