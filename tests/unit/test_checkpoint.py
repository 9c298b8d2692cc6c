"""Which checkpoint ``--resume latest`` takes."""

from __future__ import annotations

import json
from pathlib import Path

from seas.checkpoint import list_checkpoints, resolve_resume


def _checkpoint(run: Path, step: int, complete: bool) -> Path:
    folder = run / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"x")
    if complete:
        (folder / "seas_state.json").write_text(json.dumps({"step": step}))
    return folder


def test_latest_passes_over_a_checkpoint_without_its_state_file(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 2, complete=True)
    _checkpoint(tmp_path, 10, complete=True)
    _checkpoint(tmp_path, 12, complete=False)
    (tmp_path / "checkpoint-13").write_text("not a folder")
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2, 10]
    assert resolve_resume(tmp_path, "latest") == tmp_path / "checkpoint-10"


def test_no_checkpoint_means_a_fresh_start(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 4, complete=False)
    assert resolve_resume(tmp_path, "latest") is None
    assert resolve_resume(tmp_path / "missing", "latest") is None


def test_latest_passes_over_a_damaged_checkpoint_and_an_explicit_one_is_refused(tmp_path: Path) -> None:
    import pytest

    from seas.checkpoint import save_checkpoint
    from seas.errors import ModelLoadError

    def write(folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(bytes(range(256)) * 64)
        (folder / "optimizer.bin").write_bytes(b"state" * 100)

    for step in (2, 4):
        save_checkpoint(tmp_path, step, write, {}, total_limit=None)
    assert json.loads((tmp_path / "checkpoint-4" / "sha256.json").read_text())["files"].keys() == {
        "model.safetensors",
        "optimizer.bin",
    }
    assert resolve_resume(tmp_path, "latest") == tmp_path / "checkpoint-4"
    damaged = tmp_path / "checkpoint-4" / "model.safetensors"
    data = bytearray(damaged.read_bytes())
    data[100:200] = bytes(100)  # zeroed in place, same size
    damaged.write_bytes(bytes(data))
    assert resolve_resume(tmp_path, "latest") == tmp_path / "checkpoint-2"
    with pytest.raises(ModelLoadError, match=r"checkpoint-4/model\.safetensors: damaged: its sha256 differs"):
        resolve_resume(tmp_path, str(tmp_path / "checkpoint-4"))


def test_loss_log_keeps_each_step_once_after_kills(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from seas.checkpoint import save_checkpoint
    from seas.training import LossLog, resume_step

    path = tmp_path / "logs.jsonl"
    lines = [json.dumps({"step": s, "total": 1.0}) for s in (1, 2, 3)]
    path.write_text("\n".join(lines) + '\n{"step": 4, "tot')  # killed mid-line, before any checkpoint
    log = LossLog(path, ("total",))
    main_process = SimpleNamespace(is_main_process=True)
    assert resume_step(main_process, tmp_path, "latest", log) == 0  # type: ignore[arg-type]
    assert path.read_text() == ""  # the restart redoes steps 1-3: their old lines go

    path.write_text("\n".join(lines) + "\n" + json.dumps({"step": 4, "total": 1.0}) + "\n")
    save_checkpoint(tmp_path, 2, lambda folder: None, {}, total_limit=None)

    class Loader(SimpleNamespace):
        def load_state(self, folder: str) -> None:
            self.loaded = folder

    acc = Loader(is_main_process=True)
    assert resume_step(acc, tmp_path, "latest", log) == 2  # type: ignore[arg-type]
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]
