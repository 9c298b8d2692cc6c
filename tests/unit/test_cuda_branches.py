"""The branches only a CUDA machine reaches, isolated so they run here (issue 8.2).

Named CUDA-only parts: ``auto`` precision (bf16 training, fp16 generation on CUDA) and the 8-bit AdamW
of bitsandbytes (a CUDA library; replaced by a stand-in module that records how it is called).
"""

from __future__ import annotations

import sys
import types

import pytest
import torch

from seas.config import GenerateConfig
from seas.generate.run import _dtype
from seas.training import make_adamw, resolve_precision, warn_if_emulated_bf16


def test_auto_precision_per_device() -> None:
    assert resolve_precision("auto", on_cuda=True) == "bf16"  # CUDA-only branch
    assert resolve_precision("auto", on_cuda=False) == "no"
    assert resolve_precision("fp16", on_cuda=False) == "fp16"
    assert resolve_precision("no", on_cuda=True) == "no"


@pytest.mark.parametrize(
    ("machine", "capability", "precision", "on_cuda", "warned"),
    [
        ("x86_64", "AVX2", "bf16", False, True),  # the AMD EPYC of docs/cpu_demo.md: bf16 emulated
        ("x86_64", "AVX512", "bf16", False, False),
        ("x86_64", "AVX2", "no", False, False),
        ("x86_64", "AVX2", "bf16", True, False),  # autocast on the GPU, not the CPU
        ("aarch64", "DEFAULT", "bf16", False, False),  # no claim about ARM CPUs
    ],
)
def test_emulated_bf16_warning(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    machine: str,
    capability: str,
    precision: str,
    on_cuda: bool,
    warned: bool,
) -> None:
    monkeypatch.setattr("platform.machine", lambda: machine)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    with caplog.at_level("WARNING", logger="seas.training"):
        warn_if_emulated_bf16(precision, on_cuda=on_cuda)
    assert ("emulated" in caplog.text) is warned


def test_generation_dtype_per_device() -> None:
    assert _dtype(GenerateConfig(), torch.device("cuda")) == torch.float16  # CUDA-only branch
    assert _dtype(GenerateConfig(), torch.device("cpu")) == torch.float32
    assert _dtype(GenerateConfig(mixed_precision="bf16"), torch.device("cpu")) == torch.bfloat16


def test_8bit_adamw_gets_the_groups_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    class AdamW8bit(torch.optim.AdamW):  # stand-in for bitsandbytes.optim.AdamW8bit (CUDA-only)
        def __init__(self, groups: list[dict[str, object]], **kwargs: object) -> None:
            seen.update(groups=groups, kwargs=kwargs)
            super().__init__(groups, **kwargs)  # type: ignore[arg-type]

    fake = types.ModuleType("bitsandbytes")
    fake.optim = types.SimpleNamespace(AdamW8bit=AdamW8bit)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bitsandbytes", fake)
    weight = torch.nn.Parameter(torch.zeros(3))
    groups = [{"params": [weight], "lr": 4e-6}]
    optimizer = make_adamw(groups, "adamw8bit", weight_decay=0.01, betas=(0.9, 0.999))
    assert isinstance(optimizer, AdamW8bit)
    assert seen["groups"] == groups
    assert seen["kwargs"] == {"weight_decay": 0.01, "betas": (0.9, 0.999)}
    assert isinstance(make_adamw(groups, "adamw", weight_decay=0.01), torch.optim.AdamW)
