"""Progress of long work: a tqdm bar on a terminal, plain log lines when the output is a file or a pipe.

Every long loop (training steps, generated pairs, segmenter epochs) says what it will do when it starts
and how long that took when it ends. On a terminal the bar shows the rate and the time left; anywhere
else (a log file, CI, ``nohup``) carriage-return bars are unreadable, so the same facts come as log
lines: one at the start, one as soon as a few units have been timed (the estimate: units x measured
seconds per unit), then one every ``interval_s`` seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from tqdm.auto import tqdm

__all__ = ["Progress", "duration"]

logger = logging.getLogger("seas.progress")


def duration(seconds: float) -> str:
    """``seconds`` in words a person reads at a glance: ``40 s``, ``12 min``, ``2 h 05 min``."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class Progress:
    """A progress report over ``total`` units, of which ``initial`` are already done (a resumed run).

    Args:
        total: Units of the whole job.
        desc: What is being done (``stage 1``, ``generate hole``); starts every line.
        initial: Units already done before this process started.
        unit: Name of one unit (``step``, ``pair``, ``epoch``).
        enabled: False on all but the main process of a multi-process run.
        interval_s: Seconds between log lines when the output is not a terminal.
        first_after: Units timed before the first estimate is logged.
        stream: Where the bar would go; its ``isatty()`` picks bar or log lines (default stderr).
        clock: Seconds since some origin (``time.monotonic``; tests pass their own).
    """

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        initial: int = 0,
        unit: str = "step",
        enabled: bool = True,
        interval_s: float = 60.0,
        first_after: int = 3,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled
        self.initial = self.done = initial
        self.interval_s, self.first_after, self.clock = interval_s, first_after, clock
        stream = stream if stream is not None else sys.stderr
        self.on_terminal = bool(getattr(stream, "isatty", lambda: False)())
        self.started = self.last_line = clock()
        self.postfix: dict[str, Any] = {}
        self.estimated = False
        self.bar = None
        if not enabled:
            return
        todo = total - initial
        already = f" ({initial} of {total} already done)" if initial else ""
        logger.info("%s: %d %s%s to run%s", desc, todo, unit, "" if todo == 1 else "s", already)
        if self.on_terminal:
            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=stream, dynamic_ncols=True)

    def _rate(self) -> float:
        """Measured seconds per unit in this process (0 before the first unit)."""
        timed = self.done - self.initial
        return (self.clock() - self.started) / timed if timed else 0.0

    def update(self, n: int = 1) -> None:
        """``n`` more units are done."""
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now, timed = self.clock(), self.done - self.initial
        first = not self.estimated and timed >= min(self.first_after, self.total - self.initial)
        if (first or now - self.last_line >= self.interval_s) and self.done < self.total:
            self.estimated, self.last_line = True, now
            rate = self._rate()
            values = "".join(f", {k} {v}" for k, v in self.postfix.items())
            logger.info(
                "%s: %d/%d %ss, %.2f s/%s, about %s left%s",
                self.desc,
                self.done,
                self.total,
                self.unit,
                rate,
                self.unit,
                duration(rate * (self.total - self.done)),
                values,
            )

    def set_postfix(self, values: dict[str, Any]) -> None:
        """Values shown beside the count (the losses of the last logged step)."""
        self.postfix = dict(values)
        if self.bar is not None:
            self.bar.set_postfix(values)

    def close(self) -> None:
        """End the bar; log how long the work took when it all ran."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.enabled and self.done >= self.total and self.done > self.initial:
            took = self.clock() - self.started
            logger.info(
                "%s: done, %d %ss in %s (%.2f s/%s)",
                self.desc,
                self.done - self.initial,
                self.unit,
                duration(took),
                self._rate(),
                self.unit,
            )
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
