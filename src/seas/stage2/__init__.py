"""Stage 2: the Refined Mask Prediction (RMP) head, trained on the frozen generator's features."""
