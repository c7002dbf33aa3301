"""Pretrained-model support on tiny local Hugging Face checkpoints (GPT-2, GPT-NeoX, Llama with
grouped-query attention), each with a tokenizer made here. Nothing is downloaded: the suite runs
with HF_HUB_OFFLINE=1."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from _reference import (
    assert_head_by_pos_matches_transformer_lens,
    reference_attribution,
    reference_path_patch,
)

import arithlens as al
from arithlens.cli import main
from arithlens.errors import ArithlensError
from arithlens.llm import (
    PromptBuilder,
    compare_finetuning,
    component_masks,
    faithfulness,
    key_heads,
)
from arithlens.models.toy import ARCHS, toy_checkpoint
from arithlens.patching import activation_patch, attribution_patch, path_patch
from arithlens.probes import causal_flip, fit
from arithlens.tasks import TaskSpec

ADD2 = TaskSpec(op="add", n_digits=2, format="plain", pad=False)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return {a: toy_checkpoint(tmp_path_factory.mktemp(a), a) for a in ARCHS}


@pytest.fixture(scope="module")
def models(folders):
    return {a: al.load(f, template="{a}+{b}=", shots=1) for a, f in folders.items()}


# ----------------------------------------------------------------------------- loading


def test_load_local_folders_of_three_architectures(models):
    assert type(models["gpt2"].encoder) is PromptBuilder and models["gpt2"].task == ADD2
    assert models["llama"].cfg.n_key_value_heads == 2 and models["llama"].cfg.n_heads == 4
    for m in models.values():
        assert not m.training and m.source


def test_offline_cache_hit_and_miss(folders, tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(
        ArithlensError,
        match=rf"'someone/tiny-llama' is not in the local Hugging Face cache {tmp_path}",
    ):
        al.load("someone/tiny-llama", offline=True)
    # the same name, once it is in the cache, loads without the network
    snap = tmp_path / "models--someone--tiny-llama" / "snapshots" / "abc123"
    shutil.copytree(folders["llama"], snap)
    (tmp_path / "models--someone--tiny-llama" / "refs").mkdir()
    (tmp_path / "models--someone--tiny-llama" / "refs" / "main").write_text("abc123")
    model = al.load("someone/tiny-llama", offline=True)
    assert model.source == str(snap) and model.cfg.n_layers == 2


def test_unsupported_architecture_is_named(folders, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(folders["gpt2"], bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["architectures"] = ["FrobnicatorForCausalLM"]
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(
        ArithlensError, match="'FrobnicatorForCausalLM'.*not supported by TransformerBridge"
    ):
        al.load(bad)


def test_native_models_refuse_llm_options():
    with pytest.raises(ArithlensError, match=r"\['template'\] apply to Hugging Face models"):
        al.load("add3-2L", template="{a}+{b}=")


# ----------------------------------------------------------------------------- tokenization and prompts


def test_number_tokenization_is_classified(models):
    assert al.llm.tokenization_summary(models["gpt2"].encoder.tokenizer)["scheme"] == "irregular"
    llama = al.llm.tokenization_summary(models["llama"].encoder.tokenizer)
    assert llama["scheme"] == "single digits" and llama["tokens_by_digits"][4] == 4.0
    frame = al.llm.number_tokenization(models["llama"].encoder.tokenizer, [7, 1035])
    assert frame["tokens"].tolist() == [["7"], ["1", "0", "3", "5"]]


@pytest.mark.parametrize("arch", ARCHS)
def test_answer_digits_map_to_the_tokens_that_hold_them(models, arch):
    enc = models[arch].encoder
    problems = enc.sample(40, seed=3)
    batch = enc.encode(problems)
    tok = enc.tokenizer
    assert (batch.lengths == batch.tokens.shape[1]).all()  # one layout
    for i in range(len(problems)):
        answer = str(sum(problems.ints()[i]))
        for k, digit in enumerate(reversed(answer)):
            piece = tok.decode([int(batch.tokens[i, batch.answer_pos[i, k]])])
            assert digit in piece, (batch.texts[i], k, piece)
        # the answer tokens, in order, spell the answer
        ids = batch.tokens[i, batch.prompt_len[i] :].tolist()
        assert "".join(tok.decode([t]) for t in ids) == answer
    assert batch.texts[0].count("\n") == 1  # one few-shot example


def test_pairs_share_one_layout_and_impossible_pairings_are_refused(models):
    enc = models["gpt2"].encoder
    batch = enc.pairs(24, change="b.units", seed=1)
    assert torch.equal(batch.clean.answer_pos, batch.corrupt.answer_pos)
    assert (batch.pairs.clean.a == batch.pairs.corrupt.a).all()
    assert (batch.pairs.clean.b[:, 0] != batch.pairs.corrupt.b[:, 0]).all()
    teens = PromptBuilder(enc.tokenizer, ADD2, "{a}+{b}=", operand_range=(10, 19))
    with pytest.raises(ArithlensError, match=r"only 0 of 16 .* 'a.tens' corruption.*\(10, 19\)"):
        teens.pairs(4, change="a.tens")  # a new tens digit always leaves 10..19
    with pytest.raises(ArithlensError, match="template 'What is {a}\\?' lacks an operand slot"):
        PromptBuilder(enc.tokenizer, ADD2, "What is {a}?")


def test_natural_language_template(models):
    enc = PromptBuilder(
        models["llama"].encoder.tokenizer, ADD2, "What is {a} plus {b}? Answer: ", shots=2
    )
    batch = enc.encode(enc.sample(8))
    assert batch.texts[0].startswith("What is") and batch.texts[0].count("Answer: ") == 3


# ----------------------------------------------------------------------------- the same analyses


@pytest.mark.parametrize("arch", ARCHS)
def test_patching_matches_transformer_lens_on_every_architecture(models, arch):

    from arithlens.models import sites
    from arithlens.models.run import can_resume, run_from_layer

    model = models[arch]
    # every architecture resumes from a layer (rotary ones get their position embeddings and
    # position ids): the fast path runs here, and its logits equal a whole forward at every layer
    assert can_resume(model)
    tokens = model.encoder.encode(model.encoder.sample(5, seed=3)).tokens
    names = set(sites.layers("resid_pre", model.cfg.n_layers))
    logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n in names)
    for layer in range(model.cfg.n_layers):
        resumed = run_from_layer(model, cache[sites.hook("resid_pre", layer)], layer)
        assert torch.allclose(resumed, logits, atol=1e-5), layer
    batch = model.encoder.pairs(8, change="b.units")
    metric = al.patching.make_metric("logit_diff", batch)
    ours = assert_head_by_pos_matches_transformer_lens(model, batch, metric)
    for mlps in ("recompute", "freeze"):  # Wang et al.'s variant and the direct-path one
        path = path_patch(model, batch, metric=metric, mlps=mlps, progress=False)
        ref = reference_path_patch(model, batch, metric, mlps=mlps)
        assert torch.allclose(path.values, ref, atol=1e-4), mlps
    attr = attribution_patch(model, batch, "z", by=("layer", "head"), metric=metric)
    ref = reference_attribution(model, batch, metric)
    assert torch.allclose(attr.effect(), ref, atol=1e-4, rtol=1e-3)
    assert ref.abs().max() > 1e-3  # the comparison is not between zeros
    assert ours.pos_labels[-1].endswith(
        model.encoder.tokenizer.convert_ids_to_tokens(int(batch.clean.tokens[0, -1]))
    )


def test_key_value_patching_per_head_on_grouped_query_attention(models):
    model = models["llama"]
    batch = model.encoder.pairs(8, change="a.units")
    metric = al.patching.make_metric("logit_diff", batch)
    res = activation_patch(model, batch, "v", by=("layer", "head"), metric=metric, progress=False)
    assert res.values.shape == (2, 2)  # 2 key-value heads, not 4 query heads
    clean = model.run_with_cache(batch.clean.tokens)[1]
    for layer in range(2):
        for g in range(2):
            name = f"blocks.{layer}.attn.hook_v"

            def hook(v, hook=None, g=g, name=name):
                v = v.clone()
                v[:, :, g] = clean[name][:, :, g]
                return v

            ref = metric(
                model.run_with_hooks(batch.corrupt.tokens, fwd_hooks=[(name, hook)])
            ).mean()
            assert res.values[layer, g].item() == pytest.approx(ref.item(), abs=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_probes_with_all_controls_on_every_architecture(models, arch):
    model = models[arch]
    res = fit(model, "a.units", n=300, min_per_class=5, progress=False)
    assert res.score.shape == (1, 3, len(res.pos_labels)) and res.layer_labels == [
        "emb",
        "L0",
        "L1",
    ]
    assert not np.isnan(res.random_init).any() and not np.isnan(res.control).any()
    # the token holding a.units names it: readable from the embeddings at that position (a
    # digit token exactly; a two-digit BPE token among ~90 random embeddings, well above chance)
    least = 0.9 if arch == "llama" else res.majority[0] + 0.3
    assert res.score[0, 0].max() >= least


def test_causal_flip_on_a_digit_tokenizer_equals_a_hand_written_reflection(models, trained):
    from _reference import reference_flip

    model = trained["llama"]
    res = fit(model, "carry.tens", n=300, min_per_class=5, controls=("majority",), progress=False)
    flips = causal_flip(model, res, n=32, seed=1, progress=False)
    assert flips.flip.shape == res.score.shape
    # measured after 200 fine-tuning steps: 0.29 at (emb, 14), 0.12 at (L0, 13), 0.06 at (L1, 16)
    for layer, pos in [(0, 14), (1, 13), (2, 16), (1, 3)]:
        ours = flips.flip[0, layer, flips.positions.index(pos)]
        ref = reference_flip(model, res, "carry.tens", layer, pos, n=32, seed=1, along="mean_diff")
        # one example of slack: a batched and a one-row forward may break a near-tie differently
        assert ours == pytest.approx(ref, abs=1 / flips.n_examples[0] + 1e-6), (layer, pos)
    assert np.nanmax(flips.flip) >= 0.1
    res2 = fit(
        models["gpt2"], "carry.tens", n=300, min_per_class=5, controls=("majority",), progress=False
    )
    with pytest.raises(ArithlensError, match="one token per answer digit"):
        causal_flip(models["gpt2"], res2, n=16, progress=False)


# ----------------------------------------------------------------------------- circuits and fine-tuning


def test_key_heads_and_faithfulness(models):
    model = models["neox"]
    batch = model.encoder.pairs(16, change="b.units")
    kh = key_heads(model, batch, share=0.8, progress=False)
    frame = kh.to_frame()
    assert frame["cumulative_share"].iloc[kh.n_for_share - 1] >= 0.8 - 1e-6
    assert kh.n_for_share == 1 or frame["cumulative_share"].iloc[kh.n_for_share - 2] < 0.8
    assert kh.fraction == kh.n_for_share / 8
    every = faithfulness(model, batch, kh.heads)
    assert every.circuit_value == pytest.approx(every.full, rel=1e-5)  # nothing ablated
    none = faithfulness(model, batch, [])
    assert none.circuit_value == pytest.approx(none.ablated)
    with pytest.raises(ArithlensError, match=r"head \(1, 7\) does not exist"):
        faithfulness(model, batch, [(1, 7)])


def test_head_masks_select_the_heads_own_slices(zoo_add3_2l, models):
    tokens = al.encode(al.tasks.sample(zoo_add3_2l.task, 8)).tokens
    masks = component_masks(zoo_add3_2l, ["L1.H2"], tokens)
    assert all("layers.1." in n for n in masks)  # only block 1's attention
    o = next(m for n, m in masks.items() if ".o." in n and m.dim() == 2)
    d_head = zoo_add3_2l.cfg.d_head
    assert o.any(0).nonzero().flatten().tolist() == list(range(2 * d_head, 3 * d_head))
    assert not any(".o." in n and m.dim() == 1 for n, m in masks.items())  # shared b_O frozen
    # grouped-query attention: head 3 shares key/value head 1 with head 2
    llama = models["llama"]
    lt = llama.encoder.encode(llama.encoder.sample(4)).tokens
    kmask = next(m for n, m in component_masks(llama, ["L0.H3"], lt).items() if "k_proj" in n)
    assert kmask.any(1).nonzero().flatten().tolist() == list(range(16, 32))


@pytest.mark.parametrize("arch", ["llama", "native"])
def test_precise_finetuning_changes_only_the_chosen_components(models, zoo_add3_2l, arch):
    model = models["llama"] if arch == "llama" else zoo_add3_2l

    tuned = al.llm.copy_model(model)
    before = {n: p.detach().clone() for n, p in tuned.named_parameters()}
    tokens = al.models.encoder_of(model).encode(al.models.encoder_of(model).sample(8)).tokens
    masks = component_masks(tuned, ["L1.H0", "mlp.L0"], tokens)
    al.llm.finetune(tuned, ["L1.H0", "mlp.L0"], steps=3, lr=1e-2, n_train=64, progress=False)
    moved_weights = 0
    for n, p in tuned.named_parameters():
        moved = p.detach() != before[n]
        if n in masks:
            assert not (moved & ~masks[n]).any(), n
            if p.ndim == 2:  # every masked weight line gets a nonzero gradient
                assert moved.any(), n
                moved_weights += 1
        else:
            assert not moved.any(), n
    mlp_weights = sum(p.ndim == 2 for p in tuned.blocks[0].mlp.parameters())
    assert moved_weights == 4 + mlp_weights  # q, k, v, o of the head and the MLP's weights


@pytest.mark.parametrize("arch", ["native", "gpt2", "neox", "llama"])
def test_head_masks_are_the_heads_slices(models, zoo_add3_2l, arch):
    """The masks are whole d_head slices: query/key/value output lines h*d_head..(h+1)*d_head
    with their biases (the key bias too, whose gradient is zero in exact arithmetic), the
    output projection's input lines, and not the output bias; the same for any prompts."""
    model = zoo_add3_2l if arch == "native" else models[arch]
    enc = al.models.encoder_of(model)
    d_head, h = model.cfg.d_head, 2
    lines = slice(h * d_head, (h + 1) * d_head)
    masks = component_masks(model, [f"L1.H{h}"], enc.encode(enc.sample(8, seed=0)).tokens)
    again = component_masks(model, [f"L1.H{h}"], enc.encode(enc.sample(8, seed=7)).tokens)
    assert masks.keys() == again.keys() and all(torch.equal(masks[n], again[n]) for n in masks)
    checked = 0
    for part in ("q", "k", "v", "q_proj", "k_proj", "v_proj"):
        weight = next((n for n in masks if f".{part}." in n and n.endswith("weight")), None)
        if weight is None:
            continue
        m = masks[weight]
        kv = part[0] in "kv" and getattr(model.cfg, "n_key_value_heads", None)
        if kv:  # grouped-query: head 2 of 4 shares key-value head 1 of 2
            group = h // (model.cfg.n_heads // model.cfg.n_key_value_heads)
            want = slice(group * d_head, (group + 1) * d_head)
        else:
            want = lines
        line_used = m.any(1)  # the bridges' split q/k/v projections are (out, in)
        assert torch.nonzero(line_used).flatten().tolist() == list(range(want.start, want.stop))
        assert m.sum() == d_head * m.shape[1], weight
        bias = weight[: -len("weight")] + "bias"
        if bias in dict(model.named_parameters()):
            assert torch.equal(masks[bias], line_used), bias
        checked += 1
    assert checked == 3
    assert not any(n.endswith("o._original_component.bias") for n in masks)


