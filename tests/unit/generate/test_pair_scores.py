"""Pair scores on planted good and bad pairs, and the --keep rules read from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seas.config import GenerateConfig
from seas.errors import ConfigError
from seas.generate.keep_rules import best_draw, check_keep_rules, failed_rule
from seas.generate.pair_scores import PairScorer


def _scene(rng: np.random.Generator) -> np.ndarray:
    image = rng.normal(20, 3, (64, 64, 3))
    image[16:48, 16:48] = rng.normal(110, 25, (32, 32, 3))  # the product, textured differently in every photo
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def scorer(tmp_path: Path) -> PairScorer:
    rng = np.random.default_rng(0)
    references = []
    for k in range(8):
        references.append(tmp_path / f"good_{k}.png")
        Image.fromarray(_scene(rng)).save(references[-1])
    mask = np.zeros((64, 64), np.uint8)
    mask[30:34, 30:34] = 255  # a 16-pixel training defect on the product
    Image.fromarray(mask).save(tmp_path / "crack_mask.png")
    return PairScorer(64, references, {"crack": [tmp_path / "crack_mask.png"]})


def test_a_good_pair_changes_inside_its_on_object_mask_only(scorer: PairScorer) -> None:
    start = scorer.start(scorer.references[0])
    mask = np.zeros((64, 64), bool)
    mask[24:28, 36:40] = True  # 16 pixels on the product
    image = start.copy()
    image[mask] = 255
    scores = scorer(image, mask, scorer.references[0], ["crack"])
    assert scores["mask_fraction"] == 16 / 64**2
    assert scores["area_ratio"] == pytest.approx(1.0)  # a training defect's size
    assert scores["on_object"] == 1.0
    assert scores["components"] == 1
    assert scores["change_outside"] == 0.0
    assert scores["change_inside"] > 100
    assert scores["change_ratio"] == pytest.approx(scores["change_inside"] + 1)


def test_a_bad_pair_is_off_the_object_too_large_and_changes_elsewhere(scorer: PairScorer) -> None:
    start = scorer.start(scorer.references[1])
    mask = np.zeros((64, 64), bool)
    mask[0:10, 0:10] = True  # 100 backdrop pixels
    mask[60:62, 60:62] = True  # a second region
    image = start.copy()
    image[40:60, 20:40] = 0  # the change is elsewhere
    scores = scorer(image, mask, scorer.references[1], ["crack"])
    assert scores["on_object"] == 0.0
    assert scores["area_ratio"] == pytest.approx(104 / 16)
    assert scores["components"] == 2
    assert scores["change_inside"] == 0.0
    assert scores["change_ratio"] < 1
    empty = scorer(start, np.zeros((64, 64), bool), scorer.references[1], ["crack"])
    assert empty["mask_fraction"] == 0.0
    assert empty["on_object"] == 0.0
    assert set(scorer(start, None, scorer.references[1], [])) == {"change_outside"}  # a normal image


def test_keep_rules_pass_fail_and_refuse_what_they_cannot_read() -> None:
    scores = {"on_object": 0.95, "change_ratio": 1.2, "area_ratio": 4.0}
    assert failed_rule(scores, ("on_object>=0.9", "change_ratio >= 1.0")) is None
    assert failed_rule(scores, ("on_object>=0.9", "area_ratio<=3")) == "area_ratio<=3"
    assert failed_rule({"change_outside": 2.0}, ("on_object>=0.9",)) is None  # a normal image has no mask scores
    for bad, text in (
        ("on_object>0.9", "cannot read"),
        ("size>=1", "cannot read"),
        ("on_object>=1.2.3", "not a number"),
    ):
        with pytest.raises(ConfigError, match=text) as caught:
            check_keep_rules((bad,))
        assert str(caught.value).startswith("--keep")
        assert "\n" not in str(caught.value)


def test_best_draw_ranks_each_score_by_its_better_end_and_ties_go_to_the_earliest() -> None:
    draws = [
        (0, {"area_ratio": 3.0, "change_outside": 0.5, "change_ratio": 2.0}),
        (1, {"area_ratio": 0.8, "change_outside": 0.1, "change_ratio": 9.0}),
        (2, {"area_ratio": 1.5, "change_outside": 0.1, "change_ratio": 1.0}),
    ]
    assert best_draw(draws, "change_ratio") == 1  # higher is better
    assert best_draw(draws, "change_outside") == 1  # lower is better; 1 and 2 tie, the earlier wins
    assert best_draw(draws, "area_ratio") == 1  # nearest the training median: 0.8 beats 1.5 (log distance)
    assert best_draw([(0, {}), (1, {"on_object": 0.2})], "on_object") == 1  # a draw without the score ranks last
    with pytest.raises(ConfigError, match="--best-by"):
        GenerateConfig(run_dir=Path("r"), best_by="components")
    with pytest.raises(ConfigError, match="--max-attempts"):
        GenerateConfig(run_dir=Path("r"), best_of=11)
