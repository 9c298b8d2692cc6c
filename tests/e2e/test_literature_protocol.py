"""benchmarks/literature_protocol.py on the bundled sample with the tiny model: its table and its resume."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "literature_protocol.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("literature_protocol", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_smoke_run_writes_the_published_columns_and_a_rerun_skips_the_product(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    out = tmp_path / "literature"
    assert script.main(["--smoke", "--out", str(out)]) == 0
    table = (out / "table.md").read_text()
    assert "| product | training set | px AUROC | px AP | px F1-max | img AUROC | img AP | img F1-max |" in table
    assert "| tire | real only |" in table
    assert "| **mean** | real + SeaS pairs |" in table
    assert "| DualAnoDiff, arXiv 2408.13509 (as quoted in issue 28) | – | 84.5 |" in table
    result = json.loads((out / "tire.json").read_text())
    assert result["split"]["name"] == "all"  # the papers' test set: every held-out image
    assert result["counts"]["extra_pairs"] == 2 * 4  # --num-per-type pairs of each of the 4 types
    rows = json.loads((out / "table.json").read_text())["rows"]["tire"]
    assert rows["real + SeaS pairs"]["pixel_ap"] == pytest.approx(100 * result["variants"]["seas"]["mean"]["pixel_ap"])

    def refuse(**options):  # type: ignore[no-untyped-def]
        raise AssertionError("a finished product was run again")

    monkeypatch.setattr(script.seas, "run", refuse)
    assert script.main(["--smoke", "--out", str(out)]) == 0
    assert (out / "table.md").read_text() == table
