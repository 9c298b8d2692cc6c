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
from seas.run_folder import checkpoint_ids

__all__ = ["evaluation_inputs", "is_current"]


def evaluation_inputs(run_dir: Path, tree: Path) -> dict[str, Any]:  # Any: JSON values
    """Fingerprint of the pairs under ``tree`` (= <out>/<product>) and the run's weight identities."""
    digest = hashlib.sha256()
    for manifest in sorted(tree.glob("*/manifest.jsonl")):
        digest.update(manifest.parent.name.encode() + b"\0" + manifest.read_bytes() + b"\0")
    return {"pairs": digest.hexdigest()[:16], "weights": checkpoint_ids(run_dir)}


def is_current(result_path: Path, cfg: Any, inputs: dict[str, Any]) -> bool:  # Any: an evaluation config
    """Whether ``result_path`` exists and was computed with ``cfg``'s settings from ``inputs``."""
    if not result_path.is_file():
        return False
    try:
        recorded = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return bool(recorded.get("inputs") == inputs and recorded.get("config") == config_to_dict(cfg))
