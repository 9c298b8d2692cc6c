"""Unbalanced Abnormal (UA) prompt tokens: the token map, new embedding rows, prompts and positions.

Paper section 3.1 ("Unbalanced Abnormal Text Prompt"); docs/method.md §2.3. One product token (``ob1``)
and four tokens per defect type (type ``i`` of the sorted types owns ``sks{4i+1}..sks{4i+4}``),
initialised as copies of the rows of "object" and "defect". Prompts: ``a ob1 with sks1 sks2 sks3
sks4`` for a defect image, ``a ob1`` for a normal image. Token positions are always read from the
tokenizer output, never hard-coded (pitfall 3).

``embeddings: new`` keeps the new rows in their own parameter, spliced in at lookup by
:class:`SplicedEmbedding`, so the original matrix is untouched by the optimiser, weight decay
included (pitfall 22). ``embeddings: all`` trains the whole matrix, as the reference does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from seas.errors import ConfigError, ModelLoadError

__all__ = [
    "SplicedEmbedding",
    "TokenMap",
    "add_prompt_tokens",
    "load_token_rows",
    "make_token_map",
    "save_token_rows",
    "token_positions",
]

TOKEN_MAP_VERSION = 1


@dataclass(frozen=True)
class TokenMap:
    """Which learned token strings stand for the product and for each defect type.

    Attributes:
        defect_types: Sorted defect type names; position ``i`` owns the ``i``-th anomaly token group.
        normal: Product token strings (``("ob1",)``).
        anomaly: Defect type -> its token strings.
        anomaly_template: Prompt of a defect image; ``{normal}`` and ``{anomaly}`` are filled in.
        normal_template: Prompt of a normal image.
        normal_init: Word whose embedding row initialises the product tokens.
        anomaly_init: Word whose embedding row initialises every anomaly token.
        base_model: Identity of the base model the tokens were trained on.
    """

    defect_types: tuple[str, ...]
    normal: tuple[str, ...]
    anomaly: dict[str, tuple[str, ...]]
    anomaly_template: str = "a {normal} with {anomaly}"
    normal_template: str = "a {normal}"
    normal_init: str = "object"
    anomaly_init: str = "defect"
    base_model: dict[str, Any] = field(default_factory=dict)  # Any: JSON values

    @property
    def new_tokens(self) -> list[str]:
        """All added token strings in id order: product tokens, then each type's group in type order."""
        return list(self.normal) + [t for d in self.defect_types for t in self.anomaly[d]]

    def prompt(self, defect_types: str | list[str] | None) -> str:
        """The UA prompt of one defect type (or several, for combined defects), or the normal prompt."""
        normal = " ".join(self.normal)
        if defect_types is None:
            return self.normal_template.format(normal=normal)
        names = [defect_types] if isinstance(defect_types, str) else defect_types
        unknown = [d for d in names if d not in self.anomaly]
        if unknown:
            known = ", ".join(self.defect_types)
            raise ConfigError(None, f"unknown defect type(s) {', '.join(unknown)}", f"known types: {known}")
        anomaly = " ".join(t for d in names for t in self.anomaly[d])
        return self.anomaly_template.format(normal=normal, anomaly=anomaly)

    def to_json(self) -> str:
        """Serialise with a format version."""
        return json.dumps({"version": TOKEN_MAP_VERSION, **asdict(self)}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TokenMap:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenMap:  # Any: JSON
        """The token map of a decoded ``token_map.json`` (KeyError or TypeError when it is not one)."""
        data = dict(data)
        data.pop("version", None)
        return cls(
            defect_types=tuple(data["defect_types"]),
            normal=tuple(data["normal"]),
            anomaly={k: tuple(v) for k, v in data["anomaly"].items()},
            anomaly_template=data["anomaly_template"],
            normal_template=data["normal_template"],
            normal_init=data["normal_init"],
            anomaly_init=data["anomaly_init"],
            base_model=data.get("base_model", {}),
        )


def make_token_map(
    defect_types: list[str] | tuple[str, ...],
    normal_token: str = "ob",
    anomaly_token: str = "sks",
    normal_tokens: int = 1,
    anomaly_tokens: int = 4,
    normal_init: str = "object",
    anomaly_init: str = "defect",
    base_model: dict[str, Any] | None = None,  # Any: JSON values
) -> TokenMap:
    """Token map for ``defect_types`` (sorted here), numbering tokens from 1 as the reference does."""
    types = tuple(sorted(defect_types))
    normal = tuple(f"{normal_token}{j + 1}" for j in range(normal_tokens))
    anomaly = {
        d: tuple(f"{anomaly_token}{i * anomaly_tokens + j + 1}" for j in range(anomaly_tokens))
        for i, d in enumerate(types)
    }
    return TokenMap(
        types, normal, anomaly, normal_init=normal_init, anomaly_init=anomaly_init, base_model=base_model or {}
    )


class SplicedEmbedding(nn.Module):
    """A frozen token-embedding matrix plus trainable rows for ids past its end.

    Ids below ``base.num_embeddings`` read the frozen matrix; ids at or above it read
    ``new_rows[id - base.num_embeddings]``. Only ``new_rows`` is a trainable parameter.
    """

    def __init__(self, base: nn.Embedding, new_rows: torch.Tensor) -> None:
        super().__init__()
        self.base = base
        self.base.weight.requires_grad_(False)
        self.new_rows = nn.Parameter(new_rows.detach().clone().float())
        self.first_new_id = base.num_embeddings

    @property
    def weight(self) -> torch.Tensor:
        """The full matrix (frozen rows, then new rows), for code that reads ``.weight``."""
        return torch.cat([self.base.weight, self.new_rows.to(self.base.weight.dtype)], dim=0)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Look up ``input_ids`` ``[B, T]`` -> ``[B, T, D]``."""
        is_new = input_ids >= self.first_new_id
        from_base = self.base(input_ids.masked_fill(is_new, 0))
        from_new = F.embedding((input_ids - self.first_new_id).clamp(min=0), self.new_rows)
        return torch.where(is_new.unsqueeze(-1), from_new.to(from_base.dtype), from_base)


def _single_token_id(tokenizer: Any, word: str) -> int:  # Any: a CLIP tokenizer
    ids = tokenizer.encode(word, add_special_tokens=False)
    if len(ids) != 1:
        raise ConfigError(repr(word), f"is {len(ids)} tokens, not one", "choose an initialiser word that is one token")
    return int(ids[0])


def add_prompt_tokens(
    tokenizer: Any, text_encoder: Any, token_map: TokenMap, embeddings: str
) -> list[nn.Parameter]:  # Any: CLIP tokenizer / text model
    """Add the token map's tokens to ``tokenizer`` and their rows to ``text_encoder``.

    Args:
        tokenizer: CLIP tokenizer, modified in place.
        text_encoder: CLIP text model, modified in place; all its parameters are frozen here.
        token_map: Tokens to add.
        embeddings: ``new`` (splice a separate parameter of new rows) or ``all`` (resize the matrix).

    Returns:
        The trainable embedding parameters (the new rows, or the whole matrix).

    Raises:
        ConfigError: A token already exists in the vocabulary, or an initialiser is not one token.
    """
    new = token_map.new_tokens
    vocab = tokenizer.get_vocab()
    clashes = [t for t in new if t in vocab or f"{t}</w>" in vocab]  # a word-final BPE entry would be shadowed
    if clashes:
        raise ConfigError(", ".join(clashes), "already in the tokenizer vocabulary", "choose other token strings")
    first = len(tokenizer)
    if tokenizer.add_tokens(new) != len(new):
        raise ConfigError(", ".join(new), "could not all be added to the tokenizer", "choose other token strings")
    init_ids = [_single_token_id(tokenizer, token_map.normal_init)] * len(token_map.normal)
    init_ids += [_single_token_id(tokenizer, token_map.anomaly_init)] * (len(new) - len(token_map.normal))
    text_encoder.requires_grad_(False)
    base = text_encoder.get_input_embeddings()
    rows = base.weight.detach()[torch.tensor(init_ids)].clone()
    if embeddings == "new":
        if base.num_embeddings != first:
            raise ModelLoadError(None, f"embedding matrix has {base.num_embeddings} rows, tokenizer {first}", None)
        spliced = SplicedEmbedding(base, rows)
        text_encoder.set_input_embeddings(spliced)
        return [spliced.new_rows]
    text_encoder.resize_token_embeddings(len(tokenizer))
    matrix = text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        matrix[first : first + len(new)] = rows.to(matrix.dtype)
    matrix.requires_grad_(True)
    return [matrix]


def save_token_rows(path: Path, text_encoder: Any, token_map: TokenMap, tokenizer: Any) -> None:  # Any: CLIP
    """Store only the new rows (``embeddings: new``) with their token ids, as safetensors."""
    ids = tokenizer.convert_tokens_to_ids(token_map.new_tokens)
    matrix = text_encoder.get_input_embeddings().weight.detach().float().cpu()
    save_file({"rows": matrix[torch.tensor(ids)].contiguous(), "ids": torch.tensor(ids)}, str(path))


def load_token_rows(path: Path, text_encoder: Any) -> None:  # Any: CLIP text model
    """Splice rows saved by :func:`save_token_rows` into a base text encoder (its tokenizer already extended)."""
    saved = load_file(str(path))
    base = text_encoder.get_input_embeddings()
    if int(saved["ids"][0]) != base.num_embeddings:
        raise ModelLoadError(
            path, "token rows do not continue this text encoder's vocabulary", "use the run's base model"
        )
    text_encoder.set_input_embeddings(SplicedEmbedding(base, saved["rows"]))


def token_positions(input_ids: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """Column of each wanted token in each tokenised prompt.

    Args:
        input_ids: ``[B, T]`` tokenised prompts.
        token_ids: ``[B, m]`` token id to locate per row.

    Returns:
        ``[B, m]`` int64 positions.

    Raises:
        ConfigError: A token does not occur exactly once (truncated or malformed prompt).
    """
    hits = input_ids[:, None, :] == token_ids[:, :, None]  # [B, m, T]
    counts = hits.sum(dim=-1)
    if not bool((counts == 1).all()):
        raise ConfigError(
            None, "a prompt token is missing or repeated in the tokenised prompt", "shorten the template"
        )
    return hits.int().argmax(dim=-1)
