"""Running means of a per-pixel value inside and outside masks, streamed image by image or batch by batch.

Two checks use it: where the defect prompt changes the picture (:mod:`seas.evaluate.prompt_effect`) and
whether the VAE keeps real defects (:class:`seas.evaluate.reconstruction.DefectFidelity`). Inputs may be
numpy arrays or torch tensors of any shape, a value array with a bool mask of the same shape.
"""

from __future__ import annotations

from typing import Any

__all__ = ["InsideOutside"]


class InsideOutside:
    """Sums and pixel counts inside and outside masks; only running totals are held, so memory stays flat."""

    def __init__(self, visible: float | None = None) -> None:
        """``visible``: also count the mask pixels whose value exceeds it (``visible_inside`` in the result)."""
        self.threshold = visible
        self.inside = self.outside = 0.0
        self.n_in = self.n_out = self.visible = 0

    def add(self, values: Any, mask: Any) -> None:  # Any: numpy array or torch tensor
        """One image or batch: ``values`` and a bool ``mask`` of the same shape."""
        self.inside += float(values[mask].sum())
        self.outside += float(values[~mask].sum())
        self.n_in += int(mask.sum())
        self.n_out += int((~mask).sum())
        if self.threshold is not None:
            self.visible += int((values[mask] > self.threshold).sum())

    def result(self) -> dict[str, float | None]:
        """``inside``, ``outside`` (means), ``ratio`` and, with a threshold, ``visible_inside`` (share of mask pixels).

        All None while either side has no pixel (no mask pixel, or masks covering everything).
        """
        keys = ["inside", "outside", "ratio"] + (["visible_inside"] if self.threshold is not None else [])
        if not self.n_in or not self.n_out:
            return dict.fromkeys(keys)
        mean_in, mean_out = self.inside / self.n_in, self.outside / self.n_out
        out: dict[str, float | None] = {"inside": mean_in, "outside": mean_out, "ratio": mean_in / max(mean_out, 1e-9)}
        if self.threshold is not None:
            out["visible_inside"] = self.visible / self.n_in
        return out
