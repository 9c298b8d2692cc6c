"""Generation metrics with small stand-in feature networks (no weights, no downloads)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
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
    first_two = [float(v) for v in generated[np.random.default_rng(3).permutation(4)[:2], 0, 0, 0]]
    assert first_two != [0.1, 0.2]  # this seed really reorders, so another pair joins the cluster
    assert seeded["ic_lpips"] == pytest.approx(abs(first_two[0] - first_two[1]))


def _old_ic_lpips_cluster(generated: torch.Tensor, members: list[int]) -> float:
    """The definition before streaming: every ordered pair in one call."""
    a = [i for i in members for j in members if i != j]
    b = [j for i in members for j in members if i != j]
    return float(_l1(generated[a], generated[b]).sum()) / (len(members) * (len(members) - 1))


def test_ic_lpips_streams_fixed_size_batches_with_the_same_result() -> None:
    g = torch.Generator().manual_seed(0)
    reals, generated = torch.rand(3, 3, 8, 8, generator=g) * 2 - 1, torch.rand(23, 3, 8, 8, generator=g) * 2 - 1
    seen: list[int] = []

    def counting(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        seen.append(len(a))
        return _l1(a, b)

    out = ic_lpips(generated, reals, counting, batch_size=5)
    assert max(seen) == 5
    assert sum(out["cluster_sizes"]) == 23
    members: list[list[int]] = []
    nearest = [int(torch.argmin(_l1(x[None].expand(3, -1, -1, -1), reals))) for x in generated]
    for k in range(3):
        members.append([i for i in range(23) if nearest[i] == k])
    expected = [(_old_ic_lpips_cluster(generated, m) if len(m) > 1 else 0.0) for m in members]
    assert out["ic_lpips"] == pytest.approx(sum(expected) / 3, rel=1e-6)
    assert out == ic_lpips(generated, reals, _l1, batch_size=10_000) | {
        "ic_lpips": pytest.approx(out["ic_lpips"]),
        "ic_lpips_nonzero_clusters": pytest.approx(out["ic_lpips_nonzero_clusters"]),
    }


def test_inception_score_batches_the_classifier() -> None:
    probs = torch.softmax(torch.randn(50, 7, generator=torch.Generator().manual_seed(1)), dim=1)
    calls: list[int] = []

    def classify(x: torch.Tensor) -> torch.Tensor:
        calls.append(len(x))
        return probs[x[:, 0, 0, 0].long()]

    images = torch.arange(50.0)[:, None, None, None].expand(-1, 3, 2, 2)
    batched = inception_score(images, classify, splits=5, batch_size=16)
    assert calls == [16, 16, 16, 2]
    assert batched == inception_score(images, classify, splits=5, batch_size=50)


def test_inception_score_extremes() -> None:
    uniform = lambda x: torch.full((len(x), 5), 0.2)  # noqa: E731
    assert inception_score(torch.zeros(20, 3, 2, 2), uniform, splits=2)["is_mean"] == pytest.approx(1.0)

    def confident(x: torch.Tensor) -> torch.Tensor:
        return torch.eye(4)[torch.arange(len(x)) % 4]  # each image certain, classes balanced

    score = inception_score(torch.zeros(40, 3, 2, 2), confident, splits=10)
    assert score["is_mean"] == pytest.approx(4.0, rel=1e-6)
    assert score["is_std"] == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(score["is_mean"])


def test_missing_metric_networks_fail_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Holds whether the optional packages are installed or not: each case is made missing here."""
    import importlib.util

    # weights missing (an empty TORCH_HOME / a file that does not exist), packages as installed
    if all(importlib.util.find_spec(m) is not None for m in ("lpips", "torchvision")):
        with pytest.raises(ModelLoadError, match="LPIPS alex backbone weights not found"):
            load_lpips("alex", torch_home=tmp_path)
    if importlib.util.find_spec("torch_fidelity") is not None:
        with pytest.raises(ModelLoadError, match="Inception-v3 weights file not found"):
            load_inception(tmp_path / "missing.pth")
    # packages missing
    real = importlib.util.find_spec
    hidden = {"lpips", "torchvision", "torch_fidelity"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in hidden else real(name, *a))
    with pytest.raises(ModelLoadError) as exc:
        load_lpips("alex", torch_home=tmp_path)
    assert str(exc.value) == (
        "IC-LPIPS: needs the optional package(s) lpips, torchvision; pip install lpips "
        "torchvision (matching your torch build) to compute it"
    )
    monkeypatch.delenv("SEAS_INCEPTION_WEIGHTS", raising=False)
    with pytest.raises(ModelLoadError) as exc:
        load_inception()
    assert "\n" not in str(exc.value)
    assert "torch-fidelity" in str(exc.value)
