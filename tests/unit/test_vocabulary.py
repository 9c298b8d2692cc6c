"""One name per notion across the commands, help in words, one config file for a whole run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from seas.cli import build_parser, main
from seas.config.flags import PROJECT_TITLE


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every leaf command's parser by its name (``evaluate segmentation``, ...)."""
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs and prefix:
            found[" ".join(prefix)] = parser
        for action in subs:
            for name, child in action.choices.items():
                walk(child, [*prefix, name])

    walk(build_parser(), [])
    return found


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def test_the_run_folder_output_folder_and_precision_have_one_name_everywhere() -> None:
    commands = _commands()
    retired = {
        "--out",
        "--model",
        "--run",
        "--dtype",
        "--rmp-lr",
        "--seg-lr",
        "--da-softmax",
        "--mask-loss-weight",
        "--vae-adapt-steps",
        "--fresh-unet",
        "--rescale-latents",
    }
    for name, parser in commands.items():
        assert not _flags(parser) & retired, name
        assert not [a for a in parser._actions if not a.option_strings and a.dest != "help"], name  # no positionals
    readers = [
        "train",
        "train-mask",
        "generate",
        "run",
        "report",
        "evaluate segmentation",
        "evaluate quality",
        "evaluate generation",
    ]
    assert all("--run-dir" in _flags(commands[n]) for n in readers)
    writers = ["pretrain", "patches", "paste", "generate", "report"]
    assert all("--output-dir" in _flags(commands[n]) for n in writers)
    precision = [n for n, p in commands.items() if {"--mixed-precision"} & _flags(p)]
    assert {"pretrain", "train", "train-mask", "generate", "run", "benchmark train"} <= set(precision)


def test_help_groups_are_titled_in_words_and_project_options_stand_apart(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = capsys.readouterr().out
    assert "Config:" not in text
    assert "Generation:" in text
    project = text.index(PROJECT_TITLE)
    for option in ("--mask-source", "--placed-start", "--min-mask-fraction"):
        assert text.index(f"  {option}") > project  # listed under the project section
    assert text.index("  --guidance") < project
    with pytest.raises(SystemExit):
        main(["inspect", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the bundled tire sample. (default: none)" not in text
    assert "Default: the bundled tire sample." in text


def test_one_config_file_drives_every_command_of_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        "base_model: tiny\nrun_dir: runs/x\ncheckpointing_steps: 5\nguidance: 3.0\nseg_epochs: 2\n"
        "per_type: 3\npreset: mvtec3d\nevaluate:\n  seg_epochs: 4\n"
    )
    assert main(["evaluate", "segmentation", "--config", str(config), "--print-config"]) == 0
    resolved = json.loads(capsys.readouterr().out)["DownstreamConfig"]
    assert (resolved["seg_epochs"], resolved["run_dir"]) == (4, "runs/x")
    assert main(["report", "--config", str(config), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["ReportConfig"]["per_type"] == 3
    assert main(["generate", "--config", str(config), "--guidance", "6", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["GenerateConfig"]["guidance"] == 6.0  # the flag beats the file
    config.write_text("preset: mvtec3d\n")
    assert main(["generate", "--config", str(config), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["GenerateConfig"]["guidance"] == 5.0  # the file's preset reaches it
    config.write_text("guidanse: 3\n")  # a typo is still an error, in every command
    assert main(["report", "--config", str(config), "--print-config"]) == 2
    assert "unknown option(s) guidanse" in capsys.readouterr().err


def test_retired_and_meaningless_settings_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "old.yaml"
    config.write_text("mask_loss_weight: 10\n")
    assert main(["train", "--config", str(config), "--print-config"]) == 2
    assert "unknown option(s) mask_loss_weight" in capsys.readouterr().err
    config.write_text("preset: mvtec\n")  # MVTec AD's settings are the defaults: no preset to name
    assert main(["train", "--config", str(config), "--print-config"]) == 2
    assert "unknown preset 'mvtec'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--da-softmax", "token"])


CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", ["paper.yaml", "cpu-demo.yaml"])
def test_the_shipped_recipes_drive_the_run_and_each_sub_command(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(CONFIGS / name)
    assert main(["run", "--config", config, "--print-config"]) == 0
    whole = json.loads(capsys.readouterr().out)
    for command in (
        ["train"],
        ["train-mask"],
        ["generate"],
        ["evaluate", "segmentation"],
        ["evaluate", "quality"],
        ["report"],
    ):
        assert main([*command, "--config", config, "--print-config"]) == 0, command
        alone = json.loads(capsys.readouterr().out)
        for cls, values in alone.items():  # each sub-command resolves its options exactly as seas run does
            if cls in whole:  # (seas run fills in the default pair folder, RUN/generated, that the others imply)
                filled = {"output_dir", "generated"}
                mine = {k: v for k, v in values.items() if k not in filled}
                assert mine == {k: v for k, v in whole[cls].items() if k not in filled}, (command, cls)
    if name == "paper.yaml":  # the reference-restoring options of docs/deviations.md
        assert whole["TrainConfig"]["embeddings"] == "all"
        assert whole["TrainConfig"]["da_region"] == "one"
        assert whole["MaskTrainConfig"]["focal_target"] == "truncate"
        assert whole["MaskTrainConfig"]["bn_calibration_batches"] == 0
        assert whole["GenerateConfig"]["rmp_bn"] == "batch"
        assert whole["TrainConfig"]["mixed_precision"] == "no"
        assert whole["GenerateConfig"]["mixed_precision"] == "fp16"
