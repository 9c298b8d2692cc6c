"""The Python interface end to end on the tiny model: the README example, in-memory pairs, the CLI's guarantees."""

from __future__ import annotations

import json
import pydoc
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import seas
from seas.cli import main
from seas.locks import writer_lock

FAST = {"base_model": "tiny", "resolution": 64, "seed": 0}


@pytest.fixture(scope="module")
def trained(tire_root: Path, tmp_path_factory: pytest.TempPathFactory) -> seas.Run:
    """A run trained through the interface alone (tiny model at 64 px, 2 + 2 steps)."""
    folder = tmp_path_factory.mktemp("api") / "run"
    run = seas.train(data=tire_root, product="tire", run_dir=folder, max_steps=2, **FAST)
    run.train_mask(max_steps=2)
    return run


def test_readme_example_trains_both_stages_and_writes_pairs(trained: seas.Run, tmp_path: Path) -> None:
    assert trained.has_generator
    assert trained.has_mask_head
    assert trained.product == "tire"
    assert trained.defect_types == ("combined", "contamination", "cut", "hole")
    pairs = trained.generate(num_per_type=2, output_dir=tmp_path / "pairs")
    assert pairs.folder == tmp_path / "pairs" / "tire"
    assert pairs.counts == dict.fromkeys(trained.defect_types, 2)
    listed = list(pairs)
    assert [(p.defect_type, p.index) for p in listed] == [(t, i) for t in trained.defect_types for i in (0, 1)]
    for pair in listed:
        on_disk = np.asarray(Image.open(pairs.folder / pair.defect_type / "mask" / f"{pair.index:04d}.png")) > 0
        assert np.array_equal(pair.mask_array, on_disk)
        assert pair.image_array.shape == (64, 64, 3)
        assert pair.record["seed"] == pair.index  # seed 0 + index
    # the same pairs, found again from the folder alone
    again = seas.open_run(trained.root).pairs(tmp_path / "pairs")
    assert again.counts == pairs.counts
    assert len(again) == 8


def test_sample_in_memory_equals_the_written_pairs(trained: seas.Run, tmp_path: Path) -> None:
    out = tmp_path / "pairs"
    written = {(p.defect_type, p.index): p for p in seas.generate_pairs(trained.root, num_per_type=2, output_dir=out)}
    drawn = list(trained.sample(num_per_type=2, defect_type=("cut",)))
    assert [(p.defect_type, p.index) for p in drawn] == [("cut", 0), ("cut", 1)]
    for pair in drawn:
        twin = written[(pair.defect_type, pair.index)]
        assert np.array_equal(pair.image_array, twin.image_array)  # same machine: bit for bit
        assert np.array_equal(pair.mask_array, twin.mask_array)
    assert not (trained.root / "generated").exists()  # sample() wrote nothing
    with pytest.raises(seas.ConfigError, match="guidance"):
        trained.sample(guidance=-1.0)  # refused at the call, before any weights load


def test_options_are_resolved_like_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("max_steps: 20\nlearning_rate: 1.0e-4\ntrain_mask:\n  max_steps: 40\n")
    data, model, train = seas.resolve("train", config, max_steps=5)
    assert train.max_steps == 5  # keyword > file
    assert train.learning_rate == 1e-4  # file > default
    (mask,) = seas.resolve("train-mask", config)
    assert mask.max_steps == 40  # the file's stage section
    assert data.product is None
    assert model.resolution == 512


def test_errors_carry_the_command_lines_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(seas.ConfigError, match=r"unknown option\(s\) max_step"):
        seas.train(run_dir=tmp_path / "run", max_step=3)
    with pytest.raises(seas.ConfigError) as raised:
        seas.train(run_dir=tmp_path / "run", mixed_precision="fp64")
    assert main(["train", "--run-dir", str(tmp_path / "run"), "--config", str(_file(tmp_path, "fp64"))]) == 2
    printed = capsys.readouterr().err.strip()
    assert printed.endswith(str(raised.value).split(": ", 1)[1])  # the same words, whichever source named them
    with pytest.raises(seas.SeasError, match="no such folder; pass the --run-dir folder"):
        seas.open_run(tmp_path / "nothing")


