"""The UA prompts as token ids and text contexts: tokenised once, the DA token columns located once."""

from __future__ import annotations

from typing import Any

import torch

from seas.models.loading import SDComponents
from seas.stage1.tokens import TokenMap, token_positions

__all__ = ["encode_prompts", "prompt_tables", "tokenize"]


def tokenize(tokenizer: Any, prompt: str) -> torch.Tensor:  # Any: CLIP tokenizer
    """``[T]`` token ids of ``prompt``, padded to the tokenizer's length, no attention mask (docs/method.md §2.3)."""
    return tokenizer(
        prompt, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids[0]


def prompt_tables(
    parts: SDComponents, token_map: TokenMap
) -> tuple[dict[str | None, torch.Tensor], dict[str, torch.Tensor]]:
    """Token ids of every prompt and the token columns DA reads, located once in the tokenizer output.

    Returns:
        (defect type or None for the normal prompt -> ``[T]`` ids, defect type -> ``[m]`` columns of its
        product tokens then defect tokens).
    """
    tok = parts.tokenizer
    prompt_ids: dict[str | None, torch.Tensor] = {None: tokenize(tok, token_map.prompt(None))}
    positions = {}
    for defect_type in token_map.defect_types:
        ids = tokenize(tok, token_map.prompt(defect_type))
        prompt_ids[defect_type] = ids
        wanted = torch.tensor(tok.convert_tokens_to_ids(list(token_map.normal) + list(token_map.anomaly[defect_type])))
        positions[defect_type] = token_positions(ids[None], wanted[None])[0]
    return prompt_ids, positions


def encode_prompts(
    text_encoder: Any, prompt_ids: dict[str | None, torch.Tensor], keys: list[str | None], device: torch.device
) -> torch.Tensor:
    """Text context ``[B, T, D]`` for per-row prompt keys, each distinct prompt encoded once."""
    unique = list(dict.fromkeys(keys))
    ids = torch.stack([prompt_ids[k] for k in unique]).to(device)  # [U, T]
    hidden = text_encoder(ids)[0]  # [U, T, D]
    return hidden[torch.tensor([unique.index(k) for k in keys], device=device)]
