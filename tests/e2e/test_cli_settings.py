"""A run folder's settings are never mixed: checked before the first checkpoint and after the run finished."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest

from seas.cli import main
from tests.conftest import SAMPLE_ROOT

FAST = shlex.split("--base-model tiny --resolution 64 --seed 0 --max-steps 2 --defect-type hole --validation-steps 0")


def _train(out: Path | str, *extra: str) -> int:
    argv = ["train", "--data", str(SAMPLE_ROOT), "--layout", "mvtec", "--product", "tire", "--run-dir", str(out)]
    return main([*argv, *FAST, *extra])


def test_finished_run_with_other_flags_is_refused_and_a_respelled_folder_is_the_same_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert _train(run) == 0
    capsys.readouterr()
    assert _train(run, "--learning-rate", "2e-4") == 2  # was: a warning and rc 0
    err = capsys.readouterr().err
    assert f"error: {run}: holds a finished run made with other settings (--learning-rate 4e-06 -> 0.0002)" in err
    monkeypatch.chdir(tmp_path)
    assert _train("run") == 0  # relative spelling of the same folder: nothing to do, no refusal
    assert _train("./run/../run", "--max-steps", "2") == 0


def test_a_run_killed_before_its_first_checkpoint_keeps_its_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert _train(run) == 0
    for path in run.iterdir():  # what a kill before the first checkpoint leaves: the record and the split
        if path.name not in ("config.json", "split.json"):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    split = (run / "split.json").read_text()
    capsys.readouterr()
    assert _train(run, "--train-fraction", "0.5") == 2  # was: old split.json kept, config.json claiming 0.5
    err = capsys.readouterr().err
    assert "was started with other settings (--train-fraction" in err
    assert (run / "split.json").read_text() == split
    recorded = json.loads((run / "config.json").read_text())["config"]["DataConfig"]
    assert recorded["train_fraction"] == pytest.approx(1 / 3)
    assert _train(run) == 0  # same settings: the run starts again
