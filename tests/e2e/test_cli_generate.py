"""Stage 2 + generation end to end on the tire data with the tiny model at 64 px."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from seas.cli import main

FAST = ["--base-model", "tiny", "--resolution", "64", "--seed", "0"]


def _generate(run: Path, out: Path, flags: str, *values: str) -> list[str]:
    """``seas generate`` argv: ``run`` into ``out``, with the space-separated ``flags`` and then ``values``."""
    return ["generate", "--run-dir", str(run), "--output-dir", str(out), *flags.split(), *values]


@pytest.fixture(scope="module")
def run(tire_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gen") / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(tire_root),
                "--layout",
                "mvtec",
                "--product",
                "tire",
                "--max-steps",
                "2",
                "--run-dir",
                str(folder),
                *FAST,
            ]
        )
        == 0
    )
    assert main(["train-mask", "--run-dir", str(folder), "--max-steps", "2", "--log-steps", "1"]) == 0
    return folder


def _drawn(level: int) -> np.ndarray:
    """A stand-in sampler image: one grey level plus a small ramp, so it is not rejected as flat."""
    image = np.full((64, 64, 3), level, np.uint8)
    image[0, :3] += np.arange(3, dtype=np.uint8) + 1
    return image


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_train_mask_writes_rmp_and_logs(run: Path) -> None:
    assert (run / "rmp" / "model.safetensors").is_file()
    config = json.loads((run / "rmp" / "config.json").read_text())
    assert config["unet_channels"] == [64, 64]
    logs = [json.loads(line) for line in (run / "stage2" / "logs.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logs] == [1, 2]
    assert all(r["focal_512"] > 0 for r in logs)


def test_generate_pairs_manifest_rerun_and_batch_independence(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["generate", "--run-dir", str(run), "--output-dir", str(out), "--num-per-type", "3", "--seed", "7"]
    assert main([*argv, "--batch-size", "3"]) == 0
    types = ["combined", "contamination", "cut", "hole"]
    for t in types:
        folder = out / "tire" / t
        assert sorted(p.name for p in (folder / "image").iterdir()) == ["0000.png", "0001.png", "0002.png"]
        manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
        assert [m["index"] for m in manifest] == [0, 1, 2]
        assert [m["seed"] for m in manifest] == [7, 8, 9]
        assert manifest[0]["defect_types"] == [t]
        assert manifest[0]["settings"]["steps"] == 25
        assert set(manifest[0]["checkpoint"]) == {"generator", "rmp"}
        for m in manifest:
            image = np.asarray(Image.open(folder / m["image"]))
            mask = np.asarray(Image.open(folder / m["mask"]))
            assert image.shape == (64, 64, 3)
            assert mask.shape == (64, 64)
            assert set(np.unique(mask)) <= {0, 255}
            assert m["mask_fraction"] == pytest.approx((mask > 0).mean())
    before = _tree_digest(out)
    assert main([*argv, "--batch-size", "3"]) == 0  # rerun: every pair is already finished
    assert _tree_digest(out) == before
    single = tmp_path / "single"
    assert main(_generate(run, single, "--num-per-type 3 --seed 7 --batch-size 1")) == 0
    for t in types:
        for name in ("0000.png", "0001.png", "0002.png"):
            a = np.asarray(Image.open(out / "tire" / t / "image" / name)).astype(int)
            b = np.asarray(Image.open(single / "tire" / t / "image" / name)).astype(int)
            assert np.abs(a - b).max() <= 1, (t, name)
            ma = np.asarray(Image.open(out / "tire" / t / "mask" / name))
            mb = np.asarray(Image.open(single / "tire" / t / "mask" / name))
            assert (ma == mb).mean() >= 0.995, (t, name)


def test_combine_normals_and_anomalib_export(run: Path, tmp_path: Path) -> None:
    out, export = tmp_path / "out", tmp_path / "anomalib"
    assert (
        main(
            _generate(
                run,
                out,
                "--num-per-type 2 --defect-type cut --combine cut+hole --normals 2 --export-anomalib",
                str(export),
            )
        )
        == 0
    )
    assert sorted(p.name for p in (out / "tire").iterdir() if p.is_dir()) == ["cut", "cut+hole", "good"]
    combo = json.loads((out / "tire" / "cut+hole" / "manifest.jsonl").read_text().splitlines()[0])
    assert combo["prompt"] == "a ob1 with sks9 sks10 sks11 sks12 sks13 sks14 sks15 sks16"
    assert not (out / "tire" / "good" / "mask").exists()
    assert sorted(p.name for p in (export / "tire" / "abnormal").iterdir()) == [
        "cut+hole_0000.png",
        "cut+hole_0001.png",
        "cut_0000.png",
        "cut_0001.png",
    ]
    assert sorted(p.name for p in (export / "tire" / "mask").iterdir()) == sorted(
        p.name for p in (export / "tire" / "abnormal").iterdir()
    )
    assert len(list((export / "tire" / "normal").iterdir())) == 2
    assert all(np.asarray(Image.open(p)).shape == (64, 64) for p in (export / "tire" / "mask").iterdir())


def test_without_out_the_pairs_go_where_evaluate_and_report_look(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seas.run_folder import RunFolder

    monkeypatch.chdir(tmp_path)  # was: ./generated in the working directory, where seas evaluate never looks
    try:
        assert main(["generate", "--run-dir", str(run), "--num-per-type", "1", "--defect-type", "cut"]) == 0
        assert (RunFolder(run).generated("tire") / "cut" / "manifest.jsonl").is_file()
        assert not (tmp_path / "generated").exists()
    finally:
        shutil.rmtree(run / "generated", ignore_errors=True)  # the module's run stays as the other tests expect


def test_unknown_type_is_one_line(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--run-dir", str(run), "--output-dir", str(tmp_path), "--defect-type", "dent"]) == 2
    assert "unknown defect type(s) dent; known: combined, contamination, cut, hole" in capsys.readouterr().err


def test_placed_masks_are_training_masks_and_only_their_neighbourhood_changes(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seas.data.augment import to_training_rgb
    from seas.data.imageio import read_rgb

    out = tmp_path / "placed"
    argv = _generate(
        run,
        out,
        "--num-per-type 3 --defect-type hole cut --start strength --strength 0.6 "
        "--steps 5 --mask-steps 1 --mask-source train --mask-margin 1",
    )
    assert main(argv) == 0
    split = json.loads((run / "split.json").read_text())
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for t in ("hole", "cut"):
        training_masks = {Path(pair["mask"]).name for pair in split["types"][t]["train"]}
        folder = out / "tire" / t
        manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
        for m in manifest:
            assert Path(m["mask_from"]["mask"]).name in training_masks
            assert m["settings"]["mask_source"] == "train"
            mask = np.asarray(Image.open(folder / m["mask"])) > 0
            assert mask.any()
            assert m["mask_fraction"] == pytest.approx(mask.mean())
            image = np.asarray(Image.open(folder / m["image"]))
            pairs.setdefault(t, []).append((image, mask))
    # Image n of every type starts from the same reference latent with the same seed: beyond the masks and their
    # margin (1 px, fading over about 2) both are that latent decoded, so they agree exactly there, and nowhere else.
    for (hole, hole_mask), (cut, cut_mask) in zip(pairs["hole"], pairs["cut"], strict=True):
        both = Image.fromarray((hole_mask | cut_mask).astype(np.uint8) * 255)
        far = np.asarray(both.filter(ImageFilter.MaxFilter(5))) == 0  # farther than 2 px from either mask
        assert np.array_equal(hole[far], cut[far])
        assert not np.array_equal(hole[hole_mask], cut[hole_mask])
    before = _tree_digest(out)
    assert main(argv) == 0  # rerun: finished pairs are skipped
    assert _tree_digest(out) == before
    photo_out = tmp_path / "photo"  # --placed-background photo: the reference photo itself beyond the margin
    assert main([*argv[:4], str(photo_out), *argv[5:], "--placed-background", "photo"]) == 0
    for m in (json.loads(line) for line in (photo_out / "tire" / "hole" / "manifest.jsonl").read_text().splitlines()):
        mask = np.asarray(Image.open(photo_out / "tire" / "hole" / m["mask"])) > 0
        far = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(5))) == 0
        photo = np.round((to_training_rgb(read_rgb(Path(m["reference"])), 64, "crop").transpose(1, 2, 0) + 1) * 127.5)
        assert np.array_equal(np.asarray(Image.open(photo_out / "tire" / "hole" / m["image"]))[far], photo[far])
    capsys.readouterr()
    assert main([*argv[:-4], "--num-per-type", "3"]) == 2  # the default RMP masks may not join these pairs
    assert "--mask-source 'train' -> 'rmp'" in capsys.readouterr().err
    assert main(_generate(run, tmp_path / "n", "--start noise --mask-source train")) == 2
    err = capsys.readouterr().err.strip()
    assert "--mask-source: train keeps the reference image outside the mask" in err
    assert len(err.splitlines()) == 1


def test_a_defect_start_redraws_the_training_defect_under_its_mask_and_nothing_else(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "generate",
        "--run-dir",
        str(run),
        "--num-per-type",
        "2",
        "--defect-type",
        "hole",
        "--start",
        "strength",
        "--strength",
        "0.5",
        "--steps",
        "4",
        "--mask-steps",
        "1",
        "--mask-source",
        "train",
        "--mask-margin",
        "1",
    ]
    assert main([*argv, "--output-dir", str(tmp_path / "normal")]) == 0
    assert main([*argv, "--output-dir", str(tmp_path / "defect"), "--placed-start", "defect"]) == 0
    split = json.loads((run / "split.json").read_text())
    images = {Path(p["mask"]).name: Path(p["image"]).name for p in split["types"]["hole"]["train"]}
    lines = {
        k: (tmp_path / k / "tire" / "hole" / "manifest.jsonl").read_text().splitlines() for k in ("normal", "defect")
    }
    for plain, seeded in zip(*(map(json.loads, lines[k]) for k in ("normal", "defect")), strict=True):
        assert seeded["settings"]["placed_start"] == "defect"
        assert seeded["mask_from"]["mask"] == plain["mask_from"]["mask"]  # the same draw, now with its image
        assert Path(seeded["mask_from"]["image"]).name == images[Path(seeded["mask_from"]["mask"]).name]
        folder = {k: tmp_path / k / "tire" / "hole" for k in ("normal", "defect")}
        mask = np.asarray(Image.open(folder["defect"] / seeded["mask"])) > 0
        a, b = (np.asarray(Image.open(folder[k] / m["image"])) for k, m in (("normal", plain), ("defect", seeded)))
        far = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(5))) == 0
        assert np.array_equal(a[far], b[far])  # the decoded reference beyond the mask and its margin
        assert not np.array_equal(a[mask], b[mask])  # the start under the mask differs
    capsys.readouterr()
    assert (
        main(["generate", "--run-dir", str(run), "--output-dir", str(tmp_path / "x"), "--placed-start", "defect"]) == 2
    )
    err = capsys.readouterr().err.strip()
    assert "--placed-start: defect pastes the training defect under a placed mask" in err
    assert len(err.splitlines()) == 1


def test_a_photo_background_under_a_defect_start_is_the_start_picture(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seas.generate.pipeline as pipeline
    from seas.data.augment import to_training_rgb
    from seas.data.imageio import read_rgb
    from seas.generate.placed_masks import defect_start_rgb

    seen: dict[str, list[tuple[np.ndarray, np.ndarray | None]]] = {}
    real = pipeline.placed_pixels

    def spy(
        generated: np.ndarray, decoded: np.ndarray, mask: np.ndarray, margin: int, photo: np.ndarray | None = None
    ) -> np.ndarray:
        seen.setdefault(kind, []).append((decoded, photo))
        return real(generated, decoded, mask, margin, photo)

    monkeypatch.setattr(pipeline, "placed_pixels", spy)
    argv = [
        "generate",
        "--run-dir",
        str(run),
        "--num-per-type",
        "2",
        "--defect-type",
        "hole",
        "--start",
        "strength",
        "--strength",
        "0.5",
        "--steps",
        "4",
        "--mask-steps",
        "1",
        "--mask-source",
        "train",
        "--mask-margin",
        "1",
        "--placed-background",
        "photo",
        "--placed-turn",
        "defect",
    ]
    for kind in ("normal", "defect"):
        assert main([*argv, "--output-dir", str(tmp_path / kind), "--placed-start", kind]) == 0
    manifest = tmp_path / "defect" / "tire" / "hole" / "manifest.jsonl"
    for k, record in enumerate(json.loads(line) for line in manifest.read_text().splitlines()):
        assert "centre" in record["mask_from"]  # --placed-turn defect: turned about the defect's centre
        mask = np.asarray(Image.open(manifest.parent / record["mask"])) > 0
        reference = to_training_rgb(read_rgb(Path(record["reference"])), 64, "crop")
        start = defect_start_rgb(reference, Path(record["mask_from"]["image"]), record["mask_from"], mask, 1)
        (decoded, photo), (decoded_reference, reference_photo) = seen["defect"][k], seen["normal"][k]
        # The change is added to the pasted defect as photographed, measured from that start as decoded.
        assert photo is not None
        assert reference_photo is not None
        assert np.array_equal(photo, np.round((start.transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8))
        assert not np.array_equal(photo[mask], reference_photo[mask])
        assert not np.array_equal(decoded[mask], decoded_reference[mask])


def test_the_placed_mask_check_redraws_each_pair_with_the_normal_prompt(run: Path, tmp_path: Path) -> None:
    from seas.evaluate.placed_effect import placed_effect
    from seas.run_folder import read_run
    from seas.stage1.artifacts import load_generator

    out = tmp_path / "out"
    argv = _generate(
        run,
        out,
        "--num-per-type 2 --defect-type hole --start strength --strength 0.5 --steps 4 --mask-steps 1 "
        "--mask-source train --placed-start defect --placed-background photo --normals 1",
    )
    assert main(argv) == 0
    parts, token_map = load_generator(run)
    resolution, cpu = read_run(run).model_cfg.resolution, torch.device("cpu")
    effect = placed_effect(parts, token_map, run, out / "tire", ["cut", "hole"], resolution, cpu)
    assert effect is not None
    assert set(effect) == {"hole"}  # no cut pairs; good/ is not a defect type
    assert effect["hole"]["pairs"] == 2
    assert effect["hole"]["own_vs_normal"] > 0  # the defect tokens change the picture inside the mask

    class OwnPrompt:  # the check's "normal" redraw with the pair's own prompt must give the pair back
        def prompt(self, types: list[str] | None) -> str:
            return token_map.prompt(["hole"])

    same = placed_effect(parts, OwnPrompt(), run, out / "tire", ["hole"], resolution, cpu)  # type: ignore[arg-type]
    assert same is not None
    assert same["hole"]["own_vs_normal"] == 0.0
    assert same["hole"]["own"] == same["hole"]["normal"] == effect["hole"]["own"]


def test_mask_filter_rejections_are_recorded(run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import seas.generate.run as gen_run
    from seas.generate.pipeline import MaskedSampler, Result

    real_run = MaskedSampler.run

    def fake_run(self: MaskedSampler, jobs: list) -> list:  # odd seeds give an empty mask
        results = real_run(self, jobs)
        return [
            Result(
                r.job,
                r.image,
                np.zeros_like(r.mask) if r.job.seed % 2 else np.ones_like(r.mask),
                0.0 if r.job.seed % 2 else 1.0,
            )
            for r in results
        ]

    monkeypatch.setattr(gen_run.MaskedSampler, "run", fake_run)
    out = tmp_path / "out"
    assert (
        main(
            _generate(
                run,
                out,
                "--num-per-type 4 --defect-type hole --min-mask-fraction 0.5 --steps 3 --mask-steps 1",
            )
        )
        == 0
    )
    manifest = [json.loads(line) for line in (out / "tire" / "hole" / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == [0, 1, 2, 3]  # the requested count is met
    assert all(m["mask_fraction"] == 1.0 for m in manifest)
    odd = [m for m in manifest if m["index"] % 2]
    assert all(len(m["rejections"]) == 1 and m["rejections"][0]["seed"] == m["index"] for m in odd)
    assert all(m["seed"] == m["index"] + gen_run.RETRY_STRIDE for m in odd)
    assert all(not m["rejections"] for m in manifest if m["index"] % 2 == 0)


def test_kill_during_generation_then_rerun_completes(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "seas.cli",
        *_generate(run, out, "--num-per-type 12 --defect-type cut --batch-size 1"),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = out / "tire" / "cut" / ".records"
    deadline = time.time() + 120
    while proc.poll() is None and time.time() < deadline and len(list(records.glob("*.json"))) < 3:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(records.glob("*.json")))
    assert 0 < done_before < 12, "the run was not interrupted mid-way"
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    folder = out / "tire" / "cut"
    names = [f"{i:04d}.png" for i in range(12)]
    assert sorted(p.name for p in (folder / "image").iterdir()) == names
    assert sorted(p.name for p in (folder / "mask").iterdir()) == names
    assert not [p for p in folder.rglob("*") if p.name.startswith(".") and p.suffix in (".tmp", ".seas-tmp")]
    manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == list(range(12))
    for name in names:
        Image.open(folder / "image" / name).load()
        Image.open(folder / "mask" / name).load()


def test_mask_average_counts_only_the_steps_that_ran(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import seas.generate.run as gen_run

    def certain(self: object, feats: list, x: torch.Tensor, batch: int, use_cfg: bool) -> torch.Tensor:
        return torch.ones((batch, x.shape[-1] * 8, x.shape[-1] * 8))  # probability 1 at every mask step

    monkeypatch.setattr(gen_run.MaskedSampler, "_mask_probability", certain)
    out = tmp_path / "out"  # strength 0.2 of 10 steps runs 2 steps, fewer than --mask-steps 3
    assert (
        main(
            _generate(
                run,
                out,
                "--num-per-type 1 --defect-type hole --start strength --strength 0.2 "
                "--steps 10 --mask-steps 3 --mask-threshold 0.9",
            )
        )
        == 0
    )
    manifest = [json.loads(line) for line in (out / "tire" / "hole" / "manifest.jsonl").read_text().splitlines()]
    assert manifest[0]["mask_fraction"] == 1.0  # mean of 2 ones is 1, not 2/3


@pytest.fixture(scope="module")
def five_normals(tire_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose stage 1 used 5 of the sample's 12 normal images."""
    folder = tmp_path_factory.mktemp("five") / "run"
    assert (
        main(
            [
                "train",
                "--data",
                str(tire_root),
                "--layout",
                "mvtec",
                "--product",
                "tire",
                "--max-steps",
                "1",
                "--num-normals",
                "5",
                "--defect-type",
                "cut",
                "--run-dir",
                str(folder),
                *FAST,
            ]
        )
        == 0
    )
    assert main(["train-mask", "--run-dir", str(folder), "--max-steps", "1", "--bn-calibration-batches", "1"]) == 0
    return folder


