"""Segmentation metrics (docs/method.md §2.11): AUROC, AP, F1-max, AUPRO@0.3, IoU (oracle and at F1-max).

Plain numpy functions over score maps and boolean masks. Deliberate differences from other code:
AP is the step-wise sum (as scikit-learn), never trapezoidal; AUPRO is divided by the FPR limit
(0.3), not by the curve's last FPR (anomalib up to 2.2.x), so it never exceeds 1; IoU exists only
in two labelled forms: ``iou_oracle`` (the authors' per-image best threshold) and ``iou_at_f1``
(one threshold per class, the pixel F1-max threshold, pooled).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "METRICS",
    "VARIANTS",
    "aupro",
    "auroc",
    "average_precision",
    "f1_max",
    "iou_at_threshold",
    "iou_oracle",
    "segmentation_metrics",
]

# The training sets of seas evaluate segmentation, in the order every table shows them.
VARIANTS = {
    "real": "real only",
    "perlin-textbook": "real + Perlin, textbook (DRAEM: anywhere, large)",
    "cutpaste-textbook": "real + CutPaste, textbook (anywhere, large)",
    "perlin": "real + Perlin on the object, defect-sized",
    "cutpaste": "real + CutPaste on the object, defect-sized",
    "paste": "real + training defects pasted (no model)",
    "seas": "real + SeaS pairs",
}

# The metrics of segmentation_metrics, in the order every table shows them.
METRICS = (
    "image_auroc",
    "image_ap",
    "image_f1max",
    "pixel_auroc",
    "pixel_ap",
    "pixel_f1max",
    "aupro_0.3",
    "iou_oracle",
    "iou_at_f1",
)


def _flat(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(scores, dtype=np.float64).ravel(), np.asarray(labels).ravel().astype(bool)


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve, tied scores counted as half (Mann-Whitney U).

    Raises:
        ValueError: Only one class present.
    """
    s, y = _flat(scores, labels)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        msg = f"AUROC needs both classes, got {n_pos} positive and {n_neg} negative"
        raise ValueError(msg)
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(s)]])
    ranks = np.empty_like(s)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)  # average 1-based ranks of ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _pr_points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, false positives, threshold) at every distinct score, highest threshold first."""
    s, y = _flat(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.concatenate([np.flatnonzero(np.diff(s)), [len(s) - 1]])  # last index of each run of equal scores
    tp = np.cumsum(y)[last]
    fp = np.cumsum(~y)[last]
    return tp.astype(np.float64), fp.astype(np.float64), s[last]


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Step-wise average precision ``Σ (R_n − R_{n−1}) P_n`` (no interpolation)."""
    tp, fp, _ = _pr_points(scores, labels)
    if tp[-1] == 0:
        msg = "average precision needs at least one positive"
        raise ValueError(msg)
    precision, recall = tp / (tp + fp), tp / tp[-1]
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def f1_max(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Best F1 over all thresholds (predict defect where score ≥ threshold), and that threshold."""
    tp, fp, thresholds = _pr_points(scores, labels)
    precision, recall = tp / (tp + fp), tp / max(tp[-1], 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = 2 * precision * recall / (precision + recall)
    f1 = np.where(np.isfinite(f1), f1, 0.0)
    best = int(np.argmax(f1))
    return float(f1[best]), float(thresholds[best])


def _components(mask: np.ndarray) -> np.ndarray:
    """8-connected component labels of a boolean ``[H, W]`` mask (0 = background)."""
    labels = np.zeros(mask.shape, dtype=np.int64)
    current = 0
    height, width = mask.shape
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if labels[y0, x0]:
            continue
        current += 1
        stack = [(y0, x0)]
        labels[y0, x0] = current
        while stack:
            y, x = stack.pop()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not labels[ny, nx]:
                        labels[ny, nx] = current
                        stack.append((ny, nx))
    return labels


def aupro(score_maps: np.ndarray, masks: np.ndarray, fpr_limit: float = 0.3) -> float:
    """Normalised area under the per-region-overlap curve up to ``fpr_limit`` (MVTec definition).

    Args:
        score_maps: ``[N, H, W]`` anomaly scores.
        masks: ``[N, H, W]`` bool ground truth.
        fpr_limit: Upper FPR bound of the integral; the area is divided by it.

    Returns:
        AUPRO in [0, 1].
    """
    scores = np.asarray(score_maps, dtype=np.float64)
    masks = np.asarray(masks).astype(bool)
    weights = np.zeros(scores.shape, dtype=np.float64)
    sizes: list[float] = []
    for i in range(len(masks)):
        labels = _components(masks[i])
        for c in range(1, int(labels.max()) + 1):
            region = labels == c
            sizes.append(float(region.sum()))
            weights[i][region] = 1.0 / region.sum()
    if not sizes or masks.all():
        msg = "AUPRO needs at least one defect region and one defect-free pixel"
        raise ValueError(msg)
    s, w, neg = scores.ravel(), weights.ravel() / len(sizes), ~masks.ravel()
    order = np.argsort(-s, kind="mergesort")
    s, w, neg = s[order], w[order], neg[order]
    last = np.concatenate([np.flatnonzero(np.diff(s)), [len(s) - 1]])
    fpr = np.concatenate([[0.0], np.cumsum(neg)[last] / neg.sum()])
    pro = np.concatenate([[0.0], np.cumsum(w)[last]])
    keep = fpr <= fpr_limit
    x, y = fpr[keep], pro[keep]
    if x[-1] < fpr_limit:  # interpolate the curve at the limit
        j = int(np.searchsorted(fpr, fpr_limit))
        t = (fpr_limit - fpr[j - 1]) / (fpr[j] - fpr[j - 1])
        x, y = np.append(x, fpr_limit), np.append(y, pro[j - 1] + t * (pro[j] - pro[j - 1]))
    area = np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)  # trapezoid rule
    return float(area / fpr_limit)


def iou_oracle(score_maps: np.ndarray, masks: np.ndarray) -> float:
    """Mean over anomalous images of the best IoU any threshold reaches on that image (the authors' IoU)."""
    best = []
    for scores, mask in zip(np.asarray(score_maps), np.asarray(masks).astype(bool), strict=True):
        if not mask.any():
            continue
        tp, fp, _ = _pr_points(scores, mask)
        best.append(float(np.max(tp / (mask.sum() + fp))))  # TP + FP + FN = P + FP
    if not best:
        msg = "iou_oracle needs at least one image with a defect"
        raise ValueError(msg)
    return float(np.mean(best))


def iou_at_threshold(score_maps: np.ndarray, masks: np.ndarray, threshold: float) -> float:
    """Defect-class IoU pooled over all pixels, predicting defect where score ≥ ``threshold``."""
    pred = np.asarray(score_maps) >= threshold
    truth = np.asarray(masks).astype(bool)
    union = np.logical_or(pred, truth).sum()
    return float(np.logical_and(pred, truth).sum() / union) if union else 0.0


def segmentation_metrics(score_maps: np.ndarray, masks: np.ndarray) -> dict[str, Any]:  # Any: floats
    """Every metric of docs/method.md §2.11 for one class: image level (max score) and pixel level.

    Args:
        score_maps: ``[N, H, W]`` defect probabilities.
        masks: ``[N, H, W]`` bool ground truth (all False for defect-free test images).
    """
    masks = np.asarray(masks).astype(bool)
    image_scores = np.asarray(score_maps).reshape(len(score_maps), -1).max(axis=1)
    image_labels: np.ndarray = np.asarray(masks.reshape(len(masks), -1).any(axis=1), dtype=bool)
    pixel_f1, tau = f1_max(score_maps, masks)
    out = {
        "image_auroc": auroc(image_scores, image_labels),
        "image_ap": average_precision(image_scores, image_labels),
        "image_f1max": f1_max(image_scores, image_labels)[0],
        "pixel_auroc": auroc(score_maps, masks),
        "pixel_ap": average_precision(score_maps, masks),
        "pixel_f1max": pixel_f1,
        "pixel_f1_threshold": tau,
        "aupro_0.3": aupro(score_maps, masks),
        "iou_oracle": iou_oracle(score_maps, masks),
        "iou_at_f1": iou_at_threshold(score_maps, masks, tau),
    }
    return out
