"""Where the defect prompt changes the picture: read from the generated files, against the normal twin."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.evaluate.prompt_effect import prompt_effect
from seas.evaluate.quality import format_quality


def _write(folder: Path, index: int, image: np.ndarray, mask: np.ndarray | None, seed: int) -> dict[str, object]:
    (folder / "image").mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / "image" / f"{index:04d}.png")
    record: dict[str, object] = {"index": index, "image": f"image/{index:04d}.png", "seed": seed, "reference": "r.png"}
    if mask is not None:
        (folder / "mask").mkdir(exist_ok=True)
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "mask" / f"{index:04d}.png")
        record["mask"] = f"mask/{index:04d}.png"
    return record


def _tree(tmp_path: Path, local: bool) -> Path:
    """Four pairs: the defect image equals its normal twin except a +40 patch, inside its mask (local) or not."""
    tree = tmp_path / "tire"
    good, cut = [], []
    for n in range(4):
        base = np.full((32, 32, 3), 30 + 10 * n, dtype=np.uint8)
        mask = np.zeros((32, 32), dtype=bool)
        mask[4 * n : 4 * n + 4, 8:12] = True  # every pair's mask in another place
        drawn = mask if local else np.roll(mask, 16, axis=1)
        defect = base.copy()
        defect[drawn] += 40
        good.append(_write(tree / "good", n, base, None, seed=n))
        cut.append(_write(tree / "cut", n, defect, mask, seed=n if n < 3 else 99))  # pair 3 was redrawn
    for name, rows in (("good", good), ("cut", cut)):
        (tree / name / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tree


def test_a_defect_drawn_inside_its_mask_scores_far_above_its_shuffled_baseline(tmp_path: Path) -> None:
    row = prompt_effect(_tree(tmp_path, local=True), ["cut"], seed=0)["cut"]  # type: ignore[index]
    assert row["pairs"] == 3
    assert row["skipped"] == 1  # its seed differs from the normal twin's: not comparable
    assert row["generated"]["inside"] == pytest.approx(40.0)
    assert row["generated"]["outside"] == 0.0
    assert row["generated"]["visible_inside"] == 1.0
    assert row["shuffled_masks"]["inside"] == 0.0  # other pairs' masks cover no change here
    assert row["generated"]["ratio"] > 1e6
    effect = prompt_effect(_tree(tmp_path, local=True), ["cut"], seed=0)
    assert "| cut | 3 | 40.00 / 0.00 |" in format_quality(_results(effect))


def test_pairs_with_a_placed_mask_are_left_out(tmp_path: Path) -> None:
    tree = _tree(tmp_path, local=True)
    manifest = tree / "cut" / "manifest.jsonl"
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    rows[0]["mask_from"] = {"mask": "m.png", "turns": 0, "flip": 0}  # the photo outside the mask: no twin to compare
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    row = prompt_effect(tree, ["cut"], seed=0)["cut"]  # type: ignore[index]
    assert (row["pairs"], row["skipped"], row["placed_masks"]) == (2, 2, 1)
    for r in rows:
        r["mask_from"] = {"mask": "m.png", "turns": 0, "flip": 0}
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = format_quality(_results(prompt_effect(tree, ["cut"], seed=0)))
    assert "not measured this way: the pairs have placed masks (--mask-source train)" in text
    assert "Placed masks" not in text  # that table needs the redraw (seas.evaluate.placed_effect)
    placed = {
        "cut": {
            "pairs": 3,
            "own": 47.94,
            "normal": 47.1,
            "own_vs_normal": 1.2,
            "own_visible": 0.7914,
            "normal_visible": 0.5,
        }
    }
    text = format_quality({**_results(None), "placed_effect": placed})
    assert "| cut | 3 | 47.9 | 47.1 | 1.2 | 79.14 / 50.00 % |" in text
    assert "--normals" not in text  # placed pairs need no normal twins: the table above measures them


def test_a_change_outside_the_mask_scores_below_one(tmp_path: Path) -> None:
    row = prompt_effect(_tree(tmp_path, local=False), ["cut"], seed=0)["cut"]  # type: ignore[index]
    assert row["generated"]["inside"] == 0.0
    assert row["generated"]["ratio"] == 0.0
    assert row["generated"]["visible_inside"] == 0.0


def test_without_normal_images_it_is_not_measured_and_says_how(tmp_path: Path) -> None:
    assert prompt_effect(tmp_path / "tire", ["cut"], seed=0) is None
    assert "generate normal images with --normals" in format_quality(_results(None))


def _results(effect: object) -> dict[str, object]:
    return {
        "reconstruction": {k: {"psnr_db": 30.0, "ssim": 0.9, "detail": 0.5} for k in ("vae", "mean_image")},
        "mask_agreement": {},
        "rmp_segmentation": {"timesteps": [40], "per_type": {}, "pooled": {}},
        "prompt_effect": effect,
    }