@pytest.mark.parametrize("pool", ["train", "all"])
def test_reference_pool(
    five_normals: Path, tire_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool: str
) -> None:
    import seas.generate.run as gen_run
    from seas.generate.pipeline import Result

    def fast(self: object, jobs: list) -> list:  # only the reference choice is under test here
        return [Result(j, _drawn(0), np.ones((64, 64), bool), 1.0) for j in jobs]

    monkeypatch.setattr(gen_run.MaskedSampler, "run", fast)
    out = tmp_path / "out"
    argv = ["generate", "--run-dir", str(five_normals), "--output-dir", str(out), "--num-per-type", "14"]
    assert main([*argv, "--reference-pool", pool]) == 0
    refs = [
        Path(json.loads(line)["reference"]).name
        for line in (out / "tire" / "cut" / "manifest.jsonl").read_text().splitlines()
    ]
    goods = sorted(p.name for p in (tire_root / "tire" / "train" / "good").iterdir())
    assert len(goods) == 12
    pool_size = 5 if pool == "train" else 12  # the normals stage 1 used, or every normal training image
    assert refs == [goods[n % pool_size] for n in range(14)]


def test_stage2_is_reproducible_from_its_seed(run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("rmp", "stage2", "generated", "checkpoint_ids.json"))
    assert main(["train-mask", "--run-dir", str(copy), "--max-steps", "2", "--log-steps", "1"]) == 0
    first = (run / "rmp" / "model.safetensors").read_bytes()
    assert (copy / "rmp" / "model.safetensors").read_bytes() == first


