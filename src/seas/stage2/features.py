"""Feature taps for the RMP head: forward hooks on stock diffusers modules, registered only while needed.

``U32``/``U64`` are the outputs of ``unet.up_blocks[1]`` and ``unet.up_blocks[2]``; ``V128``,
``V256``, ``V512`` the outputs of ``vae.decoder.up_blocks[0..2]``. The VAE feature decode stops
right after the last block it needs (a hook raises), so the decoder's final block and output
convolution are never run for mask features.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

__all__ = ["rmp_channels", "unet_features", "vae_decoder_features"]


def rmp_channels(unet: Any, vae: Any) -> tuple[tuple[int, int], tuple[int, int, int]]:  # Any: diffusers models
    """Channels of (U32, U64) and (V128, V256, V512) for these models (read from their configs)."""
    u = list(reversed(unet.config.block_out_channels))
    v = list(reversed(vae.config.block_out_channels))
    return (u[1], u[2]), (v[0], v[1], v[2])


@contextmanager
def unet_features(unet: Any) -> Iterator[list[torch.Tensor]]:  # Any: UNet2DConditionModel
    """Collect ``[U32, U64]`` from U-Net forwards inside the block (the last forward's values win)."""
    found: list[torch.Tensor] = [torch.empty(0), torch.empty(0)]

    def keep(slot: int) -> Any:  # Any: a forward hook
        def hook(_module: torch.nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            found[slot] = output

        return hook

    handles = [unet.up_blocks[1].register_forward_hook(keep(0)), unet.up_blocks[2].register_forward_hook(keep(1))]
    try:
        yield found
    finally:
        for handle in handles:
            handle.remove()


class _DecodeDone(Exception):
    """Raised by the last feature hook to end the VAE decode early."""


def vae_decoder_features(vae: Any, latents: torch.Tensor) -> list[torch.Tensor]:  # Any: AutoencoderKL
    """``[V128, V256, V512]`` of decoding ``latents`` (already divided by the VAE scale).

    Args:
        vae: The VAE.
        latents: ``[B, 4, h, w]`` raw latents (``z / s``).

    Returns:
        Three tensors ``[B, C_i, 2h·2^i, ...]``: the outputs of ``vae.decoder.up_blocks[0..2]``.
    """
    found: list[torch.Tensor] = []

    def keep(_module: torch.nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        found.append(output)
        if len(found) == 3:
            raise _DecodeDone

    handles = [vae.decoder.up_blocks[i].register_forward_hook(keep) for i in range(3)]
    try:
        vae.decode(latents.to(vae.dtype))
    except _DecodeDone:
        pass
    finally:
        for handle in handles:
            handle.remove()
    return found
