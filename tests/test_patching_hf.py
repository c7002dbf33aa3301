"""Patching on a tiny local Hugging Face GPT-2 checkpoint (built here; nothing is downloaded)."""

from __future__ import annotations

import os

import pytest
import torch
from _reference import reference_attribution, reference_path_patch
from transformer_lens import patching as tlp

from arithlens.patching import (
    activation_patch,
    attribution_patch,
    can_resume,
    encode_pairs,
    make_metric,
    path_patch,
)
from arithlens.tasks import TaskSpec, corrupt_pairs
from arithlens.tokens.tokenizer import DEFAULT_VOCAB


@pytest.fixture(scope="module")
def hf_gpt2(tmp_path_factory):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformer_lens.model_bridge import TransformerBridge
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("gpt2-tiny")
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(DEFAULT_VOCAB), n_positions=32, n_embd=64, n_layer=2, n_head=4
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tok = Tokenizer(models.WordLevel({c: i for i, c in enumerate(DEFAULT_VOCAB)}, unk_token="_"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="_", pad_token="_", eos_token="."
    ).save_pretrained(folder)
    model = TransformerBridge.boot_transformers(str(folder))
    model.eval()
    model.task = TaskSpec(op="add", n_digits=3)  # its vocabulary is arithlens's characters
    return model


@pytest.fixture(scope="module")
def hf_batch():
    return encode_pairs(corrupt_pairs(TaskSpec(op="add", n_digits=3), 8, change="b.units", seed=0))


def test_hf_gpt2_takes_the_fast_path_and_matches_transformer_lens(hf_gpt2, hf_batch):
    # GPT-2's blocks reproduce the logits from a cached residual, so the bridge resumes from the
    # patched layer (and head-output patches take the one-position shortcut, with GPT-2's
    # Conv1D output projection read transposed); the numbers stay transformer_lens's
    assert can_resume(hf_gpt2)
    metric = make_metric("logit_diff", hf_batch)
    cache = hf_gpt2.run_with_cache(hf_batch.clean.tokens)[1]
    for component, by, ref in [
        ("z", ("layer", "pos", "head"), tlp.get_act_patch_attn_head_out_by_pos),
        ("resid_pre", ("layer", "pos"), tlp.get_act_patch_resid_pre),
        ("v", ("layer", "head"), tlp.get_act_patch_attn_head_v_all_pos),
    ]:
        ours = activation_patch(hf_gpt2, hf_batch, component, by=by, metric=metric, progress=False)
        theirs = ref(hf_gpt2, hf_batch.corrupt.tokens, cache, lambda lg: metric(lg).mean())
        assert torch.allclose(ours.values, theirs, atol=1e-5), component
        assert ours.effect().abs().max() > 1e-4, component  # not a comparison of zeros


def test_hf_bridge_path_and_attribution_patching_run_with_real_effects(hf_gpt2, hf_batch):
    metric = make_metric("logit_diff", hf_batch)
    # random weights: effects of ~1e-3 (the clean-corrupt gap is 0.02), so a tight tolerance
    for mlps in ("recompute", "freeze"):
        for receivers in ("logits", [(1, 0, "q"), (1, 2, "v")]):
            path = path_patch(
                hf_gpt2, hf_batch, receivers=receivers, metric=metric, mlps=mlps, progress=False
            )
            ref = reference_path_patch(hf_gpt2, hf_batch, metric, mlps=mlps, receivers=receivers)
            assert torch.allclose(path.values, ref, atol=1e-6), (mlps, receivers)
            assert path.effect().abs().max() > 2e-5  # 20x the tolerance
    qkv = path_patch(
        hf_gpt2,
        hf_batch,
        receivers=[(1, 0, "q"), (1, 2, "v")],
        senders=[(0, 1), (1, 3)],
        progress=False,
    )
    assert qkv.effect()[1, 3].item() == pytest.approx(
        0.0, abs=1e-6
    )  # sender after the receivers' layer input
    est = attribution_patch(hf_gpt2, hf_batch, "z", by=("layer", "head"), metric=metric)
    ref = reference_attribution(hf_gpt2, hf_batch, metric)
    assert torch.allclose(est.effect(), ref, atol=1e-6, rtol=1e-3) and ref.abs().max() > 1e-4
