"""``seas benchmark``: measured speed and memory of the pipeline's steps, next to stock baselines."""
