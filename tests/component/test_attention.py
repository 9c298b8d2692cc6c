"""The capture processor: stock output without a context, identical DA gradients under gradient checkpointing."""

from __future__ import annotations

import pytest
import torch
from diffusers.models.attention_processor import AttnProcessor2_0

from seas.models.builtin import build_builtin
from seas.stage1.attention import AttentionCapture, DACaptureProcessor, capturing, install_capture_processors
from seas.stage1.losses import LossSettings, step_losses


@pytest.fixture
def unet() -> torch.nn.Module:
    return build_builtin("tiny", 0, 64)["unet"]


def _inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 4, 8, 8, generator=g), torch.tensor([10, 500, 999, 300]), torch.randn(4, 77, 32, generator=g)


def test_only_the_da_layers_get_the_processor(unet: torch.nn.Module) -> None:
    install_capture_processors(unet, "down")
    ours = [n for n, p in unet.attn_processors.items() if isinstance(p, DACaptureProcessor)]
    assert ours == [
        f"down_blocks.{b}.attentions.{i}.transformer_blocks.0.attn2.processor" for b in (1, 2) for i in (0, 1)
    ]
    stock = [p for p in unet.attn_processors.values() if not isinstance(p, DACaptureProcessor)]
    assert all(isinstance(p, AttnProcessor2_0) for p in stock)


def test_output_equals_stock_sdpa_with_and_without_capture(unet: torch.nn.Module) -> None:
    x, t, ctx = _inputs()
    with torch.no_grad():
        stock = unet(x, t, ctx).sample
        processors = install_capture_processors(unet, "down_up")
        ours = unet(x, t, ctx).sample
        capture = AttentionCapture(torch.tensor([[2, 4, 5, 6, 7], [2, 4, 5, 6, 7]]), (8, 8))
        with capturing(processors, capture):
            captured = unet(x, t, ctx).sample
    assert torch.allclose(ours, stock, atol=1e-6, rtol=1e-5)
    assert torch.equal(captured, ours)  # recording maps never changes the forward pass (pitfall 7)
    assert capture.maps["down_blocks.1.attentions.0.transformer_blocks.0.attn2"].shape == (2, 5, 4, 4)
    assert capture.maps["up_blocks.1.attentions.2.transformer_blocks.0.attn2"].shape == (2, 5, 2, 2)
    assert all(p.capture is None for p in processors)


def test_each_token_map_is_a_softmax_over_space(unet: torch.nn.Module) -> None:
    x, t, ctx = _inputs()
    processors = install_capture_processors(unet, "down")
    capture = AttentionCapture(torch.tensor([[2, 4, 5, 6, 7], [2, 4, 5, 6, 7]]), (8, 8))
    with torch.no_grad(), capturing(processors, capture):
        unet(x, t, ctx)
    layer = capture.maps["down_blocks.2.attentions.1.transformer_blocks.0.attn2"]
    assert torch.allclose(layer.sum(dim=(-1, -2)), torch.ones(2, 5), atol=1e-5)  # the reference's spatial softmax


def _da_grads(unet: torch.nn.Module, checkpointing: bool) -> dict[str, torch.Tensor]:
    x, t, ctx = _inputs()
    unet.train()
    if checkpointing:
        unet.enable_gradient_checkpointing()
    processors = install_capture_processors(unet, "down")
    masks = torch.zeros(2, 1, 64, 64)
    masks[:, :, 16:48, 8:40] = 1.0
    capture = AttentionCapture(torch.tensor([[2, 4, 5, 6, 7], [2, 4, 5, 6, 7]]), (8, 8))
    with capturing(processors, capture):
        pred = unet(x, t, ctx).sample
        losses = step_losses(pred, torch.zeros_like(pred), 2, capture.maps, masks, LossSettings())
        (losses["da_32"] + losses["da_16"]).backward()
    return {n: p.grad.clone() for n, p in unet.named_parameters() if p.grad is not None}


def test_da_gradients_agree_with_gradient_checkpointing(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    record = DACaptureProcessor._record
    monkeypatch.setattr(DACaptureProcessor, "_record", lambda self, *a: calls.append(1) or record(self, *a))
    plain = _da_grads(build_builtin("tiny", 0, 64)["unet"], checkpointing=False)
    assert len(calls) == 4
    ckpt = _da_grads(build_builtin("tiny", 0, 64)["unet"], checkpointing=True)
    assert len(calls) == 4 + 8  # the backward really recomputed the checkpointed blocks
    assert plain.keys() == ckpt.keys()
    assert any("down_blocks.1" in n and g.abs().sum() > 0 for n, g in plain.items())
    for name, grad in plain.items():
        assert torch.allclose(grad, ckpt[name], atol=1e-7, rtol=1e-5), name


def test_maps_stay_float32_under_bf16_autocast() -> None:
    g = torch.Generator().manual_seed(1)
    query, key = torch.randn(3, 8, 64, 4, generator=g) * 4, torch.randn(3, 8, 77, 4, generator=g) * 4
    maps = {}
    for enabled in (False, True):
        capture = AttentionCapture(torch.tensor([[2, 4, 5], [2, 4, 6]]), (16, 16))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            DACaptureProcessor("layer", 2)._record(query, key, 0.5, capture)
        maps[enabled] = capture.maps["layer"]
    assert maps[True].dtype == torch.float32
    assert torch.allclose(maps[True], maps[False], atol=1e-6, rtol=0)
