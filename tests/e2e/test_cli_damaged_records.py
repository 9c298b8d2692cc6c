"""Every record a command reads back, damaged: one line naming it (or a rewrite), never a traceback; stale tables."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from seas.cli import main
from seas.data.catalog import bundled_sample_root

ARGV = shlex.split(
    "run --base-model tiny --resolution 64 --seed 0 --max-steps 2 --defect-type hole --num-per-type 2 "
    "--steps 3 --mask-steps 1 --mask-source train --start strength --strength 0.5 --seg-epochs 1 "
    "--eval-resolution 64 --seg-repeats 1 --checkpointing-steps 1"
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """A finished ``seas run`` (both stages, pairs, anomalib export, evaluations, report) on a copy of the sample."""
    base = tmp_path_factory.mktemp("records")
    data = base / "data"
    shutil.copytree(bundled_sample_root(), data)
    run = base / "run"
    argv = [
        *ARGV,
        "--data",
        str(data),
        "--product",
        "tire",
        "--run-dir",
        str(run),
        "--export-anomalib",
        str(base / "anomalib"),
    ]
    assert main(argv) == 0
    return argv, run / "tire"  # --product names the run folder's last part


def _records(run: Path) -> list[Path]:
    return sorted(p for p in run.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".yaml", ".yml"))


def test_every_damaged_record_is_one_line_or_rewritten(
    finished: tuple[list[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv, run = finished
    export = Path(argv[argv.index("--export-anomalib") + 1])
    records = _records(run) + _records(export)
    assert len(records) > 20  # run, split, token map, tokenizer, checkpoints, stage 2, pairs, evaluation, marks
    named, unread = {}, []
    for path in records:
        original = path.read_bytes()
        path.write_bytes(original[: len(original) // 2] + b"\x00")  # cut off mid-write, then garbage
        try:
            capsys.readouterr()
            codes = [main(argv), main(["report", "--run-dir", str(run)])]  # a traceback here fails the test
            err = capsys.readouterr().err
        finally:
            damaged = path.read_bytes()
            path.write_bytes(original)
        assert set(codes) <= {0, 2}, (path, codes, err)
        lines = [line for line in err.splitlines() if line.startswith("error: ")]
        if 2 in codes:
            assert lines, (path, err)
            assert all(str(path) in line or str(path.parent) in line for line in lines), (path, lines)
            named[path] = lines[0]
        elif damaged == original[: len(original) // 2] + b"\x00":  # not rewritten by the commands
            unread.append(path.as_posix())
    rel = {p.relative_to(run).as_posix() for p in named if run in p.parents}
    assert export / "tire" / ".seas-owned.json" in named  # read before the export is rebuilt
    for expected in (
        "config.json",
        "split.json",
        "token_map.json",
        "sha256.json",
        "stage2/config.json",
        "rmp/config.json",
        "tokenizer/tokenizer_config.json",
        "unet/config.json",
    ):
        assert expected in rel, (expected, sorted(rel))
    assert any(r.startswith("generated/tire/hole/.records/") for r in rel)
    assert all("Traceback" not in line for line in named.values())
    # Left as they were: loss logs (a cut-off line is passed over), the finished markers (only their presence
    # counts), and what only a resume or a replacement reads (checkpoints, ownership marks).
    # segmenters.jsonl: a damaged line is a finished segmenter forgotten, trained again on the next evaluation.
    allowed = ("logs.jsonl", "train_complete.json", ".seas-owned.json", "segmenters.jsonl")
    assert all(r.endswith(allowed) or "checkpoint-" in r for r in unread), unread


def test_a_damaged_checkpoint_state_is_named_on_resume(
    finished: tuple[list[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, original = finished
    run = tmp_path / "run"
    shutil.copytree(original, run)
    (run / "train_complete.json").unlink()  # as if killed before the export: the next train resumes
    state = run / "checkpoint-1" / "seas_state.json"
    state.write_text('{"step": ')
    train = [
        "train",
        "--data",
        argv[argv.index("--data") + 1],
        "--product",
        "tire",
        "--run-dir",
        str(run),
        "--base-model",
        "tiny",
        "--resolution",
        "64",
        "--seed",
        "0",
        "--max-steps",
        "2",
        "--defect-type",
        "hole",
        "--checkpointing-steps",
        "1",
    ]
    capsys.readouterr()
    assert main(train) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {state}: damaged or truncated record")
    assert f"delete {run / 'checkpoint-1'}" in err


def test_the_report_marks_a_table_whose_pairs_changed(
    finished: tuple[list[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, original = finished
    run = tmp_path / "run"
    shutil.copytree(original, run)
    assert main(["report", "--run-dir", str(run)]) == 0
    html = run / "report" / "index.html"
    page = html.read_text()
    assert "Stale" not in page
    assert "measured on pairs" in page
    generate = [
        "generate",
        "--run-dir",
        str(run),
        "--overwrite",
        "--seed",
        "5",
        "--num-per-type",
        "2",
        "--steps",
        "3",
        "--mask-steps",
        "1",
        "--mask-source",
        "train",
        "--start",
        "strength",
        "--strength",
        "0.5",
    ]
    assert main(generate) == 0
    assert main(["report", "--run-dir", str(run)]) == 0
    page = html.read_text()
    assert page.count("<b>Stale:</b>") == 2  # the segmentation table and the quality tables
    assert "its inputs changed since it was measured (pairs " in page
    assert "seas evaluate segmentation --run-dir" in page
