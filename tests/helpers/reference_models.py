"""The reference step's tiny models, assembled from what the repository holds.

The U-Net is rebuilt from its recorded config and seed (``torch.manual_seed(0)``, as its provenance
README says) instead of shipping 13 MB of random weights; its tensors are checked against the
digest of the authors' file, so a change in diffusers' initialisation fails here, by name. The
tokenizer is the bundled CLIP vocabulary plus the fixture's added tokens.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from transformers import CLIPTokenizer

from seas.models.builtin import tokenizer_dir

# sha256 over the sorted names and raw bytes of the authors' unet_tiny/diffusion_pytorch_model.safetensors
UNET_DIGEST = "7ca8d98493ce407cef57570ce4d0940eeecc637618828c4fa9e2a5f9b99ea692"
UNET_SEED = 0


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over a state dict's sorted names and tensor bytes."""
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].contiguous().numpy().tobytes())
    return digest.hexdigest()


def reference_unet(folder: Path) -> UNet2DConditionModel:
    """The fixture's U-Net, rebuilt bit-identically from ``unet_tiny/config.json`` and its seed."""
    config = json.loads((folder / "unet_tiny" / "config.json").read_text(encoding="utf-8"))
    torch.manual_seed(UNET_SEED)
    unet = UNet2DConditionModel.from_config(config)
    got = state_digest(unet.state_dict())
    assert got == UNET_DIGEST, f"rebuilt unet_tiny differs from the authors' weights ({got}): diffusers' init changed"
    return unet


def reference_tokenizer(folder: Path, scratch: Path) -> CLIPTokenizer:
    """The fixture's tokenizer: its added-token files beside the bundled CLIP vocabulary, in ``scratch``."""
    target = scratch / "tokenizer_tiny"
    shutil.copytree(folder / "tokenizer_tiny", target)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(tokenizer_dir() / name, target / name)
    return CLIPTokenizer.from_pretrained(target)
