"""Cross-attention map capture for the Decoupled Anomaly Alignment loss (paper 3.2; docs/method.md §2.4).

:class:`DACaptureProcessor` is installed with ``unet.set_attn_processor`` on the few ``attn2``
layers the DA loss reads (4 by default, 10 with ``da_layers: down_up``); every other layer keeps
its stock processor and the library stays unpatched (pitfalls 7, 9, 20). Without an active
:class:`AttentionCapture` the processor computes exactly what the stock SDPA processor computes.
With one, it also computes, in float32 and batched, the maps of the selected token columns for
the anomaly rows only: ``Q K_selᵀ / sqrt(d)``, softmax over space (as the reference), mean over
heads, stored as ``[B_a, m, H, W]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "AttentionCapture",
    "DACaptureProcessor",
    "capturing",
    "da_layer_names",
    "install_capture_processors",
    "level_factor",
]


def da_layer_names(da_layers: str) -> list[str]:
    """Module names of the cross-attention layers the DA loss reads (SD 1.x/2.x U-Net layout).

    ``down``: the 32² and 16² down-block layers (the reference's effective choice);
    ``down_up``: also the up-block layers of the same levels.
    """
    names = [f"down_blocks.{b}.attentions.{i}.transformer_blocks.0.attn2" for b in (1, 2) for i in (0, 1)]
    if da_layers == "down_up":
        names += [f"up_blocks.{b}.attentions.{i}.transformer_blocks.0.attn2" for b in (1, 2) for i in (0, 1, 2)]
    return names


def level_factor(layer_name: str, num_up_blocks: int = 4) -> int:
    """Downsampling factor of a layer's feature map relative to the latent (2 for the 32² level at 512²)."""
    block, index = layer_name.split(".")[0], int(layer_name.split(".")[1])
    return 2**index if block == "down_blocks" else 2 ** (num_up_blocks - 1 - index)


@dataclass
class AttentionCapture:
    """What to capture during one training forward/backward, and where the maps land.

    Attributes:
        positions: ``[B_a, m]`` token columns per anomaly row (normal tokens first).
        latent_hw: Latent height and width.
        maps: Layer name -> ``[B_a, m, H, W]`` float32 map. A slot is written only while empty, so
            the recomputation of non-reentrant gradient checkpointing keeps the tensors the loss used.
    """

    positions: torch.Tensor
    latent_hw: tuple[int, int]
    maps: dict[str, torch.Tensor] = field(default_factory=dict, init=False)

    @property
    def anomaly_rows(self) -> int:
        """Number of anomaly rows; they are the first rows of the batch."""
        return int(self.positions.shape[0])


class DACaptureProcessor:
    """Stock SDPA cross-attention that can also record DA maps of selected token columns."""

    def __init__(self, name: str, factor: int) -> None:
        self.name = name
        self.factor = factor
        self.capture: AttentionCapture | None = None

    def _record(self, query: torch.Tensor, key: torch.Tensor, scale: float, capture: AttentionCapture) -> None:
        # Autocast would run the matmuls below in bf16/fp16 again, rounding the logits of the spatial
        # softmax by several percent; the maps are computed in float32 whatever the training precision.
        with torch.autocast(query.device.type, enabled=False):
            self._record_fp32(query, key, scale, capture)

    def _record_fp32(self, query: torch.Tensor, key: torch.Tensor, scale: float, capture: AttentionCapture) -> None:
        rows = capture.anomaly_rows
        q = query[:rows].float()  # [B_a, h, HW, d]
        k = key[:rows].float()  # [B_a, h, T, d]
        index = capture.positions[:, None, :, None].expand(-1, k.shape[1], -1, k.shape[3])  # [B_a, h, m, d]
        scores = (q @ k.gather(2, index).transpose(-1, -2)) * scale  # [B_a, h, HW, m]
        probs = scores.softmax(dim=2)  # each token's map sums to 1 over space
        height, width = capture.latent_hw[0] // self.factor, capture.latent_hw[1] // self.factor
        maps = probs.mean(dim=1).transpose(1, 2)  # [B_a, m, HW]
        # The recomputation under gradient checkpointing repeats this computation (its saved tensors
        # must match) but keeps the first result, which is the one the loss was built from.
        capture.maps.setdefault(self.name, maps.reshape(rows, -1, height, width))  # [B_a, m, H, W]

    def __call__(
        self,
        attn: Any,  # Any: diffusers.models.attention_processor.Attention
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        """Same contract and result as diffusers' ``AttnProcessor2_0``."""
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)  # [B, HW, C]
        batch, seq_len, _ = hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, seq_len, batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch, -1, attn.heads, head_dim).transpose(1, 2)  # [B, h, HW, d]
        key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)  # [B, h, T, d]
        value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        capture = self.capture
        if capture is not None:
            self._record(query, key, attn.scale, capture)
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=0.0)
        out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)  # [B, HW, C]
        out = attn.to_out[1](attn.to_out[0](out))
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


def install_capture_processors(unet: Any, da_layers: str) -> list[DACaptureProcessor]:  # Any: UNet2DConditionModel
    """Put a :class:`DACaptureProcessor` on the DA layers of ``unet``; other layers keep theirs.

    Returns:
        The installed processors, in layer order.
    """
    wanted = da_layer_names(da_layers)
    current = dict(unet.attn_processors)
    num_up = len(unet.up_blocks)
    installed = []
    for name in wanted:
        key = f"{name}.processor"
        if key not in current:
            msg = f"U-Net has no layer {name}; only SD 1.x/2.x-structured U-Nets are supported"
            raise ValueError(msg)
        processor = DACaptureProcessor(name, level_factor(name, num_up))
        current[key] = processor
        installed.append(processor)
    unet.set_attn_processor(current)
    return installed


@contextmanager
def capturing(processors: list[DACaptureProcessor], capture: AttentionCapture) -> Iterator[AttentionCapture]:
    """Activate ``capture`` on ``processors`` for a forward *and* its backward, then detach it."""
    for p in processors:
        p.capture = capture
    try:
        yield capture
    finally:
        for p in processors:
            p.capture = None
