"""``seas benchmark`` on the tiny model: runs, prints the interleaved ratio, writes only where --results says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seas.cli import main


def test_benchmarks_write_only_where_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    small = ["--base-model", "tiny", "--resolution", "64", "--steps", "2", "--warmup", "1"]
    assert main(["benchmark", "train", *small]) == 0
    assert "median of 2 interleaved pairs" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # was: docs/benchmarks/... under the working folder
    results = tmp_path / "out" / "results.jsonl"
    assert main(["benchmark", "generate", *small, "--batch", "2", "--results", str(results)]) == 0
    assert main(["benchmark", "train", *small, "--results", str(results)]) == 0
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [("stock_img2img" in r, "stock_step" in r) for r in rows] == [(True, False), (False, True)]
    assert rows[0]["seas_image_and_mask"]["ms_per_image"] > 0
    assert rows[1]["seas_over_stock"] == rows[1]["seas_over_stock_spread"]["median"] > 0
    assert len(rows[1]["seas_step"]["times_s"]) == 2
