"""Timing shared by the benchmarks: warm-up calls, then timed calls with device synchronisation."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable

import torch

__all__ = ["time_calls"]


def time_calls(call: Callable[[], object], warmup: int, repeats: int, device: torch.device) -> dict[str, float]:
    """Run ``call`` ``warmup`` times untimed, then ``repeats`` times timed.

    Returns:
        ``median_s``, ``mean_s``, ``min_s`` and the peak memory: ``peak_gib`` (CUDA allocator, reset after
        the warm-up) or ``process_peak_rss_gib`` (whole process, CPU).
    """
    for _ in range(warmup):
        call()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    times.sort()
    out = {"median_s": times[len(times) // 2], "mean_s": sum(times) / len(times), "min_s": times[0]}
    if device.type == "cuda":
        out["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    else:
        out["process_peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out
