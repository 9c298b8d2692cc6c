from __future__ import annotations

import pytest
import torch

from seas.errors import ConfigError
from seas.models.builtin import build_builtin
from seas.stage1.tokens import SplicedEmbedding, TokenMap, add_prompt_tokens, make_token_map, token_positions


def test_token_numbering_and_prompts_follow_sorted_types() -> None:
    tm = make_token_map(["hole", "cut", "combined"])
    assert tm.defect_types == ("combined", "cut", "hole")
    assert tm.anomaly["cut"] == ("sks5", "sks6", "sks7", "sks8")
    assert tm.prompt("hole") == "a ob1 with sks9 sks10 sks11 sks12"
    assert tm.prompt(None) == "a ob1"
    assert tm.prompt(["cut", "hole"]) == "a ob1 with sks5 sks6 sks7 sks8 sks9 sks10 sks11 sks12"
    assert TokenMap.from_json(tm.to_json()) == tm
    with pytest.raises(ConfigError, match=r"unknown defect type.*known types: combined, cut, hole"):
        tm.prompt("scratch")
    custom = make_token_map(["a", "b"], normal_token="prd", anomaly_token="dft", normal_tokens=2, anomaly_tokens=3)
    assert custom.prompt("b") == "a prd1 prd2 with dft4 dft5 dft6"


def test_positions_come_from_the_tokenizer_output() -> None:
    tok = build_builtin("tiny", 0, 64)["tokenizer"]
    tm = make_token_map(["x", "y"], normal_tokens=2, anomaly_tokens=3)
    tok.add_tokens(tm.new_tokens)
    ids = tok(tm.prompt("y"), padding="max_length", max_length=77, return_tensors="pt").input_ids
    wanted = torch.tensor([tok.convert_tokens_to_ids(["ob1", "ob2", "sks4", "sks5", "sks6"])])
    assert token_positions(ids, wanted).tolist() == [[2, 3, 5, 6, 7]]
    with pytest.raises(ConfigError, match="missing or repeated"):
        token_positions(ids, torch.tensor([tok.convert_tokens_to_ids(["sks1"])]))


def test_new_rows_train_and_every_other_row_stays_bit_identical() -> None:
    parts = build_builtin("tiny", 0, 64)
    tok, te = parts["tokenizer"], parts["text_encoder"]
    before = te.get_input_embeddings().weight.detach().clone()
    tm = make_token_map(["crack"])
    params = add_prompt_tokens(tok, te, tm, "new")
    new_ids = tok.convert_tokens_to_ids(tm.new_tokens)
    assert new_ids == list(range(49408, 49413))
    object_id, defect_id = (tok.encode(w, add_special_tokens=False)[0] for w in ("object", "defect"))
    assert torch.equal(params[0][0], before[object_id])  # rows copied, not computed
    assert torch.equal(params[0][1], before[defect_id])  # rows copied, not computed
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.5)  # strong decay: would shrink frozen rows
    ids = tok(tm.prompt("crack"), padding="max_length", max_length=77, return_tensors="pt").input_ids
    for _ in range(3):
        te(ids)[0].square().mean().backward()
        opt.step()
        opt.zero_grad()
    spliced = te.get_input_embeddings()
    assert isinstance(spliced, SplicedEmbedding)
    assert torch.equal(spliced.base.weight, before)  # frozen rows are not touched
    assert not torch.equal(params[0][1], before[defect_id])  # an optimiser step changed it
    assert [n for n, p in te.named_parameters() if p.requires_grad] == ["embeddings.token_embedding.new_rows"]


def test_all_mode_resizes_and_trains_the_whole_matrix() -> None:
    parts = build_builtin("tiny", 0, 64)
    tok, te = parts["tokenizer"], parts["text_encoder"]
    params = add_prompt_tokens(tok, te, make_token_map(["a", "b"]), "all")
    assert params[0].shape[0] == 49408 + 9
    assert params[0] is te.get_input_embeddings().weight


def test_clashing_tokens_and_multi_token_initialisers_are_refused() -> None:
    parts = build_builtin("tiny", 0, 64)
    add_prompt_tokens(parts["tokenizer"], parts["text_encoder"], make_token_map(["a"]), "new")
    with pytest.raises(ConfigError, match="ob1, sks1, sks2, sks3, sks4: already in the tokenizer vocabulary"):
        add_prompt_tokens(parts["tokenizer"], parts["text_encoder"], make_token_map(["a"]), "new")
    parts = build_builtin("tiny", 0, 64)
    tm = make_token_map(["a"], anomaly_init="microfracture")
    with pytest.raises(ConfigError, match=r"'microfracture': is [0-9]+ tokens, not one"):
        add_prompt_tokens(parts["tokenizer"], parts["text_encoder"], tm, "new")
