"""Metrics against scikit-learn (AUROC, AP) and slow brute-force references (F1-max, AUPRO, IoU)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from seas.evaluate.segmentation import (
    aupro,
    auroc,
    average_precision,
    f1_max,
    iou_at_threshold,
    iou_oracle,
    segmentation_metrics,
)


@pytest.mark.parametrize("seed", range(5))
def test_auroc_and_ap_match_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 20, 500).astype(float) / 7  # many ties
    labels = rng.random(500) < 0.2
    assert abs(auroc(scores, labels) - roc_auc_score(labels, scores)) < 1e-9
    assert abs(average_precision(scores, labels) - average_precision_score(labels, scores)) < 1e-9


def test_constant_scores() -> None:
    labels = np.array([0, 1, 0, 1, 1])
    assert auroc(np.ones(5), labels) == 0.5
    assert average_precision(np.ones(5), labels) == pytest.approx(0.6)
    assert f1_max(np.ones(5), labels) == (pytest.approx(2 * 0.6 / 1.6), 1.0)


def _f1_brute(scores: np.ndarray, labels: np.ndarray) -> float:
    best = 0.0
    for t in np.unique(scores):
        pred = scores >= t
        tp, fp, fn = (pred & labels).sum(), (pred & ~labels).sum(), (~pred & labels).sum()
        if tp:
            best = max(best, 2 * tp / (2 * tp + fp + fn))
    return best


@pytest.mark.parametrize("seed", range(5))
def test_f1_max_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores, labels = rng.integers(0, 10, 300).astype(float), rng.random(300) < 0.3
    f1, tau = f1_max(scores, labels)
    assert f1 == pytest.approx(_f1_brute(scores, labels))
    pred = scores >= tau
    assert 2 * (pred & labels).sum() / (pred.sum() + labels.sum()) == pytest.approx(f1)


def _components_brute(mask: np.ndarray) -> list[set[tuple[int, int]]]:
    seen, comps = set(), []
    for start in zip(*np.nonzero(mask), strict=True):
        if start in seen:
            continue
        comp, todo = set(), [start]
        while todo:
            p = todo.pop()
            if p in comp:
                continue
            comp.add(p)
            y, x = p
            todo += [
                (y + a, x + b)
                for a in (-1, 0, 1)
                for b in (-1, 0, 1)
                if 0 <= y + a < mask.shape[0] and 0 <= x + b < mask.shape[1] and mask[y + a, x + b]
            ]
        seen |= comp
        comps.append(comp)
    return comps


def _aupro_brute(scores: np.ndarray, masks: np.ndarray, limit: float) -> float:
    comps = [(i, c) for i in range(len(masks)) for c in _components_brute(masks[i])]
    neg = ~masks
    points = [(0.0, 0.0)]
    for t in sorted(np.unique(scores), reverse=True):
        pred = scores >= t
        fpr = (pred & neg).sum() / neg.sum()
        pro = np.mean([np.mean([pred[i][p] for p in c]) for i, c in comps])
        points.append((fpr, pro))
    xs, ys = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    grid = np.linspace(0, limit, 20001)
    return float(np.trapezoid(np.interp(grid, xs, ys), grid) / limit)


@pytest.mark.parametrize("seed", range(3))
def test_aupro_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    masks = np.zeros((3, 12, 12), dtype=bool)
    masks[0, 2:5, 2:5] = True
    masks[0, 8:10, 8:11] = True  # a second region in the same image
    masks[1, 5, 5] = masks[1, 6, 6] = True  # diagonal neighbours: one region under 8-connectivity
    scores = rng.integers(0, 15, masks.shape).astype(float) + 6 * masks
    value = aupro(scores, masks)
    assert 0 <= value <= 1
    assert value == pytest.approx(_aupro_brute(scores, masks, 0.3), abs=2e-4)
    perfect = aupro(masks.astype(float), masks)
    assert perfect == pytest.approx(1.0)


def test_iou_oracle_and_at_threshold_brute_force() -> None:
    rng = np.random.default_rng(0)
    masks = np.zeros((3, 8, 8), dtype=bool)
    masks[0, 1:4, 1:4] = True
    masks[1, 5:8, 0:2] = True  # image 2 has no defect: ignored by the oracle IoU
    scores = rng.random(masks.shape) + masks
    expected = []
    for s, m in zip(scores[:2], masks[:2], strict=True):
        expected.append(max(((s >= t) & m).sum() / ((s >= t) | m).sum() for t in np.unique(s)))
    assert iou_oracle(scores, masks) == pytest.approx(np.mean(expected))
    t = 0.9
    assert iou_at_threshold(scores, masks, t) == pytest.approx(
        ((scores >= t) & masks).sum() / ((scores >= t) | masks).sum()
    )


def test_full_report_on_a_perfect_and_a_useless_segmenter() -> None:
    masks = np.zeros((4, 16, 16), dtype=bool)
    masks[0, 3:7, 3:7] = True
    masks[1, 9:12, 2:6] = True
    perfect = segmentation_metrics(masks.astype(float), masks)
    assert all(perfect[k] == pytest.approx(1.0) for k in perfect if k != "pixel_f1_threshold")
    flat = segmentation_metrics(np.zeros(masks.shape), masks)
    assert flat["pixel_auroc"] == 0.5
    assert flat["image_auroc"] == 0.5
