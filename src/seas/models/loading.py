"""Loading the base Stable Diffusion components (docs/method.md §2.1).

``--base-model`` may be a built-in random model (``tiny``, ``tiny-slim``, ``sd15-random``), a prior shipped
in the repository's demo/ (``tiny-tire``), a local diffusers folder, a single ``.safetensors``/``.ckpt`` file, or a
Hugging Face hub id. Everything
model-specific (scaling factor, prediction type, heads, text width, pad id) is read from the
loaded configs. Failures to obtain weights end in one :class:`~seas.errors.ModelLoadError` line
that says how to pass a local path, never in a downloader's traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from seas.errors import ModelLoadError
from seas.integrity import verify_weights
from seas.models.builtin import BUILTIN_MODELS, BUILTIN_PRIORS, build_builtin, prior_dir, tokenizer_dir

__all__ = ["SDComponents", "load_base_model"]


class _NothingKeptInFloat32(logging.Filter):
    """Drops diffusers' warning on a dtype cast when the model has no module to keep in float32.

    diffusers warns on every ``.to(dtype)`` of a model whose list of float32 modules exists, even when
    that list is empty (every SD U-Net and VAE): a warning that applies to nothing, printed by every stage.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "should be kept in float32: []" not in record.getMessage()


logging.getLogger("diffusers.models.modeling_utils").addFilter(_NothingKeptInFloat32())

_FIX = (
    "pass a local diffusers folder or a .safetensors/.ckpt file with --base-model, "
    "or download the model once while online (huggingface-cli download <id>)"
)


@dataclass
class SDComponents:
    """The Stable Diffusion parts SeaS trains on, plus where they came from."""

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    scheduler: DDPMScheduler
    identity: dict[str, Any] = field(default_factory=dict)  # Any: JSON values

    @property
    def scaling_factor(self) -> float:
        """VAE latent scale ``s`` (0.18215 for SD 1.x/2.x)."""
        return float(self.vae.config.scaling_factor)

    @property
    def prediction_type(self) -> str:
        """``epsilon`` or ``v_prediction``, from the scheduler config."""
        return str(self.scheduler.config.prediction_type)

    @property
    def text_width(self) -> int:
        """Width of the text context (768 for SD 1.x, 1024 for SD 2.x)."""
        return int(self.text_encoder.config.hidden_size)


