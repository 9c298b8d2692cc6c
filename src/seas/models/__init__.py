"""Base Stable Diffusion components: loading a user's model, and built-in random offline models."""
