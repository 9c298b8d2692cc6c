"""Which drawn pairs ``seas generate`` keeps: ``--keep`` rules and ``--best-of`` ranking on a pair's scores.

``--keep`` rules read ``NAME>=VALUE`` or ``NAME<=VALUE``; ``--best-of K --best-by NAME`` keeps each pair's best of
K passing draws by one score. The scores are computed by :mod:`seas.generate.pair_scores`.

A pair failing a rule is redrawn with the next attempt's seed (up to ``--max-attempts``) and recorded
among the pair's rejections with its scores, so the kept set is as deterministic and resumable as the
pairs themselves. Kept apart from the scorer so the configuration can check rules without loading images.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from seas.errors import ConfigError, flag

__all__ = ["BEST", "SCORES", "best_draw", "check_keep_rules", "failed_rule"]

SCORES = (
    "mask_fraction",
    "area_ratio",
    "on_object",
    "components",
    "change_inside",
    "change_outside",
    "change_ratio",
)
# Scores with a better end (``--best-by``), as a key where larger is better: area_ratio is best at 1 (the type's
# median training area), change_outside at 0; mask_fraction and components say nothing good or bad alone.
BEST: dict[str, Callable[[float], float]] = {
    "on_object": lambda v: v,
    "change_inside": lambda v: v,
    "change_ratio": lambda v: v,
    "change_outside": lambda v: -v,
    "area_ratio": lambda v: -abs(math.log(max(v, 1e-9))),
}
_RULE = re.compile(r"^([a-z_]+)\s*(>=|<=)\s*([-+0-9.eE]+)$")


def _parse(rule: str) -> tuple[str, str, float]:
    found = _RULE.match(rule.strip())
    if found is None or found.group(1) not in SCORES:
        raise ConfigError(
            flag("keep"),
            f"cannot read the rule {rule!r}",
            f"write NAME>=VALUE or NAME<=VALUE, NAME one of {', '.join(SCORES)}",
        )
    try:
        value = float(found.group(3))
    except ValueError as exc:
        raise ConfigError(flag("keep"), f"{rule!r}: {found.group(3)} is not a number", None) from exc
    return found.group(1), found.group(2), value


def check_keep_rules(rules: tuple[str, ...]) -> None:
    """Raise a one-line ConfigError for a rule that cannot be read."""
    for rule in rules:
        _parse(rule)


def failed_rule(scores: dict[str, float], rules: tuple[str, ...]) -> str | None:
    """The first rule ``scores`` fail (a score a pair lacks, such as a normal image's mask scores, passes)."""
    for rule in rules:
        name, op, value = _parse(rule)
        if name not in scores:
            continue
        if (op == ">=" and not scores[name] >= value) or (op == "<=" and not scores[name] <= value):
            return rule.strip()
    return None


def best_draw(scored: Sequence[tuple[int, dict[str, float]]], by: str) -> int:
    """The attempt of the best draw among ``(attempt, scores)`` by the score ``by`` (a tie: the earliest attempt)."""
    better = BEST[by]

    def key(item: tuple[int, dict[str, float]]) -> tuple[float, int]:
        return (better(item[1][by]) if by in item[1] else -math.inf, -item[0])

    return max(scored, key=key)[0]
