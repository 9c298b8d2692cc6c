"""Stage 0: a product prior (VAE and text-conditioned U-Net) trained on defect-free images only."""