def test_stage2_recalibrates_only_batchnorm_statistics(run: Path, tmp_path: Path) -> None:
    import shutil

    from safetensors.torch import load_file

    copy = tmp_path / "copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("rmp", "stage2", "generated", "checkpoint_ids.json"))
    argv = ["train-mask", "--run-dir", str(copy), "--max-steps", "2", "--log-steps", "1", "--bn-calibration-batches"]
    assert main([*argv, "0"]) == 0  # the reference: statistics as training left them
    reference = load_file(str(copy / "rmp" / "model.safetensors"))
    calibrated = load_file(str(run / "rmp" / "model.safetensors"))  # the fixture ran with the default (16)
    stats = {k for k in reference if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}
    assert stats
    # exact: same machine: only the statistics differ
    assert all(torch.equal(reference[k], calibrated[k]) for k in reference.keys() - stats)
    assert not torch.equal(reference["head.0.running_mean"], calibrated["head.0.running_mean"])  # calibration moved it
    assert int(calibrated["head.0.num_batches_tracked"]) == 16
    assert json.loads((run / "rmp" / "config.json").read_text())["bn_calibration_batches"] == 16
    from seas.stage2.artifacts import load_rmp

    as_trained = load_rmp(run, statistics="training").state_dict()  # the reference statistics, kept beside
    assert all(torch.equal(as_trained[k], reference[k]) for k in stats)  # same machine: one deterministic stage 2
    assert "training_bn_statistics.safetensors" in json.loads((run / "rmp" / "sha256.json").read_text())["files"]