def _config_hash(module: Any) -> str:  # Any: a diffusers/transformers model with a config
    config = module.config if isinstance(module.config, dict) else module.config.to_dict()
    text = json.dumps({k: v for k, v in dict(config).items() if not k.startswith("_")}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _from_folder_or_hub(source: str, local_only: bool) -> dict[str, Any]:
    kwargs = {"local_files_only": local_only}
    return {
        "unet": UNet2DConditionModel.from_pretrained(source, subfolder="unet", **kwargs),
        "vae": AutoencoderKL.from_pretrained(source, subfolder="vae", **kwargs),
        "text_encoder": CLIPTextModel.from_pretrained(source, subfolder="text_encoder", **kwargs),
        "tokenizer": CLIPTokenizer.from_pretrained(source, subfolder="tokenizer", **kwargs),
        "scheduler": DDPMScheduler.from_pretrained(source, subfolder="scheduler", **kwargs),
    }


def _from_shipped_prior(name: str) -> dict[str, Any]:
    """A prior of the repository's demo folder: fp16 files, upcast to float32; the bundled CLIP tokenizer."""
    folder = prior_dir(name)
    if not (folder / "unet").is_dir():
        fix = "restore demo/ from the repository, or rebuild it with scripts/build_tiny_tire.sh"
        raise ModelLoadError(folder, f"the built-in prior {name} is missing from this installation", fix)
    kwargs: dict[str, Any] = {"local_files_only": True}
    return {
        "unet": UNet2DConditionModel.from_pretrained(folder, subfolder="unet", **kwargs).float(),
        "vae": AutoencoderKL.from_pretrained(folder, subfolder="vae", **kwargs).float(),
        "text_encoder": CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", **kwargs).float(),
        "tokenizer": CLIPTokenizer.from_pretrained(tokenizer_dir(), local_files_only=True),
        "scheduler": DDPMScheduler.from_pretrained(folder, subfolder="scheduler", **kwargs),
    }


def _from_single_file(path: Path) -> dict[str, Any]:
    from diffusers import StableDiffusionPipeline  # imported here: only this path needs the pipeline class

    pipe = StableDiffusionPipeline.from_single_file(str(path))
    return {
        "unet": pipe.unet,
        "vae": pipe.vae,
        "text_encoder": pipe.text_encoder,
        "tokenizer": pipe.tokenizer,
        "scheduler": DDPMScheduler.from_config(pipe.scheduler.config),
    }


def load_base_model(spec: str, seed: int = 0, resolution: int = 512) -> SDComponents:
    """Load or build the base model named by ``spec``.

    Args:
        spec: Built-in name, folder, single file, or hub id.
        seed: Weight seed for built-in models (ignored otherwise).
        resolution: Image size, for built-in models' ``sample_size``.

    Returns:
        The components, in float32, in eval mode, on CPU.

    Raises:
        ModelLoadError: The model cannot be found or read.
    """
    path = Path(spec).expanduser()
    if spec in BUILTIN_MODELS:
        parts = build_builtin(spec, seed, resolution)
        identity: dict[str, Any] = {"kind": "builtin", "name": spec, "seed": seed}
    elif spec in BUILTIN_PRIORS:
        verify_weights(prior_dir(spec), "restore demo/ from the repository (git checkout demo) or rebuild the prior")
        parts = _from_shipped_prior(spec)
        unet_file = prior_dir(spec) / "unet" / "diffusion_pytorch_model.safetensors"
        identity = {"kind": "builtin-prior", "name": spec, "unet_sha256": _file_hash(unet_file)}
    elif path.is_dir():
        if not (path / "unet").is_dir():
            raise ModelLoadError(path, "not a diffusers model folder (no unet/ sub-folder)", _FIX)
        verify_weights(path, "the folder changed since seas pretrain wrote it: rebuild it or restore a copy")
        parts = _guarded(lambda: _from_folder_or_hub(str(path), local_only=True), path)
        identity = {"kind": "folder", "path": str(path.resolve())}
    elif path.is_file():
        if path.suffix.lower() not in (".safetensors", ".ckpt"):
            raise ModelLoadError(path, "unsupported model file type", "use a .safetensors or .ckpt checkpoint")
        parts = _guarded(lambda: _from_single_file(path), path)
        identity = {"kind": "file", "path": str(path.resolve()), "bytes": path.stat().st_size}
    elif spec.startswith((".", "/", "~")) or path.suffix.lower() in (".safetensors", ".ckpt") or spec.count("/") != 1:
        raise ModelLoadError(spec, "no such model folder or file", _FIX)
    else:
        parts = _guarded(lambda: _from_folder_or_hub(spec, local_only=False), spec)
        identity = {"kind": "hub", "id": spec}
    if len(parts["tokenizer"]) < 3:  # transformers builds an empty tokenizer when the files are missing
        raise ModelLoadError(
            spec,
            "has no tokenizer files (tokenizer/vocab.json and merges.txt)",
            "copy the tokenizer/ folder of the model it was trained from into it",
        )
    identity["unet_config"] = _config_hash(parts["unet"])
    for name in ("unet", "vae", "text_encoder"):
        # fp16 folders (fp16 variants, shipped priors) load as stored with recent transformers: every stage
        # expects float32 masters and casts for autocast / fp16 generation itself.
        parts[name] = parts[name].float().eval()
    return SDComponents(identity=identity, **parts)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _guarded(load: Any, subject: str | Path) -> dict[str, Any]:  # Any: a zero-argument loader
    """Run ``load``, turning any download/read failure into one ModelLoadError line."""
    try:
        return load()  # type: ignore[no-any-return]
    except ModelLoadError:
        raise
    except Exception as exc:  # hub, network, and file-format errors come in many classes
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelLoadError(subject, f"cannot load the model ({type(exc).__name__}: {first})", _FIX) from exc
