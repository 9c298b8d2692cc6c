"""SeaS: few-shot industrial anomaly image and mask generation on stock diffusers.

Implements "SeaS: Few-shot Industrial Anomaly Image Generation with Separation and Sharing
Fine-tuning" (arXiv 2410.14987); ``docs/method.md`` in the repository describes what it computes.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("seas")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
