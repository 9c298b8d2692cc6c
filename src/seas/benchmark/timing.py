"""Timing shared by the benchmarks: variants built once, warmed up, then timed interleaved.

Timing the stock variant's steps first and SeaS's after lets anything that changes during the run
(another process on a shared CPU, clock boosts, thermal limits) land on one side only: a busy
2-core machine once reported SeaS/stock = 0.037. Here the variants alternate call by call (AB, BA,
AB, ...), and the ratio is taken per neighbouring pair, so a slow spell slows both members of the
pairs it covers; the median of the pair ratios is reported with its spread.
"""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["time_interleaved"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_interleaved(
    builders: dict[str, Callable[[], Callable[[], object]]], warmup: int, repeats: int, device: torch.device
) -> dict[str, Any]:  # Any: JSON values
    """Build every variant, warm each up, then time them alternately.

    Args:
        builders: Variant name -> function returning the call to time (the first name is the baseline).
        warmup: Untimed calls per variant (optimiser state is created here).
        repeats: Timed calls per variant.
        device: Where the variants run (CUDA calls are synchronised; memory comes from the allocator).

    Returns:
        ``variants``: per name ``median_s``, ``mean_s``, ``min_s``, ``times_s`` and the memory: on CUDA
        ``peak_gib`` = what the variant keeps resident (weights, optimiser state) + the most its call
        allocates on top of everything resident; on CPU the process' peak RSS (both variants together).
        ``ratio``: each later variant over the first, per neighbouring pair: ``median``, ``q25``,
        ``q75``, ``min``, ``max``, ``pairs``.
    """
    names = list(builders)
    calls: dict[str, Callable[[], object]] = {}
    resident: dict[str, int] = {}
    for name in names:
        _sync(device)
        before = torch.cuda.memory_allocated() if device.type == "cuda" else 0
        calls[name] = builders[name]()
        for _ in range(warmup):
            calls[name]()
        _sync(device)
        resident[name] = (torch.cuda.memory_allocated() - before) if device.type == "cuda" else 0
    times: dict[str, list[float]] = {name: [] for name in names}
    extra: dict[str, int] = dict.fromkeys(names, 0)
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else names[::-1]:
            _sync(device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            start = time.perf_counter()
            calls[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
            if device.type == "cuda":
                extra[name] = max(extra[name], torch.cuda.max_memory_allocated() - base)
    variants: dict[str, Any] = {}
    for name in names:
        ts = times[name]
        row: dict[str, Any] = {
            "median_s": statistics.median(ts),
            "mean_s": statistics.fmean(ts),
            "min_s": min(ts),
            "times_s": ts,
        }
        if device.type == "cuda":
            row["peak_gib"] = (resident[name] + extra[name]) / 2**30
        else:
            row["process_peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        variants[name] = row
    ratio: dict[str, Any] = {}
    for name in names[1:]:
        pairs = [b / a for a, b in zip(times[names[0]], times[name], strict=True)]
        quartiles = {"q25": _quantile(pairs, 0.25), "q75": _quantile(pairs, 0.75)}
        ratio[name] = {
            "median": statistics.median(pairs),
            **quartiles,
            "min": min(pairs),
            "max": max(pairs),
            "pairs": len(pairs),
        }
    return {"variants": variants, "ratio": ratio}
