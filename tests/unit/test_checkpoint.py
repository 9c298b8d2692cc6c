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
