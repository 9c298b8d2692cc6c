"""Inline SVG charts (no JavaScript library, no CDN): loss curves and a histogram."""

from __future__ import annotations

from html import escape

__all__ = ["histogram_svg", "line_chart_svg"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def line_chart_svg(
    title: str, xs: list[float], series: dict[str, list[float]], width: int = 520, height: int = 220
) -> str:
    """One SVG with a polyline per series over ``xs``; empty input gives a short note instead."""
    if not xs or not series:
        return f"<p class='note'>{escape(title)}: no data</p>"
    pad = 36
    values = [v for s in series.values() for v in s]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    x_lo, x_hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1

    def point(x: float, y: float) -> str:
        px = pad + (x - x_lo) / (x_hi - x_lo) * (width - 2 * pad)
        py = height - pad - (y - lo) / (hi - lo) * (height - 2 * pad)
        return f"{px:.1f},{py:.1f}"

    lines, legend = [], []
    for k, (name, ys) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        lines.append(
            f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' "
            f"points='{' '.join(point(x, y) for x, y in zip(xs, ys, strict=True))}'/>"
        )
        legend.append(f"<text x='{pad + 110 * k}' y='14' fill='{colour}' font-size='11'>{escape(name)}</text>")
    axes = (
        f"<line x1='{pad}' y1='{height - pad}' x2='{width - pad}' y2='{height - pad}' stroke='#888'/>"
        f"<line x1='{pad}' y1='{pad}' x2='{pad}' y2='{height - pad}' stroke='#888'/>"
        f"<text x='2' y='{pad + 4}' font-size='10'>{hi:.3g}</text>"
        f"<text x='2' y='{height - pad}' font-size='10'>{lo:.3g}</text>"
        f"<text x='{width - pad - 30}' y='{height - 8}' font-size='10'>step {x_hi:g}</text>"
    )
    return (
        f"<figure><figcaption>{escape(title)}</figcaption><svg width='{width}' height='{height}' "
        f"role='img'>{axes}{''.join(lines)}{''.join(legend)}</svg></figure>"
    )


def histogram_svg(title: str, values: list[float], bins: int = 10, width: int = 320, height: int = 160) -> str:
    """Bar histogram of ``values`` in [0, max]."""
    if not values:
        return f"<p class='note'>{escape(title)}: no data</p>"
    if max(values) == 0:
        return f"<p>{escape(title)}: every value is 0</p>"
    top = max(values)
    counts = [0] * bins
    for v in values:
        counts[min(int(v / top * bins), bins - 1)] += 1
    bar_w, peak = (width - 20) / bins, max(counts)
    bars = "".join(
        f"<rect x='{10 + i * bar_w:.1f}' y='{height - 20 - c / peak * (height - 40):.1f}' width='{bar_w - 2:.1f}' "
        f"height='{c / peak * (height - 40):.1f}' fill='#1f77b4'><title>{c}</title></rect>"
        for i, c in enumerate(counts)
    )
    label = f"<text x='10' y='{height - 4}' font-size='10'>0 … {top:.2%} of the image</text>"
    svg = f"<svg width='{width}' height='{height}'>{bars}{label}</svg>"
    return f"<figure><figcaption>{escape(title)}</figcaption>{svg}</figure>"
