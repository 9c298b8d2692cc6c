from __future__ import annotations

import re

import pytest
import torch

from seas.stage2.rmp import RMPHead, focal_loss, focal_targets, load_reference_rmp_state, recalibrate_batchnorm


def test_parameter_count_without_dead_parts() -> None:
    head = RMPHead()
    assert sum(p.numel() for p in head.parameters()) == 5_451_778  # docs/method.md §2.7: about 5.45 M
    assert sum(p.numel() for p in head.coarse.parameters()) == 2_444_544
    assert sum(p.numel() for p in head.refine.parameters()) == 2_798_592


def _small() -> RMPHead:
    torch.manual_seed(0)
    return RMPHead((64, 64), (64, 64, 32))


def _features(batch: int) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return (
        torch.randn(batch, 64, 4, 4, generator=g),
        torch.randn(batch, 64, 8, 8, generator=g),
        [
            torch.randn(batch, 64, 16, 16, generator=g),
            torch.randn(batch, 64, 32, 32, generator=g),
            torch.randn(batch, 32, 64, 64, generator=g),
        ],
    )


def test_shapes_and_normal_rows_bypass_the_refinement() -> None:
    head = _small()
    u32, u64, vae = _features(4)
    p512, p64 = head.forward_train(u32, u64, [v[:2] for v in vae], n_anomaly=2)
    assert p512.shape == (4, 2, 64, 64)
    assert p64.shape == (4, 2, 8, 8)
    assert torch.allclose(p512.sum(dim=1), torch.ones(4, 64, 64), atol=1e-6)
    head.eval()
    assert head(u32, u64, vae).shape == (4, 2, 64, 64)


def test_eval_mode_masks_do_not_depend_on_batch_mates() -> None:
    head = _small().eval()
    u32, u64, vae = _features(3)
    alone = head(u32[:1], u64[:1], [v[:1] for v in vae])
    together = head(u32, u64, vae)[:1]
    assert torch.allclose(alone, together, atol=1e-5)


def test_batchnorm_recalibration_averages_inference_batches_and_keeps_weights() -> None:
    head = _small()
    head.train()
    u32, u64, vae = _features(4)
    head.forward_train(u32, u64, [v[:2] for v in vae], n_anomaly=2)  # training-time statistics, both passes
    weights = {k: v.clone() for k, v in head.named_parameters()}
    seen: list[torch.Tensor] = []
    hook = head.head[0].register_forward_hook(lambda _m, args, _out: seen.append(args[0].detach().clone()))
    batches = [(u32[:2], u64[:2], [v[:2] for v in vae]), (u32[2:], u64[2:], [v[2:] for v in vae])]
    head.eval()
    assert recalibrate_batchnorm(head, batches) == 2
    hook.remove()
    assert not head.training  # mode restored
    norm = head.head[0]
    assert norm.momentum == 0.1
    assert int(norm.num_batches_tracked) == 2
    expected = torch.stack([x.mean(dim=(0, 2, 3)) for x in seen]).mean(dim=0)  # plain average of batch means
    assert torch.allclose(norm.running_mean, expected, atol=1e-6)
    assert all(torch.equal(v, weights[k]) for k, v in head.named_parameters())  # parameters are not touched at all
    # a single batch: eval mode then normalises with that batch's own mean (the variance differs only by n/(n-1))
    recalibrate_batchnorm(head, batches[:1])
    assert torch.allclose(norm.running_mean, seen[0].mean(dim=(0, 2, 3)), atol=1e-6)


def test_fused_inference_copy_matches_eval_mode() -> None:
    head = _small()
    head.train()
    u32, u64, vae = _features(2)
    head.forward_train(u32, u64, [v[:2] for v in vae], 2)  # move the running statistics off their init values
    head.eval()
    fused = head.fused_for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.refine.modules())
    assert torch.allclose(fused(u32, u64, vae), head(u32, u64, vae), atol=1e-5)


def _to_reference_naming(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our state dict in the authors' naming (BN gain/bias/stored_*, conv1..9 with a dead conv6)."""
    bn = {"weight": "gain", "bias": "bias", "running_mean": "stored_mean", "running_var": "stored_var"}
    mrm = {
        "fine": 1,
        "branch_in.0": 2,
        "branch_in.1": 3,
        "branch_in.2": 4,
        "skip": 5,
        "branch_out.0": 7,
        "branch_out.1": 8,
        "branch_out.2": 9,
    }
    out = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.startswith("stem_low."):
            out["low_feature_conv.0." + key.split(".", 1)[1]] = value
        elif key.startswith("stem_mid."):
            out["mid_feature_conv.0." + key.split(".", 1)[1]] = value
        elif key.startswith("coarse."):
            out["mid_attn_block.attentions.0." + key.split(".", 1)[1]] = value
        elif key.startswith("head.0."):
            out["out_layer.0." + bn[key.rsplit(".", 1)[1]]] = value
        elif key.startswith("head.2."):
            out["out_layer.2." + key.rsplit(".", 1)[1]] = value
        else:
            m = re.match(r"refine\.(\d)\.(\w+(?:\.\d)?)\.([01])\.(\w+)$", key)
            assert m, key
            block, sub, part, name = m.groups()
            name = bn[name] if part == "1" else name
            out[f"MRM{int(block) + 1}.conv{mrm[sub]}.{part}.{name}"] = value
            if sub == "skip":  # the reference's unused conv6, same shapes as conv5
                out[f"MRM{int(block) + 1}.conv6.{part}.{name}"] = torch.zeros_like(value)
    return out


def test_reference_weights_load_after_renaming() -> None:
    ours = RMPHead()
    for p in ours.parameters():
        torch.nn.init.normal_(p)
    reference = _to_reference_naming(ours.state_dict())
    assert any(".conv6." in k for k in reference)
    fresh = RMPHead()
    missing, unexpected = fresh.load_state_dict(load_reference_rmp_state(reference), strict=True)
    assert not missing
    assert not unexpected
    for key, value in ours.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(fresh.state_dict()[key], value), key  # a state-dict copy
    with pytest.raises(KeyError, match="unexpected key"):
        load_reference_rmp_state({"time_embedding.weight": torch.zeros(1)})


def test_focal_targets_and_loss_values() -> None:
    soft = torch.tensor([[[0.0, 0.5, 0.99, 1.0]]])
    assert focal_targets(soft, "threshold").tolist() == [[[0, 1, 1, 1]]]
    assert focal_targets(soft, "truncate").tolist() == [[[0, 0, 0, 1]]]  # reference: only exact 1.0
    probs = torch.tensor([[[[0.9]], [[0.1]]]])  # [1, 2, 1, 1]: p(background) = 0.9
    p_t = 0.9 * (1 - 1e-5) + 0.1 * 1e-5 + 1e-5
    expected = -((1 - p_t) ** 2) * torch.log(torch.tensor(p_t))
    assert focal_loss(probs, torch.zeros(1, 1, 1, dtype=torch.long)).item() == pytest.approx(expected.item(), rel=1e-5)
