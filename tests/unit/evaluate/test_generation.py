"""Generation metrics with small stand-in feature networks (no weights, no downloads)."""

from __future__ import annotations

import math

import pytest
import torch

from seas.errors import ModelLoadError
from seas.evaluate.generation import ic_lpips, inception_score, load_inception, load_lpips


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().flatten(1).mean(dim=1)  # stand-in for LPIPS: one distance per pair


def _constant(value: float) -> torch.Tensor:
    return torch.full((1, 3, 4, 4), value)


def test_ic_lpips_clusters_by_nearest_real_and_averages_all_clusters() -> None:
    reals = torch.cat([_constant(-1.0), _constant(1.0), _constant(0.0)])
    generated = torch.cat([_constant(-0.9), _constant(-0.7), _constant(0.8), _constant(0.95), _constant(0.6)])
    out = ic_lpips(generated, reals, _l1)
    assert out["cluster_sizes"] == [2, 3, 0]
    first = 0.2  # |-0.9 - -0.7|, ordered pairs average to the same value
    second = (0.15 + 0.2 + 0.35) * 2 / 6
    assert out["ic_lpips"] == pytest.approx((first + second + 0.0) / 3)  # the empty cluster counts as 0
    assert out["ic_lpips_nonzero_clusters"] == pytest.approx((first + second) / 2)


def test_ic_lpips_cap_drops_late_images_and_seed_changes_order() -> None:
    reals = _constant(0.0)
    generated = torch.cat([_constant(v) for v in (0.1, 0.2, 0.3, 0.4)])
    capped = ic_lpips(generated, reals, _l1, cap=2)
    assert capped["cluster_sizes"] == [2]
    assert capped["dropped"] == 2
    assert capped["ic_lpips"] == pytest.approx(0.1)  # only the first two (file order) joined
    seeded = ic_lpips(generated, reals, _l1, cap=2, seed=3)
    assert seeded["seed"] == 3


def test_inception_score_extremes() -> None:
    uniform = lambda x: torch.full((len(x), 5), 0.2)  # noqa: E731
    assert inception_score(torch.zeros(20, 3, 2, 2), uniform, splits=2)["is_mean"] == pytest.approx(1.0)

    def confident(x: torch.Tensor) -> torch.Tensor:
        return torch.eye(4)[torch.arange(len(x)) % 4]  # each image certain, classes balanced

    score = inception_score(torch.zeros(40, 3, 2, 2), confident, splits=10)
    assert score["is_mean"] == pytest.approx(4.0, rel=1e-6)
    assert score["is_std"] == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(score["is_mean"])


def test_missing_metric_networks_fail_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelLoadError) as exc:
        load_lpips("alex")
    assert "\n" not in str(exc.value)
    assert "IC-LPIPS" in str(exc.value) or "weights" in str(exc.value)
    monkeypatch.delenv("SEAS_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(ModelLoadError) as exc:
        load_inception()
    assert "\n" not in str(exc.value)
