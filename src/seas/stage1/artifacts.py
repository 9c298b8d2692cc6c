"""Loading a finished stage-1 run's generator: the base model with the run's U-Net and tokens swapped in.

The folder's layout and its other reads are :mod:`seas.run_folder`'s.
"""

from __future__ import annotations

from pathlib import Path

from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from seas.errors import ModelLoadError
from seas.integrity import verify_weights
from seas.models.loading import SDComponents, load_base_model
from seas.run_folder import RunFolder, missing_generator_files, read_stage1_configs, read_token_map
from seas.stage1.tokens import TokenMap, load_token_rows

__all__ = ["load_generator"]


def load_generator(run_dir: Path) -> tuple[SDComponents, TokenMap]:
    """Base model components with the run's U-Net, tokenizer, token embeddings and adapted VAE swapped in.

    Raises:
        ModelLoadError: The folder is not a finished stage-1 run.
    """
    run = RunFolder(run_dir)
    if not run.finished.is_file():
        raise ModelLoadError(run_dir, "not a finished stage-1 run (no train_complete.json)", "run seas train first")
    missing = missing_generator_files(run_dir)
    if missing:  # a local path: never let the loaders fall through to a hub lookup
        raise ModelLoadError(missing[0], "missing from this finished stage-1 run",
                             f"rerun seas train --output-dir {run_dir} (same flags) to write it again")  # fmt: skip
    verify_weights(run_dir, f"rerun seas train --output-dir {run_dir} (same flags) to write it again")
    model_cfg = read_stage1_configs(run_dir)[1]
    parts = load_base_model(model_cfg.base_model, model_cfg.model_seed, model_cfg.resolution)
    parts.unet = UNet2DConditionModel.from_pretrained(run.unet).eval()
    if run.vae.is_dir():  # vae_adapt_steps > 0; listed in sha256.json, so verify_weights saw it
        parts.vae = AutoencoderKL.from_pretrained(run.vae).eval()
    parts.tokenizer = CLIPTokenizer.from_pretrained(run.tokenizer)
    if run.text_encoder.is_dir():
        parts.text_encoder = CLIPTextModel.from_pretrained(run.text_encoder).eval()
    else:
        load_token_rows(run.token_rows, parts.text_encoder)
    return parts, read_token_map(run_dir)
