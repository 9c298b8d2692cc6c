"""Segmentation metrics (method spec 2.11). Currently: AUROC, used for pixel and image scores."""

from __future__ import annotations

import numpy as np

__all__ = ["auroc"]


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve, with tied scores counted as half (the Mann-Whitney U statistic).

    Args:
        scores: Any shape, higher = more anomalous.
        labels: Same shape, bool or 0/1.

    Returns:
        AUROC in [0, 1].

    Raises:
        ValueError: Only one class present.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        msg = f"AUROC needs both classes, got {n_pos} positive and {n_neg} negative"
        raise ValueError(msg)
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty_like(s)
    # average ranks (1-based) over runs of equal scores
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(s)]])
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))
