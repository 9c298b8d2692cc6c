"""Paired comparison of two training sets over the same segmenter seeds (scipy's paired t-test).

Run ``r`` of every training set is trained with segmenter seed ``seed + r`` (initialisation and data
order), so run ``r`` of one set and run ``r`` of another form a pair; the test asks whether the mean
of the per-seed differences is zero (two-sided, ``n - 1`` degrees of freedom).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from seas.evaluate.segmentation import VARIANTS

__all__ = ["PAIRED_METRICS", "REFERENCES", "TEST_NAME", "format_paired", "paired_tests", "paired_ttest"]

TEST_NAME = "paired t-test over segmenter seeds, two-sided"
# The training sets every other set is compared with, and the metrics the comparison table shows.
REFERENCES = ("real", "paste")
PAIRED_METRICS = ("image_auroc", "pixel_ap", "aupro_0.3")


def paired_ttest(values: list[float], reference: list[float]) -> dict[str, float | int | None]:
    """Mean difference ``values - reference``, its t statistic and two-sided p (None when undefined).

    p is undefined with fewer than two pairs or when every difference is the same (to 1e-9: the metrics
    lie in [0, 1], so smaller spreads are rounding).
    """
    diffs = np.asarray(values, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    out: dict[str, float | int | None] = {"n": len(diffs), "diff": float(diffs.mean()), "t": None, "p": None}
    if len(diffs) >= 2 and float(np.ptp(diffs)) > 1e-9:
        result = stats.ttest_rel(values, reference)
        if math.isfinite(result.pvalue):
            out["t"], out["p"] = float(result.statistic), float(result.pvalue)
    return out


def paired_tests(variants: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:  # Any: JSON results
    """``{variant: {reference: {metric: paired_ttest}}}`` for every variant with per-seed ``runs``."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for reference in REFERENCES:
        base = variants.get(reference, {}).get("runs")
        if not base:
            continue
        for name, result in variants.items():
            runs = result.get("runs")
            if name == reference or not runs or len(runs) != len(base):
                continue
            out.setdefault(name, {})[reference] = {
                k: paired_ttest([r[k] for r in runs], [r[k] for r in base]) for k in PAIRED_METRICS
            }
    return out


def _p_cell(test: dict[str, Any] | None) -> str:
    if not test:
        return "–"
    p = test.get("p")
    return f"{100 * test['diff']:+.2f} (p {p:.3f})" if p is not None else f"{100 * test['diff']:+.2f} (p –)"


def format_paired(results: dict[str, Any]) -> list[str]:  # Any: JSON results
    """Markdown lines: each set's paired difference (points) and p against real only and the paste; [] without."""
    names = VARIANTS
    paired = results.get("paired", {}).get("results", {})
    references = [r for r in REFERENCES if any(r in v for v in paired.values())]
    if not references:
        return []
    columns = [(r, k) for r in references for k in PAIRED_METRICS]
    lines = [
        f"Difference in points and p ({results['paired']['test']}):",
        "",
        "| training set | " + " | ".join(f"{k} vs {names.get(r, r)}" for r, k in columns) + " |",
        "|" + "---|" * (len(columns) + 1),
    ]
    known = [v for v in names if v in paired]
    for variant in known + sorted(set(paired) - set(known)):
        cells = " | ".join(_p_cell(paired[variant].get(r, {}).get(k)) for r, k in columns)
        lines.append(f"| {names.get(variant, variant)} | {cells} |")
    return lines
