"""LoRA adapters on the U-Net's attention projections (peft, through diffusers' ``add_adapter``)."""

from __future__ import annotations

from typing import Any

__all__ = ["add_lora"]


def add_lora(unet: Any, rank: int) -> None:  # Any: UNet2DConditionModel
    """Freeze the U-Net and give its attention projections trainable LoRA adapters of ``rank``."""
    from peft import LoraConfig  # optional package: callers check for it at start-up

    unet.requires_grad_(False)
    targets = ["to_q", "to_k", "to_v", "to_out.0"]
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=targets))
