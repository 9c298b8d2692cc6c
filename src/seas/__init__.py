"""SeaS: few-shot industrial anomaly image and mask generation on stock diffusers.

Implements "SeaS: Few-shot Industrial Anomaly Image Generation with Separation and Sharing
Fine-tuning" (arXiv 2410.14987); ``docs/method.md`` in the repository describes what it computes.

The Python interface (:mod:`seas.api`) has one function per command, taking the command's options
as keyword arguments::

    import seas

    run = seas.train(run_dir="runs/tire", base_model="tiny-tire", resolution=128, max_steps=100)
    run.train_mask(max_steps=60)
    for pair in run.generate(num_per_type=4):
        pair.image, pair.mask  # PIL images; pair.image_array, pair.mask_array as numpy

Functions: :func:`inspect`, :func:`load_data`, :func:`train_prior`, :func:`cut_patches`, :func:`train`,
:func:`train_mask`, :func:`generate_pairs`, :func:`sample` (pairs in memory), :func:`paste`,
:func:`evaluate_segmentation`, :func:`evaluate_quality`, :func:`evaluate_generation`, :func:`build_report`,
:func:`run` (the whole pipeline), :func:`open_run` and :func:`resolve` (the resolved settings).
Errors are :class:`SeasError` (options: :class:`ConfigError`) with the command line's one-line text.
"""

from importlib.metadata import PackageNotFoundError, version

from seas import api
from seas.api import *  # noqa: F403  (the interface: seas.api.__all__)
from seas.errors import ConfigError, SeasError

try:
    __version__ = version("seas")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["ConfigError", "SeasError", "__version__", *api.__all__]
