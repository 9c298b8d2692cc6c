"""Generation: DPM-Solver++ sampling from a noised normal image, with RMP masks (method spec 2.9)."""
