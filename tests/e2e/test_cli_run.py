"""``seas run`` on the bundled sample, then evaluate and report: the whole user journey, small."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from seas.cli import main

# Two segmenter seeds: the smallest count with a spread and a paired test (claims use the default five).
ARGV = shlex.split(
    "run --base-model tiny --resolution 64 --max-steps 2 --num-per-type 1 --steps 5 --mask-steps 2 --seg-repeats 2"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("demo") / "demo"
    assert main([*ARGV, "--run-dir", str(run), "--seg-epochs", "1", "--eval-resolution", "64"]) == 0
    return run


def test_run_then_rerun_skips_finished_stages(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (demo / "train_complete.json").is_file()
    assert (demo / "rmp" / "model.safetensors").is_file()
    for t in ("combined", "contamination", "cut", "hole"):
        assert len((demo / "generated" / "tire" / t / "manifest.jsonl").read_text().splitlines()) == 1
    stamps = {
        p: p.stat().st_mtime_ns
        for p in [
            demo / "unet" / "diffusion_pytorch_model.safetensors",
            demo / "rmp" / "model.safetensors",
            demo / "evaluation" / "segmentation.json",
            demo / "evaluation" / "quality.json",
        ]
    }
    assert main([*ARGV, "--run-dir", str(demo), "--seg-epochs", "1", "--eval-resolution", "64"]) == 0
    out = capsys.readouterr().out
    assert "[tire] image/mask pairs in" in out
    assert "| real + SeaS pairs |" in out
    assert "[tire] report:" in out
    assert "[tire] pair quality" in out
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # evaluation current: not redone
    record = json.loads((demo / "generated" / "tire" / "config.json").read_text())
    assert record["config"]["GenerateConfig"]["num_per_type"] == 1


def test_downstream_benchmark_json_and_table(demo: Path) -> None:
    results = json.loads((demo / "evaluation" / "segmentation.json").read_text())
    assert sorted(results["variants"]) == ["cutpaste", "perlin", "real", "seas"]
    assert results["counts"]["extra_pairs"] == 4
    # the test half (the default --split) of the held-out two thirds of the bundled sample: n - n // 2 per type
    assert results["split"]["name"] == "test"
    assert results["counts"]["test_defect"] == 2 + 3 + 3 + 3
    for variant in results["variants"].values():
        assert set(variant["per_type"]) == {"combined", "contamination", "cut", "hole"}
        assert all(0.0 <= v <= 1.0 for v in variant["mean"].values())
        assert len(variant["runs"]) == 2  # --seg-repeats 2
    table = (demo / "evaluation" / "segmentation.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| real")]
    assert rows[0].startswith("| real only | ")
    assert len(rows) == 2 * 4 - 1  # four sets in the metric table, three compared with real only
    assert any(line.startswith("Difference in points and p (paired t-test") for line in table)


def test_quality_evaluation_has_every_table_with_its_baseline(demo: Path) -> None:
    quality = json.loads((demo / "evaluation" / "quality.json").read_text())
    rec = quality["reconstruction"]
    assert rec["images"] == {"train_normals": 12, "test_good": 3}
    assert set(rec["vae"]) >= {"psnr_db", "ssim", "detail", "psnr_gain_db"}
    assert set(rec["mean_image"]) >= {"psnr_db"}
    assert set(quality["mask_agreement"]) == {"combined", "contamination", "cut", "hole"}
    for row in quality["mask_agreement"].values():
        assert row["pairs"] == 1
        assert {"generated", "shuffled_masks", "real_heldout"} <= set(row)
        assert 0.0 <= row["real_heldout"]["pixel_auroc"] <= 1.0  # real held-out masks are never empty
    rmp = quality["rmp_segmentation"]
    assert rmp["pooled"]["images"] == 4 + 6 + 6 + 6
    assert 0.0 < rmp["pooled"]["defect_rate"] < 0.05  # tire defects are small
    assert 0.0 <= rmp["pooled"]["pixel_auroc"] <= 1.0
    strip = (demo / "evaluation" / "reconstruction.png").stat().st_size
    assert strip > 1000
    defects = rec["defects"]
    assert defects["images"] == 4 + 6 + 6 + 6
    assert defects["inside"] > 0
    assert defects["outside"] > 0
    assert defects["shuffled_ratio"] > 0
    assert (demo / "evaluation" / "reconstruction_defects.png").stat().st_size > 1000
    table = (demo / "evaluation" / "quality.md").read_text()
    assert "mean-image baseline" in table
    assert "shuffled masks" in table
    assert "AUPRO@0.3" in table
    assert "Does the VAE keep real defects?" in table


def test_report_loads_in_headless_chromium(demo: Path, tmp_path: Path) -> None:
    assert main(["report", "--run-dir", str(demo)]) == 0
    index = demo / "report" / "index.html"
    html = index.read_text()
    assert "http://" not in html  # self-contained: no CDN, no server
    assert "https://" not in html
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed here (apt-get install chromium); the report was built but not opened")
    headless = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    dom = subprocess.run([*headless, "--dump-dom", index.as_uri()], capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body is not None, dom[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert int(attrs["images"]) > 0
    assert attrs["images-loaded"] == attrs["images"]  # every thumbnail loads
    assert attrs["errors"] == "0"  # no script or console error
    assert 'id="quality"' in dom
    assert "reconstruction strip" in dom
    assert (demo / "report" / "thumbs" / "cut_real_0_overlay.png").is_file()  # real examples with their masks
    assert (demo / "report" / "thumbs" / "cut_real_0_zoom.png").is_file()  # and magnified around the mask
    results = json.loads((demo / "evaluation" / "segmentation.json").read_text())
    row = re.search(r"<tr data-variant=\"seas\">(.*?)</tr>", dom)
    assert row is not None
    assert f"{100 * results['variants']['seas']['mean']['pixel_auroc']:.2f}" in row.group(1)
    shot = tmp_path / "report.png"
    subprocess.run(
        [*headless, "--hide-scrollbars", "--window-size=1200,1400", f"--screenshot={shot}", index.as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert shot.is_file()
    assert shot.stat().st_size > 10_000


def test_print_config_shows_flag_over_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("guidance: 3.0\nmax_steps: 7\n")
    assert main(["run", "--config", str(cfg), "--max-steps", "9", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert '"guidance": 3.0' in printed
    assert '"max_steps": 9' in printed
    assert main(["run", "--preset", "visa", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert '"guidance": 2.0' in printed
    assert '"augment": "none"' in printed
    assert '"da_region": "any"' in printed


def test_more_pairs_make_the_evaluation_current_again(demo: Path, tmp_path: Path) -> None:
    run = tmp_path / "demo"
    shutil.copytree(demo, run)
    old = json.loads((run / "evaluation" / "segmentation.json").read_text())
    assert old["counts"]["extra_pairs"] == 4
    assert (
        main([*ARGV, "--num-per-type", "2", "--run-dir", str(run), "--seg-epochs", "1", "--eval-resolution", "64"])
        == 0
    )  # the later --num-per-type wins
    new = json.loads((run / "evaluation" / "segmentation.json").read_text())
    assert new["counts"]["extra_pairs"] == 8  # was: the old table, 4 pairs, while 8 are on disk
    assert new["inputs"]["pairs"] != old["inputs"]["pairs"]
    quality = json.loads((run / "evaluation" / "quality.json").read_text())
    assert {row["pairs"] for row in quality["mask_agreement"].values()} == {2}


def test_pairs_of_some_types_are_evaluated_as_generated(demo: Path, tmp_path: Path) -> None:
    run = tmp_path / "demo"
    shutil.copytree(demo, run)
    assert (
        main(
            [
                "generate",
                "--run-dir",
                str(run),
                "--defect-type",
                "hole",
                "--num-per-type",
                "2",
                "--steps",
                "5",
                "--mask-steps",
                "2",
                "--overwrite",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "segmentation",
                "--run-dir",
                str(run),
                "--variants",
                "seas",
                "--seg-epochs",
                "1",
                "--eval-resolution",
                "64",
            ]
        )
        == 0
    )
    results = json.loads((run / "evaluation" / "segmentation.json").read_text())
    assert results["counts"]["extra_pairs"] == 2  # the hole pairs: --defect-type hole, no other folder asked for
    assert set(results["variants"]["seas"]["per_type"]) == {"combined", "contamination", "cut", "hole"}  # all tested
    assert (
        main(
            [
                "generate",
                "--run-dir",
                str(run),
                "--num-per-type",
                "2",
                "--steps",
                "5",
                "--mask-steps",
                "2",
                "--defect-type",
                "cut",
            ]
        )
        == 0
    )  # the record now says cut; hole's pairs stay in
    assert (
        main(
            [
                "evaluate",
                "segmentation",
                "--run-dir",
                str(run),
                "--variants",
                "seas",
                "--seg-epochs",
                "1",
                "--eval-resolution",
                "64",
            ]
        )
        == 0
    )
    assert json.loads((run / "evaluation" / "segmentation.json").read_text())["counts"]["extra_pairs"] == 4
    (run / "generated" / "tire" / "config.json").unlink()  # no record: every type must have pairs
    assert (
        main(
            [
                "evaluate",
                "segmentation",
                "--run-dir",
                str(run),
                "--variants",
                "seas",
                "--seg-epochs",
                "1",
                "--eval-resolution",
                "64",
            ]
        )
        == 2
    )


def test_a_rerun_lists_the_dataset_once(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import seas.data.catalog as catalog

    run = tmp_path / "demo"
    shutil.copytree(demo, run)
    calls: list[str] = []
    real = catalog._read_samples

    def counting(*args: object) -> object:
        calls.append(str(args[1]))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog, "_read_samples", counting)
    assert main([*ARGV, "--run-dir", str(run), "--seg-epochs", "1", "--eval-resolution", "64"]) == 0
    assert len(calls) == 1  # was: six listings in one seas run
