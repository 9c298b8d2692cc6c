from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from seas.config import DataConfig, ModelConfig
from seas.config_flags import add_config_flags, resolve_configs
from seas.errors import ConfigError


def _resolve(argv: list[str]) -> list[object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path)
    add_config_flags(parser, [DataConfig, ModelConfig])
    return resolve_configs([DataConfig, ModelConfig], parser.parse_args(argv))


def test_command_line_beats_file_beats_default(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("num-normals: 7\nresolution: 128\nproduct: bottle\ndata: /d\n")
    data, model = _resolve(["--config", str(cfg), "--resolution", "256"])
    assert (data.num_normals, model.resolution, data.product) == (7, 256, "bottle")
    data, model = _resolve([])
    assert (data.num_normals, model.resolution) == (60, 512)


def test_toml_file_and_lists(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('defect_type = ["cut", "hole"]\ntrain_fraction = 0.5\n')
    data, _ = _resolve(["--config", str(cfg)])
    assert data.defect_type == ("cut", "hole")
    assert data.train_fraction == 0.5


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("num_normal: 7\n")
    with pytest.raises(ConfigError, match=r"unknown option.*num_normal; valid options"):
        _resolve(["--config", str(cfg)])


def test_bad_values_fail_before_anything_loads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="resolution: must be a positive multiple of 64"):
        _resolve(["--resolution", "100"])
    with pytest.raises(ConfigError, match="train-fraction"):
        _resolve(["--train-fraction", "0"])
    with pytest.raises(ConfigError, match="--layout folder: needs --defect-root, --mask-root, --normal-dir"):
        _resolve(["--layout", "folder"])
    with pytest.raises(ConfigError, match="--product: is required"):
        _resolve(["--data", str(tmp_path)])
    cfg = tmp_path / "c.yaml"
    cfg.write_text("num_normals: many\n")
    with pytest.raises(ConfigError, match="num_normals must be int"):
        _resolve(["--config", str(cfg)])


def test_every_field_has_help_text() -> None:
    import dataclasses

    for cls in (DataConfig, ModelConfig):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name}"