def _file(tmp_path: Path, precision: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(f"mixed_precision: {precision}\n")
    return path


def test_writer_lock_and_changed_settings_are_refused(trained: seas.Run, tmp_path: Path) -> None:
    out = tmp_path / "pairs"
    with writer_lock(out), pytest.raises(seas.SeasError, match="is writing this folder"):
        seas.generate_pairs(trained.root, num_per_type=1, output_dir=out)
    seas.generate_pairs(trained.root, num_per_type=1, output_dir=out, guidance=2.0)
    with pytest.raises(seas.ConfigError, match=r"other settings.*--guidance 2\.0 -> 3\.0"):
        seas.generate_pairs(trained.root, num_per_type=1, output_dir=out, guidance=3.0)
    record = json.loads((out / "tire" / "config.json").read_text())
    assert record["config"]["GenerateConfig"]["guidance"] == 2.0


def test_help_lists_the_interface() -> None:
    text = pydoc.render_doc(seas, renderer=pydoc.plaintext)
    for name in ("train", "train_mask", "generate_pairs", "sample", "evaluate_segmentation", "open_run", "Run"):
        assert name in seas.__all__
        assert f"{name}(" in text or f"class {name}" in text


def test_the_readme_example_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python block, executed with fewer steps (the only change) in a scratch folder."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## From Python", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    short = re.sub(r"max_steps=\d+", "max_steps=1", code).replace("num_per_type=4", "num_per_type=1")
    assert short != code  # the step counts were found
    monkeypatch.chdir(tmp_path)
    exec(compile(short, "README.md", "exec"), {})
    manifests = sorted((tmp_path / "runs" / "tire" / "generated" / "tire").glob("*/manifest.jsonl"))
    assert [m.parent.name for m in manifests] == ["combined", "contamination", "cut", "hole"]
    assert all(len(m.read_text().splitlines()) == 1 for m in manifests)


def test_generate_exports_coco_and_yolo_of_exactly_the_pairs(trained: seas.Run, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    out, coco_dir, yolo_dir = tmp_path / "pairs", tmp_path / "coco", tmp_path / "yolo"
    pairs = trained.generate(num_per_type=2, output_dir=out, export_coco=coco_dir, export_yolo=yolo_dir)
    assert pairs.exports == {"coco": coco_dir / "tire", "yolo": yolo_dir / "tire"}
    coco = COCO(str(coco_dir / "tire" / "annotations.json"))
    assert len(coco.imgs) == len(pairs) == 8
    for image in coco.imgs.values():
        folder, index = Path(image["file_name"]).stem.split("_")
        mask = np.asarray(Image.open(out / "tire" / folder / "mask" / f"{index}.png")) > 0
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        decoded = np.logical_or.reduce([coco.annToMask(a) > 0 for a in anns]) if anns else np.zeros_like(mask)
        assert np.array_equal(decoded, mask)
    assert len(list((yolo_dir / "tire" / "labels").glob("*.txt"))) == 8
    assert pairs.export_counts["coco"]["images"] == 8
    with pytest.raises(seas.ConfigError, match="--export-yolo"):
        trained.generate(num_per_type=2, output_dir=out, export_yolo=out / "tire" / "cut")


def test_the_paste_control_joins_the_default_table_for_placed_masks(trained: seas.Run, tmp_path: Path) -> None:
    from seas.evaluate.downstream import format_table

    placed = tmp_path / "placed"
    trained.generate(
        num_per_type=1, output_dir=placed, start="strength", strength=0.2, mask_source="train", placed_start="defect"
    )
    quick = {"seg_epochs": 1, "eval_resolution": 64, "seg_repeats": 2}
    results = trained.evaluate_segmentation(**{**quick, "generated": placed})
    assert list(results["variants"]) == ["real", "perlin", "cutpaste", "paste", "seas"]
    assert "| real + training defects pasted (no model) |" in format_table(results)
    drawn = tmp_path / "drawn"
    trained.generate(num_per_type=1, output_dir=drawn)  # masks of the RMP head: no control by default
    assert "paste" not in trained.evaluate_segmentation(**{**quick, "generated": drawn})["variants"]
    with pytest.raises(seas.ConfigError, match="has a mask the RMP head drew"):
        trained.evaluate_segmentation(**{**quick, "generated": drawn, "variants": ("real", "paste")})


def test_the_test_half_the_val_half_and_all_held_out_images_are_scored_apart(
    trained: seas.Run, tmp_path: Path
) -> None:
    pairs = tmp_path / "pairs"
    trained.generate(num_per_type=1, output_dir=pairs, start="strength", strength=0.2, mask_source="train")
    quick = {
        "seg_epochs": 1,
        "eval_resolution": 64,
        "seg_repeats": 2,
        "generated": pairs,
        "variants": ("real", "seas"),
    }
    finished_file = trained.root / "evaluation" / "segmenters.jsonl"
    earlier = len(finished_file.read_text().splitlines()) if finished_file.is_file() else 0  # other tests' runs
    counts = {s: trained.evaluate_segmentation(**quick, split=s)["counts"] for s in ("val", "test", "all")}
    assert counts["val"]["test_defect"] + counts["test"]["test_defect"] == counts["all"]["test_defect"]
    assert counts["val"]["test_good"] + counts["test"]["test_good"] == counts["all"]["test_good"]
    assert 0 < counts["val"]["test_defect"] <= counts["test"]["test_defect"]  # n // 2 per type in the val half
    halves = json.loads((trained.root / "heldout_halves.json").read_text())
    for t, parts in halves["types"].items():
        assert not set(parts["val"]) & set(parts["test"]), t
    evaluation = trained.root / "evaluation"
    table = (evaluation / "segmentation.md").read_text()
    assert "the `all` part of the held-out set" in table
    assert "| real + SeaS pairs | " in table.split("Difference in points and p")[1]  # the paired table
    assert Image.open(evaluation / "training_sets.png").size[1] > 0
    finished = (evaluation / "segmenters.jsonl").read_text().splitlines()
    assert len(finished) - earlier == 3 * 2 * 2  # three splits x two sets x two seeds, each trained once
    trained.evaluate_segmentation(**quick, split="val")  # a rerun: every segmenter is recorded, none trained
    assert len((evaluation / "segmenters.jsonl").read_text().splitlines()) == len(finished)
