"""Stage 1: SeaS generator fine-tuning (UA prompt tokens, DA and NA losses in one shared step)."""
