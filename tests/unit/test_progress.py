"""Long work says what it will do and how long it takes, in plain lines when the output is not a terminal."""

from __future__ import annotations

import io
import logging

import pytest

from seas.progress import Progress, duration


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_give_the_work_an_estimate_and_the_time_it_took(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    caplog.set_level(logging.INFO, logger="seas.progress")
    with Progress(100, "stage 1", initial=10, stream=io.StringIO(), clock=clock, interval_s=60) as bar:
        for step in range(11, 101):
            clock.now += 2.0  # 2 s a step
            if step == 50:
                bar.set_postfix({"total": "0.1234"})
            bar.update()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "stage 1: 90 steps to run (10 of 100 already done)"
    assert lines[1] == "stage 1: 13/100 steps, 2.00 s/step, about 3 min left"  # after 3 timed steps: 87 x 2 s
    assert lines[2] == "stage 1: 43/100 steps, 2.00 s/step, about 2 min left"  # then once a minute
    assert "total 0.1234" in lines[3]
    assert lines[-1] == "stage 1: done, 90 steps in 3 min (2.00 s/step)"
    assert all("\r" not in line for line in lines)


def test_a_terminal_gets_the_bar_and_the_start_line_only(caplog: pytest.LogCaptureFixture) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    caplog.set_level(logging.INFO, logger="seas.progress")
    stream = Terminal()
    with Progress(5, "generate hole", unit="pair", stream=stream) as bar:
        for _ in range(5):
            bar.update()
    assert "5/5" in stream.getvalue()  # tqdm drew on the terminal
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "generate hole: 5 pairs to run"
    assert lines[-1].startswith("generate hole: done, 5 pairs in ")
    assert len(lines) == 2


def test_other_processes_and_interrupted_work_say_nothing_more(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="seas.progress")
    with Progress(5, "stage 2", enabled=False, stream=io.StringIO()) as bar:
        bar.update(5)
    with Progress(5, "stage 2", stream=io.StringIO()) as bar:
        bar.update(2)  # stopped early (an error): no "done" line
    assert [r.getMessage() for r in caplog.records] == ["stage 2: 5 steps to run"]


def test_durations_read_at_a_glance() -> None:
    assert duration(40) == "40 s"
    assert duration(12 * 60) == "12 min"
    assert duration(2 * 3600 + 5 * 60) == "2 h 05 min"


def test_diffusers_float32_warning_about_nothing_is_silenced() -> None:
    import torch

    import seas.models.loading as loading
    from seas.models.builtin import build_builtin

    unet = build_builtin("tiny", 0, 64)["unet"]
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    diffusers_logger = logging.getLogger("diffusers.models.modeling_utils")
    handler = Keep()
    diffusers_logger.addHandler(handler)
    try:
        unet.to(torch.bfloat16)
        assert not [m for m in seen if "kept in float32" in m]
        silencer = next(f for f in diffusers_logger.filters if isinstance(f, loading._NothingKeptInFloat32))
        diffusers_logger.removeFilter(silencer)
        try:
            unet.to(torch.float32)
        finally:
            diffusers_logger.addFilter(silencer)
        assert [m for m in seen if "kept in float32: []" in m]  # the warning the filter drops does exist
    finally:
        diffusers_logger.removeHandler(handler)
