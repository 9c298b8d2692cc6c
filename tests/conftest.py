"""Shared fixtures: synthetic layouts, the bundled sample, the full tire data when present, offline mode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from seas.data.catalog import bundled_sample_root

REFERENCE_STEP = Path(__file__).resolve().parent / "fixtures" / "reference_step"
SAMPLE_ROOT = bundled_sample_root()  # the bundled tire sample (MVTec layout): 12 normals, 9 images per type
# The full MVTec 3D-AD tire data (not in the repository: CC BY-NC-SA, 1.5 GB); .ci/run sets it when found.
FULL_TIRE_ENV = "SEAS_TIRE_DATA"


@pytest.fixture
def mvtec_root(tmp_path: Path) -> Path:
    from tests.helpers.dummy_data import make_mvtec

    return make_mvtec(tmp_path / "data")


@pytest.fixture(scope="session")
def tire_root() -> Path:
    """The bundled tire sample (MVTec layout, product ``tire``)."""
    return SAMPLE_ROOT


@pytest.fixture(scope="session")
def full_tire_root() -> Path:
    """The full tire data named by ``$SEAS_TIRE_DATA``; the test is skipped, saying so, when it is not set."""
    value = os.environ.get(FULL_TIRE_ENV)
    if not value:
        pytest.skip(f"needs the full MVTec 3D-AD tire data: set {FULL_TIRE_ENV} to its folder")
    root = Path(value)
    if not (root / "tire" / "train" / "good").is_dir():
        pytest.fail(f"{FULL_TIRE_ENV}={root} holds no tire/train/good; point it at the mvtec3d_tire folder")
    return root
