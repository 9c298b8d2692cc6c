"""Segmenters already trained and scored by an interrupted ``seas evaluate segmentation``, kept for its rerun.

Each finished segmenter appends one line to ``RUN/evaluation/segmenters.jsonl``: a key over
everything its scores depend on (the evaluation settings except the number of seeds, the pairs and
weights fingerprint, the training set, the seed, the device type and the recipe) and its scores per
defect type. A rerun with the same key takes the scores instead of training again, so a killed
evaluation of many seeds resumes where it stopped and asking for more seeds trains only the new ones.
A torn last line (a kill during the write) is ignored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from seas.files import append_line

__all__ = ["FinishedSegmenters"]


class FinishedSegmenters:
    """The scores file of one run's evaluation folder."""

    def __init__(self, path: Path, common: dict[str, Any]) -> None:  # Any: JSON values
        self.path = path
        self._common = common
        self._scores: dict[str, Any] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    self._scores[record["key"]] = record["per_type"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue

    def key(self, variant: str, run: int) -> str:
        """The key of run ``run`` (seed offset) of ``variant`` under the common settings."""
        text = json.dumps({**self._common, "variant": variant, "run": run}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def get(self, variant: str, run: int) -> dict[str, Any] | None:
        """The recorded per-type scores of that segmenter, or None."""
        return self._scores.get(self.key(variant, run))

    def add(self, variant: str, run: int, per_type: dict[str, Any]) -> None:
        """Record a finished segmenter's scores (appended and flushed to disk before returning)."""
        key = self.key(variant, run)
        self._scores[key] = per_type
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"key": key, "variant": variant, "run": run, "per_type": per_type}, sort_keys=True)
        append_line(self.path, line)
