"""Position encodings a model is built with (``ModelSpec.positional``): each variant trains,
saves and loads, and patching on it equals transformer_lens (the resume-from-layer and
one-position paths must honour the variant's positions)."""

from __future__ import annotations

import pytest
import torch
from _reference import assert_head_by_pos_matches_transformer_lens

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.models import POSITIONALS, build_model, save
from arithlens.patching import make_metric
from arithlens.tokens import encode, encode_pairs

TASK = al.TaskSpec(op="add", n_digits=2)


@pytest.mark.parametrize("positional", POSITIONALS)
def test_each_position_encoding_trains_saves_and_patches_exactly(positional, tmp_path):
    model = build_model("2L", TASK, seed=1, positional=positional)
    assert ("pos_embed.weight" in model.state_dict()) == (positional == "standard")
    model = al.train(
        TASK, model, al.TrainConfig(steps=30, eval_every=30, n_test=50), progress=False
    )
    save(model, tmp_path / "m")
    back = al.load(tmp_path / "m")
    tokens = encode(al.tasks.sample(TASK, 8, seed=3)).tokens
    assert back.cfg.positional_embedding_type == positional
    assert torch.equal(back(tokens), model(tokens))
    batch = encode_pairs(al.tasks.corrupt_pairs(TASK, 8, change="a.units", seed=0))
    metric = make_metric("logit_diff", batch)
    assert_head_by_pos_matches_transformer_lens(model, batch, metric, min_effect=1e-3)
    probes = al.probes.fit(model, "carry.tens", n=300, controls=("majority",), progress=False)
    assert probes.score.shape[1] == model.cfg.n_layers + 1


def test_an_unknown_position_encoding_is_named():
    with pytest.raises(ArithlensError, match="positional='alibi' is unknown"):
        build_model("1L", TASK, positional="alibi")
