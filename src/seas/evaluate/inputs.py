"""What an evaluation result was computed from, so a rerun can tell a current result from a stale one.

Each result file records ``inputs``: the fingerprint of the generated pairs it read (the manifests
of the product's pair folders, which name every pair's seed, settings and weights) and the identities
of the generator and RMP weights. ``seas run`` recomputes a result whenever these, or the evaluation
settings, differ from the ones recorded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from seas.config import config_to_dict
from seas.review.decisions import REVIEW_FILE
from seas.run_folder import RunFolder, checkpoint_ids

__all__ = ["evaluation_inputs", "is_current", "stale_note"]


def evaluation_inputs(run_dir: Path, tree: Path) -> dict[str, Any]:  # Any: JSON values
    """Fingerprint of the pairs under ``tree`` (= <out>/<product>), the run's weight identities and held-out halves."""
    digest = hashlib.sha256()
    for manifest in sorted(tree.glob("*/manifest.jsonl")):
        digest.update(manifest.parent.name.encode() + b"\0" + manifest.read_bytes() + b"\0")
    review = tree / REVIEW_FILE  # a review changes which pairs count
    if review.is_file():
        digest.update(b"review\0" + review.read_bytes())
    out = {"pairs": digest.hexdigest()[:16], "weights": checkpoint_ids(run_dir)}
    halves = RunFolder(run_dir).halves  # which held-out images test (written by the first evaluation)
    if halves.is_file():
        out["halves"] = hashlib.sha256(halves.read_bytes()).hexdigest()[:16]
    return out


def stale_note(result: dict[str, Any], run_dir: Path, tree: Path) -> str | None:  # Any: JSON
    """Why a recorded result no longer describes the pairs under ``tree`` and the run's weights (None: current).

    A result with no recorded inputs (written before they were recorded) is reported as unverifiable.
    """
    recorded = result.get("inputs")
    if not isinstance(recorded, dict):
        return "its inputs were not recorded, so whether it measured the current pairs is unknown"
    current = evaluation_inputs(run_dir, tree)
    changed = []
    if recorded.get("pairs") != current["pairs"]:
        changed.append(f"pairs {recorded.get('pairs')} -> {current['pairs']}")
    old_weights = recorded.get("weights") or {}
    changed += [
        f"{k} weights {old_weights.get(k)} -> {v}"
        for k, v in sorted(current["weights"].items())
        if old_weights.get(k) != v
    ]
    return f"its inputs changed since it was measured ({'; '.join(changed)})" if changed else None


def is_current(result_path: Path, cfg: Any, inputs: dict[str, Any]) -> bool:  # Any: an evaluation config
    """Whether ``result_path`` exists and was computed with ``cfg``'s settings from ``inputs``."""
    if not result_path.is_file():
        return False
    try:
        recorded = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return bool(recorded.get("inputs") == inputs and recorded.get("config") == config_to_dict(cfg))
