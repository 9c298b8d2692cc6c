"""``seas run``'s resolution as plain functions: products from a flag or a config file, folders, flag scope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seas.cli import main
from seas.errors import ConfigError
from seas.pipeline import products
from tests.conftest import SAMPLE_ROOT


def test_products_from_any_form(tmp_path: Path) -> None:
    assert products(None, None) == [None]
    assert products("tire", None) == ["tire"]
    assert products(["tire", "cable"], None) == ["tire", "cable"]
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert products("all", tmp_path) == ["a", "b"]
    assert products(["all"], str(tmp_path)) == ["a", "b"]
    with pytest.raises(ConfigError, match="--product all: needs --data"):
        products("all", None)


@pytest.mark.parametrize("form", ["product: [tire]", "product: tire", "product: all"])
def test_product_and_data_from_the_config_file(form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(f"data: {SAMPLE_ROOT}\nlayout: mvtec\n{form}\nrun_dir: {tmp_path / 'runs'}\n")
    assert main(["run", "--config", str(path), "--print-config"]) == 0  # was: ".../['tire']: product folder not found"
    printed = json.loads(capsys.readouterr().out)
    assert printed["DataConfig"]["product"] == "tire"
    assert (
        printed["TrainConfig"]["run_dir"] == printed["MaskTrainConfig"]["run_dir"] == str(tmp_path / "runs" / "tire")
    )
    assert (
        printed["GenerateConfig"]["run_dir"]
        == printed["DownstreamConfig"]["run_dir"]
        == str(tmp_path / "runs" / "tire")
    )
    assert printed["GenerateConfig"]["output_dir"] == str(tmp_path / "runs" / "tire" / "generated")


def test_run_keeps_a_resume_checkpoint_to_stage_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):  # the old spelling is gone, not ignored nor taken as --model-seed
        main(["run", "--model", str(tmp_path), "--print-config"])
    assert "unrecognized arguments: --model" in capsys.readouterr().err
    checkpoint = str(tmp_path / "run" / "checkpoint-2")
    assert main(["run", "--run-dir", str(tmp_path / "run"), "--resume", checkpoint, "--print-config"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["TrainConfig"]["resume"] == checkpoint
    assert printed["MaskTrainConfig"]["resume"] == "latest"  # was: stage 2 loaded stage 1's checkpoint and died
