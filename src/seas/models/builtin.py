"""Built-in Stable-Diffusion-architecture models with random weights, built fully offline.

``tiny`` keeps the SD 1.x block structure (3 cross-attention down blocks + 1 plain, cross-attention
mid block, 1 plain + 3 cross-attention up blocks, 8 heads, 8x VAE) at a small width so tests and the
CPU demo run in seconds; ``tiny-slim`` is ``tiny`` with a slimmer VAE, the architecture ``seas pretrain``
trains the shipped ``tiny-tire`` prior on (:data:`BUILTIN_PRIORS`); ``small`` is ``tiny-slim`` with a 10x
wider U-Net (34 M parameters, same text width), a larger prior for ``seas pretrain``. ``sd15-random`` has the
real SD 1.5 shapes (860 M U-Net parameters) for speed and memory benchmarks without weights. All are
deterministic per seed and use the real CLIP tokenizer vocabulary shipped in ``seas/assets/clip_tokenizer``.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from seas.demo import demo_dir

__all__ = [
    "BUILTIN_MODELS",
    "BUILTIN_PRIORS",
    "SD_SCHEDULER_CONFIG",
    "build_builtin",
    "build_unet",
    "prior_dir",
    "tokenizer_dir",
]

# Stable Diffusion 1.x training noise schedule (the model folders' scheduler_config.json).
SD_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "steps_offset": 1,
    "clip_sample": False,  # the DDPM class default is True; SD's config says False (pitfall 18)
    "set_alpha_to_one": False,
    "prediction_type": "epsilon",
}

_DOWN = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")
_UP = ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D")
_VAE_DOWN = ("DownEncoderBlock2D",) * 4
_VAE_UP = ("UpDecoderBlock2D",) * 4

_TINY_UNET = {"block_out_channels": (32, 64, 64, 64), "cross_attention_dim": 32, "norm_num_groups": 8}
_TINY_TEXT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
# A slimmer full-resolution VAE level (16 channels): 2.5x faster VAE steps for CPU pretraining.
_SLIM_VAE = {"block_out_channels": (16, 32, 64, 64), "layers_per_block": 1, "norm_num_groups": 8}

BUILTIN_MODELS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "unet": _TINY_UNET,
        "vae": {"block_out_channels": (32, 32, 64, 64), "layers_per_block": 1, "norm_num_groups": 8},
        "text": _TINY_TEXT,
    },
    "tiny-slim": {"unet": _TINY_UNET, "vae": _SLIM_VAE, "text": _TINY_TEXT},
    # tiny-slim's VAE and text encoder with a wider U-Net: on a 2-core CPU a step costs ~2x tiny's (measured).
    "small": {
        "unet": {"block_out_channels": (64, 128, 256, 256), "cross_attention_dim": 32, "norm_num_groups": 32},
        "vae": _SLIM_VAE,
        "text": _TINY_TEXT,
    },
    "sd15-random": {
        "unet": {"block_out_channels": (320, 640, 1280, 1280), "cross_attention_dim": 768, "norm_num_groups": 32},
        "vae": {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "norm_num_groups": 32},
        "text": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12},
    },
}


# Trained priors in the repository's demo/ folder (fp16 diffusers folders without tokenizer/: the bundled one is used).
BUILTIN_PRIORS: dict[str, str] = {"tiny-tire": "tiny-tire"}


def prior_dir(name: str) -> Path:
    """Folder of a shipped prior (``demo/priors/<name>``); ConfigError when the demo folder is absent."""
    return demo_dir(f"the {name} prior") / "priors" / BUILTIN_PRIORS[name]


def tokenizer_dir() -> Path:
    """Folder of the bundled CLIP tokenizer files."""
    return Path(str(files("seas") / "assets" / "clip_tokenizer"))


def build_builtin(name: str, seed: int, resolution: int) -> dict[str, Any]:  # Any: the SD modules
    """Build a built-in model's components with seeded random weights.

    Args:
        name: A key of :data:`BUILTIN_MODELS`.
        seed: Weight seed; the same seed gives bit-identical weights.
        resolution: Image size in pixels; only sets the configs' ``sample_size``.

    Returns:
        ``{"unet", "vae", "text_encoder", "tokenizer", "scheduler"}``.
    """
    spec = BUILTIN_MODELS[name]
    generator_state = torch.random.get_rng_state()
    try:
        unet = build_unet(name, seed, resolution)
        torch.manual_seed(seed + 1)
        vae = AutoencoderKL(
            down_block_types=_VAE_DOWN,
            up_block_types=_VAE_UP,
            latent_channels=4,
            sample_size=resolution,
            scaling_factor=0.18215,
            **spec["vae"],
        )
        torch.manual_seed(seed + 2)
        text_config = CLIPTextConfig(
            vocab_size=49408,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            pad_token_id=1,
            bos_token_id=49406,
            eos_token_id=49407,
            **spec["text"],
        )
        text_encoder = CLIPTextModel(text_config)
    finally:
        torch.random.set_rng_state(generator_state)
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir(), local_files_only=True)
    scheduler = DDPMScheduler.from_config(SD_SCHEDULER_CONFIG)
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer, "scheduler": scheduler}


def build_unet(name: str, seed: int, resolution: int) -> UNet2DConditionModel:
    """The seeded random U-Net of built-in model ``name`` alone (the same weights :func:`build_builtin` gives)."""
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return UNet2DConditionModel(
            sample_size=resolution // 8,
            down_block_types=_DOWN,
            up_block_types=_UP,
            layers_per_block=2,
            attention_head_dim=8,
            **BUILTIN_MODELS[name]["unet"],
        )
    finally:
        torch.random.set_rng_state(generator_state)
