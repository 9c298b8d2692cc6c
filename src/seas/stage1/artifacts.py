"""Loading a finished stage-1 run's generator: the base model with the run's U-Net and tokens swapped in.

The folder's layout and its other reads are :mod:`seas.run_folder`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from diffusers import UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from seas.errors import ModelLoadError
from seas.integrity import verify_weights
from seas.models.loading import SDComponents, load_base_model
from seas.run_folder import RunFolder, missing_generator_files, read_stage1_configs, read_token_map
from seas.stage1.tokens import TokenMap, load_token_rows
from seas.training import weights_problem_of

__all__ = ["load_generator"]

T = TypeVar("T")


def _load(folder: Path, fix: str, load: Callable[[], T]) -> T:
    """``load()``, with a damaged config or vocabulary file of ``folder`` reported as one line."""
    try:
        return load()
    except (OSError, ValueError, KeyError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise ModelLoadError(folder, f"cannot be loaded, a file in it is damaged ({first})", fix) from exc


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
        raise ModelLoadError(
            missing[0],
            "missing from this finished stage-1 run",
            f"rerun seas train --run-dir {run_dir} (same flags) to write it again",
        )
    verify_weights(run_dir, f"rerun seas train --run-dir {run_dir} (same flags) to write it again")
    model_cfg = read_stage1_configs(run_dir)[1]
    parts = load_base_model(model_cfg.base_model, model_cfg.model_seed, model_cfg.resolution)
    fix = f"rerun seas train --run-dir {run_dir} (same flags) after deleting the damaged folder"
    parts.unet = _load(run.unet, fix, lambda: UNet2DConditionModel.from_pretrained(run.unet).eval())
    parts.tokenizer = _load(run.tokenizer, fix, lambda: CLIPTokenizer.from_pretrained(run.tokenizer))
    if run.text_encoder.is_dir():
        parts.text_encoder = _load(
            run.text_encoder, fix, lambda: CLIPTextModel.from_pretrained(run.text_encoder).eval()
        )
    else:
        load_token_rows(run.token_rows, parts.text_encoder)
    embeddings = parts.text_encoder.get_input_embeddings()
    problem = weights_problem_of([parts.unet, embeddings])
    if problem is not None:  # a diverged run written before the divergence guard, or weights edited by hand
        raise ModelLoadError(
            run.unet if "model 0" in problem else run.token_rows,
            f"{problem}: the generator diverged in training and would draw flat images",
            "train again into a new run folder with a lower --learning-rate",
        )
    return parts, read_token_map(run_dir)
