from __future__ import annotations

import numpy as np
import pytest

from seas.evaluate.segmentation import auroc


def test_auroc_hand_computed_with_ties() -> None:
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == pytest.approx(0.75)
    assert auroc(np.array([1.0, 1.0, 1.0]), np.array([0, 1, 0])) == pytest.approx(0.5)
    assert auroc(np.array([3.0, 2.0, 1.0]), np.array([1, 0, 0])) == 1.0


def test_auroc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(0)
    s, y = rng.integers(0, 5, 200).astype(float), rng.random(200) < 0.3
    pos, neg = s[y], s[~y]
    pairwise = ((pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()) / (len(pos) * len(neg))
    assert auroc(s, y) == pytest.approx(pairwise)


def test_auroc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        auroc(np.ones(3), np.zeros(3))