def test_compare_finetuning_reports_both_methods(models):
    import torch.nn.functional as F

    from arithlens.models.run import teacher_forced

    def exact(m, batch):
        return float(teacher_forced(m, batch)[1].mean())

    model = models["gpt2"]
    # another task the model can do: the same sums under another prompt template
    other = al.llm.PromptBuilder(model.encoder.tokenizer, model.task, template="{a} plus {b} = ")
    plus = other.encode(model.encoder.sample(32, seed=9))
    res = compare_finetuning(
        model, ["L1.H0"], steps=3, n_train=64, n_test=32, others={"plus": plus}, progress=False
    )
    assert res["method"].tolist() == ["precise", "full"]
    # the test problems are not trained on, and accuracy_before is measured on them
    train, test = al.llm.split_problems(model, 64, 32, seed=0)
    assert not set(train.ints()) & set(test.ints()) and len(set(test.ints())) == 32
    assert res["accuracy_before"].iloc[0] == exact(model, model.encoder.encode(test))
    assert (res["plus_before"] == exact(model, plus)).all()
    for row, comps in zip(res.itertuples(), (["L1.H0"], None)):
        tuned = al.llm.copy_model(model)
        al.llm.finetune(tuned, comps, steps=3, problems=train, seed=0, progress=False)
        assert row.plus_after == exact(tuned, plus)
    d, dh = model.cfg.d_model, model.cfg.d_head
    assert res["trained_weights"].iloc[0] == 4 * d * dh + 3 * dh  # q, k, v, o slices; q, k, v bias
    assert res["trained_weights"].iloc[1] == sum(p.numel() for p in model.parameters())
    # KL(original || tuned) on the control tokens, recomputed here for both methods
    control = torch.randint(model.cfg.d_vocab, (64, 24), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model(control).log_softmax(-1)
    for row, comps in zip(res.itertuples(), (["L1.H0"], None)):
        tuned = al.llm.copy_model(model)
        al.llm.finetune(tuned, comps, steps=3, lr=1e-3, problems=train, seed=0, progress=False)
        with torch.no_grad():
            logp = tuned(control).log_softmax(-1)
        kl = F.kl_div(logp, ref, log_target=True, reduction="none").sum(-1).mean()
        assert row.control_kl == pytest.approx(float(kl), rel=1e-4, abs=1e-7)
    assert res["control_kl"].iloc[0] < res["control_kl"].iloc[1]  # fewer weights, less drift


def test_dtype_is_applied_and_named(folders):
    bf16 = al.load(folders["llama"], template="{a}+{b}=", dtype="bfloat16")
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    f32 = al.load(folders["llama"], template="{a}+{b}=")
    assert {p.dtype for p in f32.parameters()} == {torch.float32}
    problems = f32.encoder.sample(32, seed=0)
    lo, hi = f32.encoder.encode(problems).tokens, bf16.encoder.encode(problems).tokens
    assert torch.equal(lo, hi)
    with torch.no_grad():
        a, b = f32(lo), bf16(hi).float()
    assert (a - b).abs().max() < 0.1 and (a.argmax(-1) == b.argmax(-1)).float().mean() > 0.9
    with pytest.raises(ArithlensError, match=r"dtype='float64' is unknown"):
        al.load(folders["llama"], dtype="float64")


# ----------------------------------------------------------------------------- CLI


def test_cli_probe_and_patch_accept_a_local_hf_folder(folders, tmp_path):
    assert (
        main(
            [
                "probe",
                str(folders["llama"]),
                "--target",
                "a.units",
                "--n",
                "300",
                "--template",
                "{a} plus {b} is ",
                "--shots",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (tmp_path / "a.units_resid.csv").is_file()
    labels = al.probes.ProbeResult.load(tmp_path / "a.units_resid").pos_labels
    assert "".join(label.split(":", 1)[1] for label in labels).count(" plus ") == 2  # template
    assert (
        main(
            [
                "patch",
                str(folders["gpt2"]),
                "--change",
                "b.units",
                "--n",
                "8",
                "--granularity",
                "heads",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert any(tmp_path.glob("heads_b.units_denoise.csv"))


# ----------------------------------------------------------------------------- evaluation


@pytest.fixture(scope="module")
def trained(models):
    """Copies of the toy Llama (one digit per token) and GPT-2 (BPE chunks) fine-tuned briefly,
    so that they write digits and get some answers right."""
    out = {}
    for arch, steps in (("llama", 200), ("gpt2", 100)):
        m = al.llm.copy_model(models[arch])
        al.llm.finetune(m, None, steps=steps, lr=3e-3, n_train=1000, progress=False)
        out[arch] = m
    return out


def _reference_scores(model, problems):
    """Exact match, predicted answer digits and the smallest top-2 logit margin at the answer
    positions, computed here with the Hugging Face model and tokenizer directly (no arithlens
    encoder, no bridge)."""
    hf, tok, enc = model.original_model, model.encoder.tokenizer, model.encoder
    exact, digits, margins = [], [], []
    for prompt, text in zip(enc.prompts(problems), enc.texts(problems)):
        t = tok(text, return_offsets_mapping=True)
        ids, offsets = t["input_ids"], t["offset_mapping"]
        n_prompt = next(j for j, (s, e) in enumerate(offsets) if s >= len(prompt) and e > s)
        with torch.no_grad():
            logits = hf(torch.tensor([ids])).logits[0]
        pred = logits.argmax(-1)
        top2 = logits[n_prompt - 1 : len(ids) - 1].topk(2, dim=-1).values
        margins.append(float((top2[:, 0] - top2[:, 1]).min()))
        exact.append(pred[n_prompt - 1 : len(ids) - 1].tolist() == ids[n_prompt:])
        row = []
        for c in reversed([c for c in range(len(prompt), len(text)) if text[c].isdigit()]):
            j = next(j for j, (s, e) in enumerate(offsets) if s <= c < e)
            true, guess = tok.decode([ids[j]]), tok.decode([int(pred[j - 1])])
            ok = len(guess) == len(true) and guess[c - offsets[j][0]].isdigit()
            row.append(int(guess[c - offsets[j][0]]) if ok else -1)
        digits.append(row + [-1] * (problems.task.answer_width - len(row)))
    return np.array(exact), np.array(digits), np.array(margins)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_evaluate_encodes_with_the_models_own_tokenizer(trained, arch):
    model = trained[arch]
    problems = model.encoder.sample(96, seed=11)
    res = al.evaluate(model, problems)
    exact, digits, margin = _reference_scores(model, problems)
    # the bridge and the Hugging Face model round differently; compare where no answer position
    # is a near-tie (an argmax there is not determined by the mathematics)
    clear = margin > 1e-3
    assert clear.mean() >= 0.8
    assert res.exact[clear].tolist() == exact[clear].tolist()
    assert (res.pred_digits[clear] == digits[clear]).all()
    assert (res.pred_digits >= 0).mean() > 0.5  # it writes digits: the comparison has content
    if arch == "llama":
        assert res.exact_match >= 0.03  # measured 0.115 after 200 steps
    # greedy decoding, read by the model's tokenizer, starts with the answer exactly where
    # teacher forcing is right (the model may write digits past it: no end mark is scored)
    greedy = al.models.run.greedy_complete(model, model.encoder.encode(problems))
    answers = [
        t[len(p) :] for p, t in zip(model.encoder.prompts(problems), model.encoder.texts(problems))
    ]
    starts = np.array([g[: len(a)] == a for g, a in zip(greedy, answers)])
    assert starts[clear].tolist() == res.exact[clear].tolist()


def test_a_folder_without_tokenizer_files_is_refused_at_load(folders, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(folders["gpt2"], bare)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (bare / f).unlink()
    with pytest.raises(ArithlensError, match=rf"folder '{bare}' has no tokenizer files"):
        al.load(bare, template="{a}+{b}=")
    model = al.load(bare, template="{a}+{b}=", tokenizer=folders["gpt2"])
    assert len(model.encoder.tokenizer) == len(al.load(folders["gpt2"]).encoder.tokenizer)
    with pytest.raises(ArithlensError, match="tokenizer folder '/no/such/dir' does not exist"):
        al.load(bare, tokenizer="/no/such/dir")


def test_a_missing_local_folder_is_named_as_missing(tmp_path):
    with pytest.raises(ArithlensError, match=rf"folder '{tmp_path}/nothing' does not exist"):
        al.load(tmp_path / "nothing")
    with pytest.raises(ArithlensError, match="and no folder 'runs/add3' exists"):
        al.load("runs/add3", offline=True)


def test_hub_ids_with_dots_are_not_taken_for_local_paths(monkeypatch):
    with pytest.raises(ArithlensError, match="'meta-llama/Llama-3.2-1B' is not in the local"):
        al.load("meta-llama/Llama-3.2-1B", offline=True)
