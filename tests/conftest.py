"""Shared fixtures: synthetic layouts, the shared real data, and offline mode for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED = Path(os.environ.get("SEAS_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
TIRE_ROOT = SHARED / "data" / "mvtec3d_tire"
REFERENCE_STEP = SHARED / "fixtures" / "reference_step"


@pytest.fixture
def mvtec_root(tmp_path: Path) -> Path:
    from tests.helpers.dummy_data import make_mvtec

    return make_mvtec(tmp_path / "data")


@pytest.fixture
def tire_root() -> Path:
    if not TIRE_ROOT.is_dir():
        pytest.fail(f"shared tire data not found at {TIRE_ROOT}; the suite expects ../shared beside the checkout")
    return TIRE_ROOT
