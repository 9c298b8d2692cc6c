"""Generation: DPM-Solver++ sampling from a noised normal image, with RMP masks (docs/method.md §2.9)."""
