"""Options of ``seas run`` beyond those of its stages."""

from __future__ import annotations

from dataclasses import dataclass, field

from seas.config.base import hint

__all__ = ["RunConfig"]


@dataclass(frozen=True)
class RunConfig:
    """``seas run``: the whole pipeline for one or several products."""

    product: tuple[str, ...] = field(
        default=(),
        metadata=hint("Product(s) under --data, or 'all'; one model each. Default: the bundled tire sample."),
    )
    evaluate: bool = field(default=True, metadata=hint("Run the downstream segmentation benchmark after generating."))
    report: bool = field(default=True, metadata=hint("Build the HTML report at the end."))