def test_pairs_with_other_settings_never_share_a_folder(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import seas.generate.run as gen_run
    from seas.generate.pipeline import Result

    def fast(self: object, jobs: list) -> list:  # only the folder bookkeeping is under test here
        return [Result(j, _drawn(0), np.ones((64, 64), bool), 1.0) for j in jobs]

    monkeypatch.setattr(gen_run.MaskedSampler, "run", fast)
    out = tmp_path / "out"
    argv = ["generate", "--run-dir", str(run), "--output-dir", str(out), "--defect-type", "cut", "--num-per-type"]
    assert main([*argv, "1", "--seed", "0"]) == 0
    capsys.readouterr()
    assert main([*argv, "1", "--seed", "100", "--guidance", "2"]) == 2
    err = capsys.readouterr().err
    assert "holds pairs made with other settings (--seed 0 -> 100; --guidance 8.0 -> 2.0)" in err
    config = json.loads((out / "tire" / "config.json").read_text())["config"]["GenerateConfig"]
    assert config["seed"] == 0  # the record still describes the pairs on disk
    assert main([*argv, "2", "--seed", "0", "--batch-size", "1"]) == 0  # more pairs, same pixel settings: fine
    manifest = (out / "tire" / "cut" / "manifest.jsonl").read_text().splitlines()
    assert [json.loads(line)["seed"] for line in manifest] == [0, 1]


def test_counts_overwrite_retrained_weights_and_exact_exports(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    import seas.generate.run as gen_run
    from seas.generate.pipeline import Result

    def fast(self: object, jobs: list) -> list:  # only the folder bookkeeping is under test here
        return [Result(j, _drawn(j.seed % 250), np.ones((64, 64), bool), 1.0) for j in jobs]

    monkeypatch.setattr(gen_run.MaskedSampler, "run", fast)
    out, export = tmp_path / "out", tmp_path / "anomalib"
    argv = ["generate", "--run-dir", str(run), "--output-dir", str(out), "--export-anomalib", str(export)]
    assert main([*argv, "--num-per-type", "3", "--normals", "2"]) == 0
    assert len(list((export / "tire" / "abnormal").iterdir())) == 12  # 4 types x 3
    assert len(list((export / "tire" / "normal").iterdir())) == 2  # the generated normals
    capsys.readouterr()
    # fewer pairs than the folder holds: refused, never a summary that disagrees with the files
    assert main([*argv, "--num-per-type", "2", "--defect-type", "cut"]) == 2
    err = capsys.readouterr().err
    assert f"error: {out / 'tire' / 'cut'}: holds 3 finished pairs, more than --num-per-type 2" in err
    # only cut, no generated normals this time: the export is rebuilt with exactly that
    assert main([*argv, "--num-per-type", "3", "--defect-type", "cut"]) == 0
    assert sorted(p.name for p in (export / "tire" / "abnormal").iterdir()) == [
        "cut_0000.png",
        "cut_0001.png",
        "cut_0002.png",
    ]
    normals = sorted((export / "tire" / "normal").iterdir())
    assert len(normals) == 12  # the real normal training images stage 1 used (all of the sample's)
    assert all(p.resolve().is_file() for p in normals)
    # --overwrite deletes the earlier pairs first, then the smaller count is what is on disk
    assert main([*argv, "--num-per-type", "2", "--defect-type", "cut", "--seed", "5", "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "tire").iterdir() if p.is_dir()) == ["cut"]
    assert sorted(p.name for p in (out / "tire" / "cut" / "image").iterdir()) == ["0000.png", "0001.png"]
    # retrained weights: pairs made with the old RMP are not mixed with new ones
    copy = tmp_path / "copy"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("generated"))
    argv = ["generate", "--run-dir", str(copy), "--output-dir", str(tmp_path / "o2"), "--defect-type", "cut"]
    assert main([*argv, "--num-per-type", "1"]) == 0
    shutil.rmtree(copy / "rmp")
    shutil.rmtree(copy / "stage2")  # a new stage 2 with other settings, so other weights
    assert main(["train-mask", "--run-dir", str(copy), "--max-steps", "2", "--bn-calibration-batches", "3"]) == 0
    capsys.readouterr()
    assert main([*argv, "--num-per-type", "2"]) == 2
    assert "rmp weights" in capsys.readouterr().err


def test_stage2_interrupted_then_resumed_equals_an_uninterrupted_run(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import seas.stage2.train as stage2

    argv = ["--max-steps", "4", "--checkpointing-steps", "2", "--grad-accum", "1", "--bn-calibration-batches", "2"]
    copies = []
    for name in ("whole", "stopped"):
        copy = tmp_path / name
        shutil.copytree(run, copy, ignore=shutil.ignore_patterns("rmp", "stage2", "generated", "checkpoint_ids.json"))
        copies.append(copy)
    assert main(["train-mask", "--run-dir", str(copies[0]), *argv]) == 0
    real, calls = stage2.focal_loss, []

    def stop_at_step_three(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 5:  # two focal terms per micro-batch: the third micro-batch
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stage2, "focal_loss", stop_at_step_three)
    assert main(["train-mask", "--run-dir", str(copies[1]), *argv]) == 130
    assert (copies[1] / "stage2" / "checkpoint-2").is_dir()
    assert not (copies[1] / "rmp").exists()
    monkeypatch.setattr(stage2, "focal_loss", real)
    assert main(["train-mask", "--run-dir", str(copies[1]), *argv]) == 0  # resumes from checkpoint-2
    a, b = ((c / "rmp" / "model.safetensors").read_bytes() for c in copies)
    assert a == b  # same machine: resume claim, bit-identical


def _odd_seeds_off_the_tire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make odd seeds put their mask on the backdrop's corner and even seeds on the tire."""
    import seas.generate.run as gen_run
    from seas.generate.pipeline import MaskedSampler, Result

    real_run = MaskedSampler.run

    def fake_run(self: MaskedSampler, jobs: list) -> list:
        out = []
        for r in real_run(self, jobs):
            mask = np.zeros_like(r.mask)
            if r.job.seed % 2:
                mask[0:3, 0:3] = True
            else:
                mask[30:34, 30:34] = True
            out.append(Result(r.job, r.image, mask, float(mask.mean())))
        return out

    monkeypatch.setattr(gen_run.MaskedSampler, "run", fake_run)


def test_keep_rules_redraw_failing_pairs_deterministically_and_record_every_draw(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import seas.generate.run as gen_run

    _odd_seeds_off_the_tire(monkeypatch)
    flags = "--num-per-type 4 --defect-type hole --steps 3 --mask-steps 1 --keep on_object>=0.5"
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(_generate(run, first, flags)) == 0
    manifest = [json.loads(line) for line in (first / "tire" / "hole" / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == [0, 1, 2, 3]  # the count is met by redraws
    assert all(m["scores"]["on_object"] >= 0.5 for m in manifest)
    for m in manifest:
        if m["index"] % 2:  # the first draw failed the rule: recorded with its scores, then redrawn
            (dropped,) = m["rejections"]
            assert dropped["reason"] == "--keep on_object>=0.5"
            assert dropped["scores"]["on_object"] == 0.0
            assert m["seed"] == m["index"] + gen_run.RETRY_STRIDE
        else:
            assert m["rejections"] == []
    assert main(_generate(run, second, flags)) == 0  # the same seeds, the same draws, the same scores
    again = [json.loads(line) for line in (second / "tire" / "hole" / "manifest.jsonl").read_text().splitlines()]
    assert [(m["seed"], m["scores"], m["rejections"]) for m in again] == [
        (m["seed"], m["scores"], m["rejections"]) for m in manifest
    ]
    before = (first / "tire" / "hole" / "manifest.jsonl").read_bytes()
    assert main(_generate(run, first, flags)) == 0  # a rerun finds every pair done and draws nothing
    assert (first / "tire" / "hole" / "manifest.jsonl").read_bytes() == before
    capsys.readouterr()
    assert main(_generate(run, first, flags.replace("0.5", "0.9"))) == 2  # other rules never share a folder
    assert "--keep" in capsys.readouterr().err
    impossible = "--num-per-type 1 --defect-type hole --steps 3 --mask-steps 1 --max-attempts 2 --keep on_object>=2"
    assert main(_generate(run, tmp_path / "never", impossible)) == 2  # no draw passes: one line, its rule named
    err = capsys.readouterr().err.strip()
    assert "image 0 was rejected in all 2 attempts (--keep on_object>=2)" in err
    assert len(err.splitlines()) == 1


def test_best_of_keeps_the_best_draw_by_its_score_and_records_the_others(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    _odd_seeds_off_the_tire(monkeypatch)
    # RETRY_STRIDE is odd, so attempt 1 of image n has the other parity: one draw of each pair lies on the tire
    flags = "--num-per-type 3 --defect-type hole --steps 3 --mask-steps 1 --best-of 2 --best-by on_object"
    out = tmp_path / "best"
    assert main(_generate(run, out, flags)) == 0
    manifest = [json.loads(line) for line in (out / "tire" / "hole" / "manifest.jsonl").read_text().splitlines()]
    assert [m["index"] for m in manifest] == [0, 1, 2]
    for m in manifest:
        (other,) = m["rejections"]  # the other draw, recorded with its scores
        assert other["reason"] == "--best-of 2: lower on_object"
        assert other["scores"]["on_object"] == 0.0
        assert other["seed"] % 2 == 1
        assert m["seed"] % 2 == 0
        assert m["scores"]["on_object"] > 0.5
    before = (out / "tire" / "hole" / "manifest.jsonl").read_bytes()
    assert main(_generate(run, out, flags)) == 0  # a rerun draws nothing
    assert (out / "tire" / "hole" / "manifest.jsonl").read_bytes() == before
    capsys.readouterr()
    assert main(_generate(run, out, flags.replace("--best-of 2", "--best-of 3"))) == 2  # never mixed in one folder
    assert "--best-of" in capsys.readouterr().err
    assert main(_generate(run, tmp_path / "x", flags + " --best-by components")) == 2
    err = capsys.readouterr().err.strip()
    assert "--best-by" in err
    assert "on_object" in err
    assert len(err.splitlines()) == 1


def test_user_masks_are_used_bit_for_bit_and_bad_ones_are_one_line_errors(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    masks = tmp_path / "masks"
    (masks / "hole").mkdir(parents=True)
    given = []
    for k, (y, x) in enumerate([(10, 12), (40, 30)]):
        mask = np.zeros((64, 64), np.uint8)
        mask[y : y + 5, x : x + 7] = 255
        mask[y + 2, x + 9] = 255  # a second, one-pixel region: kept as it is
        Image.fromarray(mask).save(masks / "hole" / f"{k:04d}.png")
        given.append(mask > 0)
    out = tmp_path / "out"
    flags = f"--num-per-type 3 --defect-type hole --steps 3 --mask-steps 1 --start strength --mask-source {masks}"
    assert main(_generate(run, out, flags)) == 0
    for index in range(3):
        written = np.asarray(Image.open(out / "tire" / "hole" / "mask" / f"{index:04d}.png")) > 0
        assert np.array_equal(written, given[index % 2])  # the n-th file, cycling, bit for bit
    manifest = [json.loads(line) for line in (out / "tire" / "hole" / "manifest.jsonl").read_text().splitlines()]
    assert [m["mask_from"] for m in manifest] == [
        {"mask": str(masks / "hole" / f"{index % 2:04d}.png"), "source": "user"} for index in range(3)
    ]
    bad = tmp_path / "bad"
    cases = {
        "small": (np.full((32, 32), 255, np.uint8), "is 32x32 px, the run generates at 64x64"),
        "grey": (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8), "is not binary"),
        "empty": (np.zeros((64, 64), np.uint8), "is empty"),
    }
    for name, (array, text) in cases.items():
        folder = bad / name / "hole"
        folder.mkdir(parents=True)
        Image.fromarray(array).save(folder / "0000.png")
        capsys.readouterr()
        assert main(_generate(run, tmp_path / f"out_{name}", flags.replace(str(masks), str(bad / name)))) == 2
        err = capsys.readouterr().err
        assert text in err, err
        assert str(folder / "0000.png") in err
        assert len(err.strip().splitlines()) == 1
        assert not (tmp_path / f"out_{name}" / "tire" / "hole" / "image").exists()  # refused before any pair
    (bad / "none").mkdir()
    assert main(_generate(run, tmp_path / "out_none", flags.replace(str(masks), str(bad / "none")))) == 2
    assert "holds no mask for this defect type" in capsys.readouterr().err
