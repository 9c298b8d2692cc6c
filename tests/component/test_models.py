from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from diffusers import UNet2DConditionModel

from seas.errors import ModelLoadError
from seas.models.loading import load_base_model


def test_tiny_is_deterministic_per_seed() -> None:
    a = load_base_model("tiny", seed=0, resolution=64)
    b = load_base_model("tiny", seed=0, resolution=64)
    c = load_base_model("tiny", seed=1, resolution=64)
    wa, wb, wc = (m.unet.conv_in.weight for m in (a, b, c))
    assert torch.equal(wa, wb)  # same machine: the same seeded initialisation twice
    assert not torch.equal(wa, wc)  # another seed
    assert a.scaling_factor == pytest.approx(0.18215)
    assert a.prediction_type == "epsilon"
    assert a.text_width == 32


def test_tiny_has_sd1_structure_and_real_tokenizer() -> None:
    parts = load_base_model("tiny", resolution=64)
    names = [n for n, _ in parts.unet.attn_processors.items() if "attn2" in n]
    assert len(names) == 16  # down 2+2+2, mid 1, up 3+3+3 cross-attention layers, as SD 1.x
    ids = parts.tokenizer("a object with defect").input_ids
    assert ids == [49406, 320, 14115, 593, 44013, 49407]
    with torch.no_grad():
        latents = parts.vae.encode(torch.zeros(1, 3, 64, 64)).latent_dist.mean
    assert latents.shape == (1, 4, 8, 8)


def test_save_and_reload_as_diffusers_folder(tmp_path: Path) -> None:
    parts = load_base_model("tiny", resolution=64)
    for name in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        getattr(parts, name).save_pretrained(tmp_path / name)
    # exact: saved and loaded: a copy
    assert torch.equal(
        UNet2DConditionModel.from_pretrained(tmp_path / "unet").conv_in.weight, parts.unet.conv_in.weight
    )
    again = load_base_model(str(tmp_path))
    assert again.identity["kind"] == "folder"
    assert torch.equal(  # saved and loaded: a copy
        again.text_encoder.get_input_embeddings().weight, parts.text_encoder.get_input_embeddings().weight
    )


def test_an_fp16_folder_loads_in_float32(tmp_path: Path) -> None:
    parts = load_base_model("tiny", resolution=64)
    for name in ("unet", "vae", "text_encoder"):
        getattr(parts, name).half().save_pretrained(tmp_path / name)
    for name in ("tokenizer", "scheduler"):
        getattr(parts, name).save_pretrained(tmp_path / name)
    again = load_base_model(str(tmp_path))
    for name in ("unet", "vae", "text_encoder"):  # an fp16 text encoder broke bf16 autocast on CPU (measured)
        assert {p.dtype for p in getattr(again, name).parameters()} == {torch.float32}, name
    half = parts.text_encoder.get_input_embeddings().weight.half().float()
    assert torch.equal(again.text_encoder.get_input_embeddings().weight, half)
    shutil.rmtree(tmp_path / "tokenizer")
    with pytest.raises(ModelLoadError, match=r"has no tokenizer files \(tokenizer/vocab\.json"):
        load_base_model(str(tmp_path))  # not an empty tokenizer that fails later on "6 tokens, not one"


def test_missing_model_paths_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no such model folder or file; pass a local diffusers folder"):
        load_base_model(str(tmp_path / "nope"))
    with pytest.raises(ModelLoadError, match="not a diffusers model folder"):
        load_base_model(str(tmp_path))
    (tmp_path / "m.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="unsupported model file type"):
        load_base_model(str(tmp_path / "m.bin"))


def test_uncached_hub_id_offline_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as exc:
        load_base_model("someone/not-a-cached-model")
    text = str(exc.value)
    assert text.startswith("someone/not-a-cached-model: cannot load the model")
    assert "\n" not in text


def test_shipped_tiny_tire_prior_loads_in_float32_with_its_own_latent_scale() -> None:
    import json

    from seas.models.builtin import prior_dir

    parts = load_base_model("tiny-tire")
    assert parts.identity["kind"] == "builtin-prior"
    assert parts.identity["name"] == "tiny-tire"
    assert all(p.dtype == torch.float32 for m in (parts.unet, parts.vae, parts.text_encoder) for p in m.parameters())
    provenance = json.loads((prior_dir("tiny-tire") / "provenance.json").read_text())
    assert provenance["config"]["ModelConfig"]["base_model"] == "tiny-slim"
    assert provenance["config"]["PretrainConfig"]["images"] == []  # train/good of the layout, never test/
    assert parts.scaling_factor != pytest.approx(0.18215)  # measured on the training latents
    names = [n for n in parts.unet.attn_processors if "attn2" in n]
    assert len(names) == 16  # the SD 1.x layout every later stage expects
    with torch.no_grad():
        out = parts.unet(torch.randn(1, 4, 16, 16), 500, torch.zeros(1, 77, parts.text_width)).sample
    assert torch.isfinite(out).all()


def test_a_missing_shipped_prior_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import seas.models.loading as loading

    monkeypatch.setattr(loading, "prior_dir", lambda _name: tmp_path / "gone")
    with pytest.raises(ModelLoadError, match="the built-in prior tiny-tire is missing from this installation"):
        load_base_model("tiny-tire")
