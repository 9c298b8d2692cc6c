"""Reading back the small records the tool writes (JSON, JSONL): one reader, one line for a damaged file.

Weights are covered by their sha256 records (:mod:`seas.integrity`); everything else the tool reads
back (run and stage records, token maps, checkpoint states, pair records, manifests, evaluation
results, ownership marks) goes through :func:`read_json` or :func:`read_jsonl`. A file that cannot be
decoded, is cut off, or lacks what the caller needs raises :class:`RecordError`: the file, what is
wrong, and the caller's way out (usually: delete it, or the checkpoint or folder it belongs to, and
rerun the stage that writes it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from seas.errors import SeasError

__all__ = ["RecordError", "read_json", "read_jsonl"]

T = TypeVar("T")
# What a caller's ``parse`` raises when a decodable record lacks a key or holds a wrong type.
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class RecordError(SeasError, ValueError):
    """A record the tool wrote earlier is missing, damaged or truncated."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        super().__init__(f"{path}: {problem}; {fix}")
        self.path = path


def _why(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"damaged or truncated record (not valid JSON at line {exc.lineno}, column {exc.colno})"
    if isinstance(exc, UnicodeDecodeError):
        return "damaged record (not UTF-8 text)"
    if isinstance(exc, OSError):
        return f"unreadable record ({exc.strerror or type(exc).__name__})"
    detail = f": {exc}" if isinstance(exc, KeyError) else ""
    return f"damaged record (not the content seas wrote: {type(exc).__name__}{detail})"


def read_json(path: Path, fix: str, parse: Callable[[Any], T] | None = None) -> T:
    """The decoded JSON of ``path``, passed through ``parse`` (which may index it freely).

    Args:
        path: The record.
        fix: The way out, shown after the problem (e.g. "delete it and rerun seas generate").
        parse: Turns the decoded value into what the caller needs; its KeyError, TypeError or
            ValueError means a damaged record too.

    Raises:
        RecordError: Missing, undecodable, or not the expected content.
    """
    if not path.is_file():
        raise RecordError(path, "missing", fix)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
        return parse(value) if parse is not None else value  # type: ignore[no-any-return]
    except (OSError, UnicodeDecodeError, *_SHAPE_ERRORS) as exc:  # JSONDecodeError is a ValueError
        raise RecordError(path, _why(exc), fix) from exc


def read_jsonl(path: Path, fix: str, skip_damaged: bool = False) -> list[dict[str, Any]]:  # Any: JSON
    """The objects of a JSON-lines file, in order ([] when it does not exist).

    Args:
        path: The file.
        fix: The way out for a damaged line.
        skip_damaged: Pass over lines that do not decode (a loss log whose last line a kill cut off).

    Raises:
        RecordError: A line is not a JSON object (unless ``skip_damaged``), or the file is unreadable.
    """
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(path, _why(exc), fix) from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                msg = "a line is not a JSON object"
                raise TypeError(msg)
        except (ValueError, TypeError) as exc:
            if skip_damaged:
                continue
            raise RecordError(path, f"{_why(exc)} on line {number}", fix) from exc
        rows.append(row)
    return rows
