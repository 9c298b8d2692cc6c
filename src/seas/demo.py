"""Where the demo assets live: the tire sample and the ``tiny-tire`` prior, outside the package.

Both derive from MVTec 3D-AD (CC BY-NC-SA 4.0), so they are kept out of the Apache-2.0 wheel, in the
repository's ``demo/`` folder beside ``src/``. A clone installed with ``pip install -e .`` finds them
there; anywhere else ``$SEAS_DEMO_DIR`` names such a folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from seas.errors import ConfigError

__all__ = ["DEMO_ENV", "demo_dir"]

DEMO_ENV = "SEAS_DEMO_DIR"
_CLONE_DEMO = Path(__file__).resolve().parents[2] / "demo"  # src/seas/demo.py -> <clone>/demo


def demo_dir(what: str = "the demo assets") -> Path:
    """The demo folder (``sample_data/``, ``priors/``).

    Args:
        what: Named in the error, e.g. ``the bundled tire sample``.

    Raises:
        ConfigError: Neither ``$SEAS_DEMO_DIR`` nor a clone's ``demo/`` folder exists.
    """
    value = os.environ.get(DEMO_ENV)
    folder = Path(value) if value else _CLONE_DEMO
    if folder.is_dir():
        return folder
    where = f"{DEMO_ENV}={folder}" if value else "this installation"
    raise ConfigError(
        where,
        f"{what} is not there: the demo data and prior are not part of the pip package (non-commercial licence)",
        f"clone the repository and pip install -e it, or set {DEMO_ENV} to a clone's demo/ folder; "
        "or pass --data and --base-model for your own data and model",
    )
