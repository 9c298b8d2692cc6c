"""Evaluation: segmentation metrics, generation metrics and the downstream protocol."""
