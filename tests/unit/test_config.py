from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from seas.config import DataConfig, ModelConfig, TrainConfig
from seas.config.flags import add_config_flags, resolve_configs
from seas.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


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
    with pytest.raises(ConfigError, match=r"unknown option\(s\) num_normal; see seas <command> --help"):
        _resolve(["--config", str(cfg)])


def test_bad_values_fail_before_anything_loads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="resolution: must be a positive multiple of 64"):
        _resolve(["--resolution", "100"])
    with pytest.raises(ConfigError, match="train-fraction"):
        _resolve(["--train-fraction", "0"])
    with pytest.raises(ConfigError, match="--layout folder: needs --defect-root, --mask-root, --normal-dir"):
        _resolve(["--layout", "folder"])
    with pytest.raises(ConfigError, match="da_normalize must be one of batch, sample, got 'share'"):
        resolve_configs([TrainConfig], argparse.Namespace(config=_write(tmp_path / "s.yaml", "da_normalize: share\n")))
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


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    out = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out += _subparsers(sub)
    return out


def test_every_command_help_renders_with_percent_signs_in_help_texts() -> None:
    from seas.cli import build_parser

    parsers = _subparsers(build_parser())
    assert len(parsers) > 10
    for parser in parsers:  # argparse %-formats help: a bare "%" in a field's text crashed `seas train --help`
        assert parser.format_help()
    import dataclasses

    @dataclasses.dataclass(frozen=True)
    class Percent:
        share: float = dataclasses.field(default=0.3, metadata={"help": "a 0.3 % defect"})

    from seas.config.flags import GROUP_TITLES

    GROUP_TITLES["Percent"] = "Percent"
    try:
        parser = argparse.ArgumentParser()
        add_config_flags(parser, [Percent])
        assert "a 0.3 % defect (default: 0.3)" in " ".join(parser.format_help().split())
    finally:
        del GROUP_TITLES["Percent"]


def _numeric_fields() -> list[tuple[type, str]]:
    import dataclasses

    import seas.config as c

    out = []
    for name in c.__all__:
        cls = getattr(c, name)
        if dataclasses.is_dataclass(cls):
            out += [(cls, f.name) for f in dataclasses.fields(cls) if str(f.type).split(" ")[0] in ("int", "float")]
    return out


NUMERIC = _numeric_fields()


def test_the_walk_covers_every_numeric_option() -> None:
    names = {n for _, n in NUMERIC}
    assert len(NUMERIC) > 60
    assert {"learning_rate", "guidance", "mask_threshold", "checkpoints_total_limit", "seed"} <= names


@pytest.mark.parametrize(("cls", "name"), NUMERIC, ids=[f"{c.__name__}.{n}" for c, n in NUMERIC])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), -1, -0.5, 10**20])
def test_every_numeric_field_refuses_bad_values_in_one_line(cls: type, name: str, bad: float) -> None:
    import dataclasses

    with pytest.raises(ConfigError) as exc:
        cls(**{name: bad})
    text = str(exc.value)
    assert "\n" not in text
    assert "--" + name.replace("_", "-") in text
    assert "Traceback" not in text
    kinds = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    if kinds[name].startswith("int") and isinstance(bad, float) and bad == bad and abs(bad) != float("inf"):
        assert "integer" in text or ">= 0" in text


@pytest.mark.parametrize(("cls", "name"), NUMERIC, ids=[f"{c.__name__}.{n}" for c, n in NUMERIC])
def test_every_numeric_default_and_zero_are_handled(cls: type, name: str) -> None:
    cls()  # the defaults are valid
    message = ""
    try:  # zero is either valid or refused in one line, never a crash of another kind
        cls(**{name: 0})
    except ConfigError as exc:
        message = str(exc)
    assert "\n" not in message


@pytest.mark.parametrize(
    ("cls_name", "field_name", "value"),
    [
        ("TrainConfig", "learning_rate", 0.0),
        ("GenerateConfig", "mask_threshold", 1.0),
        ("GenerateConfig", "mask_threshold", 2.0),
        ("TrainConfig", "checkpoints_total_limit", 0),
        ("GenerateConfig", "seed", 2**32),
        ("TrainConfig", "adam_beta2", 1.0),
        ("GenerateConfig", "steps", 2.5),
    ],
)
def test_named_refusals(cls_name: str, field_name: str, value: float) -> None:
    import seas.config as c

    with pytest.raises(ConfigError):
        getattr(c, cls_name)(**{field_name: value})


def test_largest_seed_is_accepted() -> None:
    import seas.config as c

    assert c.GenerateConfig(seed=c.SEED_MAX).seed == 2**32 - 1


def test_stage_sections_scope_values_and_flags_still_win(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from seas.cli import main

    path = tmp_path / "run.yaml"
    path.write_text(
        "max_steps: 5\nmixed_precision: 'no'\ntrain_mask:\n  max_steps: 7\n  mixed-precision: bf16\n"
        "generate:\n  steps: 9\nevaluate:\n  seg_epochs: 2\n"
    )
    assert main(["run", "--config", str(path), "--print-config"]) == 2  # one precision per process
    assert "seas run trains both stages in one process" in capsys.readouterr().err
    path.write_text(path.read_text().replace("mixed-precision: bf16", "rmp_learning_rate: 0.001"))
    assert main(["run", "--config", str(path), "--print-config"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["TrainConfig"]["max_steps"] == 5
    assert resolved["TrainConfig"]["mixed_precision"] == "no"
    assert resolved["MaskTrainConfig"]["max_steps"] == 7
    assert resolved["MaskTrainConfig"]["rmp_learning_rate"] == 0.001
    assert resolved["GenerateConfig"]["steps"] == 9
    assert resolved["DownstreamConfig"]["seg_epochs"] == 2
    assert main(["run", "--config", str(path), "--max-steps", "3", "--print-config"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["TrainConfig"]["max_steps"] == resolved["MaskTrainConfig"]["max_steps"] == 3
    # a section of a stage the command does not run is ignored: one file serves every command
    capsys.readouterr()
    path.write_text("train_mask:\n  max_steps: 7\ngenerate:\n  steps: 9\n")
    assert main(["train-mask", "--config", str(path), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["MaskTrainConfig"]["max_steps"] == 7
    path.write_text("train_mask:\n  guidance: 2\n")
    assert main(["run", "--config", str(path), "--print-config"]) == 2
    assert "unknown option(s) in section 'train_mask': guidance" in capsys.readouterr().err
    path.write_text("train_mask: 7\n")
    assert main(["run", "--config", str(path), "--print-config"]) == 2
    assert "section 'train_mask' must be a mapping" in capsys.readouterr().err
