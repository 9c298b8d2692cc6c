"""Interleaved benchmark timing: variants alternate call by call and the ratio is taken per pair (issue 8)."""

from __future__ import annotations

import pytest
import torch

import seas.benchmark.timing as timing


def test_variants_alternate_and_ratios_come_from_neighbouring_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    order: list[str] = []
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])

    def builder(name: str, cost: list[float]) -> object:
        def build() -> object:
            def call() -> None:
                order.append(name)
                clock[0] += cost.pop(0)

            return call

        return build

    # a slow spell (x10) in rounds 2-3 hits both members of those pairs, so every pair ratio stays 2
    stock = [1.0, 1.0, 10.0, 10.0, 1.0]  # warm-up call first, then 4 timed
    seas = [2.0, 2.0, 20.0, 20.0, 2.0]
    out = timing.time_interleaved(
        {"stock": builder("stock", stock), "seas": builder("seas", seas)},  # type: ignore[dict-item]
        warmup=1,
        repeats=4,
        device=torch.device("cpu"),
    )
    assert order == ["stock", "seas", "stock", "seas", "seas", "stock", "stock", "seas", "seas", "stock"]
    assert out["variants"]["stock"]["times_s"] == [1.0, 10.0, 10.0, 1.0]
    assert out["ratio"]["seas"]["median"] == 2.0
    assert out["ratio"]["seas"]["min"] == out["ratio"]["seas"]["max"] == 2.0
    assert out["ratio"]["seas"]["pairs"] == 4
    # timed back to back (all stock, then all seas) the same spell would have given 1.0-10.0 ratios
    assert "process_peak_rss_gib" in out["variants"]["seas"]
