"""``benchmarks/device_check.sh --smoke``: the GPU script's whole sequence on the tiny model, on any machine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_device_check_smoke_writes_every_number(tmp_path: Path) -> None:
    out = tmp_path / "check"
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "device_check.sh"), str(out), "--smoke"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((out / "device_check.json").read_text())
    assert report["smoke"] is True
    assert set(report["train"]) == {"fp32", "bf16", "bf16_8bit_checkpointing", "bf16_lora4"}
    for name, row in report["train"].items():
        # an optional package that is missing is a recorded skip; one that is present must give numbers
        assert ("skipped" in row) != ("seas" in row), name
        if "seas" in row:
            assert row["seas_over_stock"]["median"] > 0
            assert row["seas"]["median_s"] > 0
    assert report["train"]["fp32"]["seas"]["median_s"] > 0
    assert report["generate"]["seas"]["ms_per_image"] > 0
    assert report["run"] == {
        "rc": 0,
        "seconds": report["run"]["seconds"],
        "masks": 4,
    }  # 4 defect types x 1 pair
    assert "| fp32 |" in (out / "device_check.md").read_text()
