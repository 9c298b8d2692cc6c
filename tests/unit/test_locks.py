"""One writer per folder: a second writer is refused at once, any spelling; a killed holder frees it."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from seas.cli import main
from seas.locks import FolderBusyError, lock_path, writer_lock

HOLD = (
    "import sys, time, pathlib\nfrom seas.locks import writer_lock\n"
    "with writer_lock(pathlib.Path(sys.argv[1])):\n    print('held', flush=True)\n    time.sleep(60)\n"
)


def _holder(folder: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_holder_then_freed_by_a_kill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "run"
    folder.mkdir()
    (tmp_path / "link").symlink_to(folder)
    proc = _holder(folder)
    try:
        monkeypatch.chdir(tmp_path)
        for spelling in (folder, Path("run"), tmp_path / "link", Path("run/../run")):
            with pytest.raises(FolderBusyError) as exc, writer_lock(spelling):
                pass
            assert f"PID {proc.pid}" in str(exc.value)
        assert main(["train-mask", "--run-dir", "run", "--max-steps", "1"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0
        assert f"another seas process (PID {proc.pid}) is writing this folder" in err
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with writer_lock(folder):  # the kernel released the dead holder's lock: nothing stale remains
        assert lock_path(folder).read_text().split("\n")[0] == str(os.getpid())
    assert sorted(p.name for p in folder.iterdir()) == []  # the lock lives outside the folder


def test_one_process_may_lock_different_folders(tmp_path: Path) -> None:
    with writer_lock(tmp_path / "a"), writer_lock(tmp_path / "b"):
        assert lock_path(tmp_path / "a") != lock_path(tmp_path / "b")


def test_taking_the_lock_cleans_what_killed_writers_left(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "rmp").mkdir(parents=True)
    (run / ".checkpoint-3.ab12cd_9.seas-tmp").mkdir()
    (run / ".checkpoint-3.ab12cd_9.seas-tmp" / "model.safetensors").write_bytes(b"half")
    (run / "rmp" / ".model.safetensors.x1y2z3w4.seas-tmp").write_bytes(b"half")
    (run / ".unet.seas-old").mkdir()  # died after moving unet aside: the old one is restored
    (run / ".unet.seas-old" / "weights").write_bytes(b"previous")
    (run / "vae").mkdir()
    (run / ".vae.seas-old").mkdir()  # died after the new one was in place: the old one goes
    (run / "notes.tmp").write_text("a user's file")
    (run / ".notes.tmp").write_text("another user's file")
    (run / ".draft.ab12cd34.tmp").write_text("a user's file named like another tool's temporary file")
    (run / ".photos.old").mkdir()  # a user's folder named like a backup
    with writer_lock(run):
        pass
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == shlex.split(
        ".draft.ab12cd34.tmp .notes.tmp .photos.old notes.tmp rmp unet unet/weights vae"
    )
    assert (run / "unet" / "weights").read_bytes() == b"previous"
