"""The review's decisions, one file per pair tree: ``<out>/<product>/review.jsonl``.

Each decision is appended as a line ``{"folder", "index", "decision"}`` and flushed to disk before the
page is told it was saved, so a crash or a closed tab loses nothing; the last line of a pair wins
(``none`` takes a decision back: undo). Once the file exists, ``seas evaluate``, the exports and the
report use the *accepted* defect pairs only (a pair not yet decided is left out too) and say so.
A torn last line (a kill during the write) is ignored.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from seas.errors import ConfigError
from seas.files import append_line

__all__ = ["DECISIONS", "REVIEW_FILE", "accepted", "in_use", "read_decisions", "record_decision", "review_note"]

REVIEW_FILE = "review.jsonl"
DECISIONS = ("accept", "reject", "none")
logger = logging.getLogger(__name__)


def read_decisions(tree: Path) -> dict[tuple[str, int], str] | None:
    """``(folder, index) -> accept | reject`` of the review of ``tree`` (None: no review there)."""
    path = tree / REVIEW_FILE
    if not path.is_file():
        return None
    out: dict[tuple[str, int], str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
            key, decision = (str(row["folder"]), int(row["index"])), str(row["decision"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
        if decision == "none":
            out.pop(key, None)
        elif decision in DECISIONS:
            out[key] = decision
    return out


def record_decision(tree: Path, folder: str, index: int, decision: str) -> None:
    """Append one decision to the review file of ``tree``, on disk before returning.

    Raises:
        ConfigError: An unknown decision.
    """
    if decision not in DECISIONS:
        subject = "decision"
        raise ConfigError(subject, f"unknown {decision!r}", f"use {', '.join(DECISIONS)}")
    line = json.dumps({"folder": folder, "index": int(index), "decision": decision}, sort_keys=True)
    append_line(tree / REVIEW_FILE, line)


def in_use(decisions: dict[tuple[str, int], str] | None, folder: str, index: int) -> bool:
    """Whether later stages use pair ``index`` of ``folder`` (the review's rule, spelt here only).

    Every pair without a review; generated normal images (``good``, never reviewed) always; else the accepted.
    """
    return decisions is None or folder == "good" or decisions.get((folder, index)) == "accept"


def accepted(tree: Path, folder: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:  # Any: JSON
    """``records`` of ``tree/folder`` that later stages use (:func:`in_use`)."""
    decisions = read_decisions(tree)
    return [r for r in records if in_use(decisions, folder, int(r["index"]))]


def review_note(tree: Path, folders: list[str], counts: dict[str, int]) -> dict[str, int] | None:
    """Counts of the review of ``tree`` over ``folders`` (None without one), logged once as a warning line."""
    decisions = read_decisions(tree)
    if decisions is None:
        return None
    kept = {k: v for k, v in decisions.items() if k[0] in folders}
    note = {
        "accepted": sum(v == "accept" for v in kept.values()),
        "rejected": sum(v == "reject" for v in kept.values()),
        "pairs": sum(counts.get(f, 0) for f in folders),
    }
    logger.warning(
        "%s: using the %d accepted pairs only (%d rejected, %d not decided)",
        tree / REVIEW_FILE,
        note["accepted"],
        note["rejected"],
        note["pairs"] - note["accepted"] - note["rejected"],
    )
    return note
