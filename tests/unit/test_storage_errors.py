"""Operating-system failures while writing: one line naming the path, nothing half-written left (issue 10)."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import pytest

from seas.cli import main
from seas.errors import StorageError, storage_error
from seas.files import atomic_write_bytes, atomic_write_dir

# What the libraries raise on a full disk (the reports): torch.save's writer and safetensors.
TORCH_FULL = RuntimeError(
    "[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing file data/0: file write failed"
)
SAFETENSORS_FULL = Exception(
    'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
)


@pytest.mark.parametrize(
    ("exc", "problem"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "no space left on device"),
        (OSError(errno.EROFS, "Read-only file system"), "read-only file system; choose a writable output folder"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
        (TORCH_FULL, "could not be written"),
        (SAFETENSORS_FULL, "no space left on device"),
    ],
)
def test_a_failed_folder_write_names_the_folder_and_leaves_nothing(
    tmp_path: Path, exc: Exception, problem: str
) -> None:
    target = tmp_path / "run" / "checkpoint-3"

    def fill(folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"\0" * 1000)  # half of a checkpoint
        raise exc

    with pytest.raises(StorageError) as caught:
        atomic_write_dir(target, fill, "test")
    message = str(caught.value)
    assert message.startswith(f"{target}: {problem}")
    assert "\n" not in message
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == []  # no checkpoint-3, no temporary folder


def test_a_failed_file_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "image" / "0001.png"
    atomic_write_bytes(target, b"old")

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError, match=r"0001\.png: no space left on device \(\d+ MB free there\)"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["0001.png"]


def test_errors_that_are_not_storage_failures_keep_their_type(tmp_path: Path) -> None:
    assert storage_error(tmp_path, ValueError("shape mismatch")) is None
    assert storage_error(tmp_path, OSError(errno.EINVAL, "Invalid argument")) is None

    def broken(_folder: Path) -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        atomic_write_dir(tmp_path / "x", broken, "test")


def test_an_output_path_under_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("not a folder")
    out = tmp_path / "file" / "run"
    assert main(["train", "--base-model", "tiny", "--run-dir", str(out), "--max-steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("error: ")
    assert str(tmp_path / "file") in err
    assert "Traceback" not in err


def test_disk_full_during_a_checkpoint_is_one_line_and_the_run_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from accelerate import Accelerator

    from tests.conftest import SAMPLE_ROOT

    out = tmp_path / "run"
    argv = [
        "train",
        "--data",
        str(SAMPLE_ROOT),
        "--layout",
        "mvtec",
        "--product",
        "tire",
        "--base-model",
        "tiny",
        "--resolution",
        "64",
        "--max-steps",
        "3",
        "--checkpointing-steps",
        "1",
        "--log-steps",
        "1",
        "--validation-steps",
        "0",
        "--run-dir",
        str(out),
    ]
    real = Accelerator.save_state
    calls = []

    def save_state(self: Accelerator, output_dir: str, **kwargs: object) -> object:
        calls.append(output_dir)
        if len(calls) == 2:  # the second checkpoint finds the disk full
            raise TORCH_FULL
        return real(self, output_dir, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Accelerator, "save_state", save_state)
    assert main(argv) == 2
    stderr = capsys.readouterr().err
    err = re.findall(r"error: [^\r\n]*", stderr)  # the rest is the progress bar
    assert len(err) == 1
    assert "Traceback" not in stderr
    assert err[0].startswith(f"error: {out / 'checkpoint-2'}: could not be written")
    assert sorted(p.name for p in out.iterdir() if p.name.startswith((".", "checkpoint"))) == ["checkpoint-1"]
    monkeypatch.setattr(Accelerator, "save_state", real)
    assert main(argv) == 0  # space freed: resumes from checkpoint-1 and finishes
    assert (out / "train_complete.json").is_file()


def _mount_tmpfs(folder: Path, megabytes: int) -> str | None:
    """Mount a small tmpfs at ``folder``; the reason it cannot be done, or None when mounted."""
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "needs root and mount(8) to create a small file system"
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if done.returncode == 0 else f"mount -t tmpfs refused: {done.stderr.strip()}"


def test_a_really_full_disk_is_one_line_and_the_run_finishes_once_space_is_freed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    from tests.conftest import SAMPLE_ROOT

    disk = tmp_path / "disk"
    reason = _mount_tmpfs(disk, 24)  # the tiny U-Net's checkpoint needs about 40 MB
    if reason is not None:
        pytest.skip(reason)  # the injected-error tests above still cover every message
    try:
        out = disk / "run"
        argv = [
            "train",
            "--data",
            str(SAMPLE_ROOT),
            "--layout",
            "mvtec",
            "--product",
            "tire",
            "--base-model",
            "tiny",
            "--resolution",
            "64",
            "--max-steps",
            "3",
            "--checkpointing-steps",
            "1",
            "--log-steps",
            "1",
            "--validation-steps",
            "0",
            "--run-dir",
            str(out),
        ]
        assert main(argv) == 2
        stderr = capsys.readouterr().err
        err = re.findall(r"error: [^\r\n]*", stderr)
        assert len(err) == 1, stderr[-2000:]
        assert "Traceback" not in stderr
        assert "no space left on device" in err[0] or "could not be written" in err[0]
        assert str(out) in err[0]
        leftovers = [p.name for p in out.iterdir() if p.name.startswith(".") or p.name.startswith("checkpoint")]
        assert leftovers == []  # nothing half-written that a later run would trust
        subprocess.run(["mount", "-o", "remount,size=400m", str(disk)], check=True)  # space freed
        assert main(argv) == 0
        assert (out / "train_complete.json").is_file()
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        capsys.readouterr()
        assert main([*argv[:-1], str(disk / "other")]) == 2
        err = re.findall(r"error: [^\r\n]*", capsys.readouterr().err)
        assert err == [f"error: {disk / 'other'}: read-only file system; choose a writable output folder"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)
