"""Activation patching: equal to transformer_lens.patching, and exact where the answer is known."""

from __future__ import annotations

import pytest
import torch
from _reference import assert_head_by_pos_matches_transformer_lens
from transformer_lens import patching as tlp

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.patching import PatchResult, activation_patch, encode_pairs, make_metric
from arithlens.tasks import Pairs, Problems, TaskSpec, corrupt_pairs


@pytest.fixture(scope="module")
def batch(zoo_add3_2l):
    return encode_pairs(corrupt_pairs(zoo_add3_2l.task, 24, change="a.units", seed=0))


@pytest.fixture(scope="module")
def clean_cache(zoo_add3_2l, batch):
    return zoo_add3_2l.run_with_cache(batch.clean.tokens)[1]


CASES = [
    ("z", ("layer", "pos", "head"), tlp.get_act_patch_attn_head_out_by_pos),
    ("z", ("layer", "head"), tlp.get_act_patch_attn_head_out_all_pos),
    ("q", ("layer", "pos", "head"), tlp.get_act_patch_attn_head_q_by_pos),
    ("k", ("layer", "head"), tlp.get_act_patch_attn_head_k_all_pos),
    ("v", ("layer", "pos", "head"), tlp.get_act_patch_attn_head_v_by_pos),
    ("pattern", ("layer", "head"), tlp.get_act_patch_attn_head_pattern_all_pos),
    ("pattern", ("layer", "pos", "head"), tlp.get_act_patch_attn_head_pattern_by_pos),
    ("resid_pre", ("layer", "pos"), tlp.get_act_patch_resid_pre),
    ("resid_mid", ("layer", "pos"), tlp.get_act_patch_resid_mid),
    ("attn_out", ("layer", "pos"), tlp.get_act_patch_attn_out),
    ("mlp_out", ("layer", "pos"), tlp.get_act_patch_mlp_out),
]


@pytest.mark.parametrize("component, by, reference", CASES)
def test_denoising_equals_transformer_lens_patching(
    zoo_add3_2l, batch, clean_cache, component, by, reference
):
    metric = make_metric("answer_logprob", batch)
    ours = activation_patch(
        zoo_add3_2l, batch, component, by=by, metric=metric, max_rows=100, progress=False
    )
    theirs = reference(zoo_add3_2l, batch.corrupt.tokens, clean_cache, lambda lg: metric(lg).mean())
    if component == "pattern" and by == ("layer", "pos", "head"):
        theirs = theirs.permute(0, 2, 1)  # transformer_lens orders (layer, head, dest_pos)
    assert ours.values.shape == theirs.shape
    assert torch.allclose(ours.values, theirs, atol=1e-5)
    assert ours.values.std() > 0.01  # something is actually measured


def test_noising_equals_transformer_lens_with_roles_swapped(zoo_add3_2l, batch):
    metric = make_metric("logit_diff", batch, digits="tens")
    ours = activation_patch(
        zoo_add3_2l,
        batch,
        "attn_out",
        by=("layer", "pos"),
        metric=metric,
        direction="noise",
        progress=False,
    )
    corrupt_cache = zoo_add3_2l.run_with_cache(batch.corrupt.tokens)[1]
    theirs = tlp.get_act_patch_attn_out(
        zoo_add3_2l, batch.clean.tokens, corrupt_cache, lambda lg: metric(lg).mean()
    )
    assert torch.allclose(ours.values, theirs, atol=1e-5)


def test_patching_clean_into_clean_changes_nothing(zoo_add3_2l, batch):
    same = encode_pairs(Pairs(batch.pairs.clean, batch.pairs.clean, "none"))
    res = activation_patch(zoo_add3_2l, same, "z", by=("layer", "pos", "head"), progress=False)
    assert torch.allclose(res.values, torch.tensor(res.clean), atol=1e-5)


def test_a_zeroed_head_has_exactly_zero_effect_and_an_intact_one_does_not(zoo_add3_2l, batch):
    import tempfile

    from arithlens.models import save
    from arithlens.models.checkpoint import load

    with tempfile.TemporaryDirectory() as d:
        model = load(save(zoo_add3_2l, f"{d}/m"))
    w = model.blocks[0].attn.o.weight  # (d_model, n_heads * d_head)
    d_head = model.cfg.d_head
    with torch.no_grad():
        w[:, 1 * d_head : 2 * d_head] = 0
    res = activation_patch(model, batch, "z", by=("layer", "head"), progress=False)
    effect = res.effect()
    assert effect[0, 1].item() == 0.0
    assert effect.abs().max().item() > 0.1


def test_positions_after_the_metric_are_skipped_and_exactly_zero(zoo_add3_2l, batch):
    res = activation_patch(
        zoo_add3_2l, batch, "resid_pre", by=("layer", "pos"), digits="units", progress=False
    )
    units_pos = int(batch.clean.predict_pos("units")[0])
    assert (res.effect()[:, units_pos + 1 :] == 0).all()
    assert (res.effect()[:, :2] == 0).all()  # a.hundreds and a.tens are the same in both runs
    # the changed token is a.units (position 2): patching the residual there restores the clean run
    assert res.normalized().values[0, 2].item() == pytest.approx(1.0, abs=1e-4)


def test_result_table_top_plot_and_round_trip(zoo_add3_2l, batch, tmp_path):
    res = activation_patch(zoo_add3_2l, batch, "z", by=("layer", "pos", "head"), progress=False)
    frame = res.to_frame()
    assert list(frame.columns) == ["layer", "pos", "head", "pos_label", "node", "value", "effect"]
    assert len(frame) == res.values.numel()
    top = res.top(3)
    assert (
        top.effect.abs().is_monotonic_decreasing
        and top.effect.abs().iloc[0] == frame.effect.abs().max()
    )
    fig = res.plot()
    assert fig.data[0].zmid == res.corrupt and "7:=" in list(fig.data[0].x)
    back = PatchResult.load(res.save(tmp_path / "r"))
    assert torch.equal(back.values, res.values)
    rest = {k: v for k, v in vars(res).items() if k != "values"}
    assert {k: v for k, v in vars(back).items() if k != "values"} == rest
    assert (
        rest["method"] == "activation" and rest["direction"] == "denoise" and rest["n_pairs"] == 24
    )


def test_bad_patching_input_is_named(zoo_add3_2l, batch):
    with pytest.raises(ArithlensError, match="component='hook_x'"):
        activation_patch(zoo_add3_2l, batch, "hook_x", progress=False)
    with pytest.raises(ArithlensError, match="layer 5 is out of range"):
        activation_patch(zoo_add3_2l, batch, "z", layers=[5], progress=False)
    with pytest.raises(ArithlensError, match="has no heads"):
        activation_patch(zoo_add3_2l, batch, "resid_pre", by=("layer", "head"), progress=False)
    with pytest.raises(ArithlensError, match="metric='loss'"):
        make_metric("loss", batch)
    with pytest.raises(ArithlensError, match="empty"):
        encode_pairs(batch.pairs[0:0])


def test_unequal_lengths_name_both_lengths_and_first_difference():
    task = TaskSpec(op="add", n_digits=3, pad=False)
    uneven = Pairs(
        Problems.from_ints(task, [(5, 5)]), Problems.from_ints(task, [(50, 5)]), "a.tens"
    )
    with pytest.raises(
        ArithlensError,
        match=r"has 7 tokens but corrupt '50\+5=55\.' has 8; they first differ at position 1",
    ):
        encode_pairs(uneven)


def test_corrupt_pairs_change_what_they_say():
    task = TaskSpec(op="add", n_digits=3)
    p = corrupt_pairs(task, 50, change="b.tens", seed=1)
    for (a, b), (a2, b2) in zip(p.clean.ints(), p.corrupt.ints()):
        assert (
            a == a2
            and (b // 10) % 10 != (b2 // 10) % 10
            and b % 10 == b2 % 10
            and b // 100 == b2 // 100
        )
    s = corrupt_pairs(task, 10, change="swap", seed=0)
    assert [(b, a) for a, b in s.clean.ints()] == s.corrupt.ints()
    r = corrupt_pairs(task, 10, change="resample.a", seed=0)
    assert all(c[0] != k[0] and c[1] == k[1] for c, k in zip(r.clean.ints(), r.corrupt.ints()))
    sub = TaskSpec(op="sub", n_digits=3)
    o = corrupt_pairs(TaskSpec(op="add", n_digits=1), 10, change="op:mul", seed=0)
    assert o.corrupt.task.op == "mul"
    with pytest.raises(ArithlensError, match="add answers have 4 digits but sub answers have 3"):
        corrupt_pairs(task, 5, change="op:sub")
    q = corrupt_pairs(sub, 30, change="b.hundreds", seed=0)
    assert all(a >= b for a, b in q.corrupt.ints())


@pytest.mark.parametrize(
    "component, by, floor",
    [
        ("z", ("layer", "pos", "head"), 0.75),  # measured r = 0.795 (README)
        ("resid_pre", ("layer", "pos"), 0.95),  # measured r = 0.974
        ("z", ("layer", "head"), 0.80),  # measured r = 0.854
    ],
)
def test_attribution_patching_tracks_activation_patching(zoo_add3_2l, batch, component, by, floor):
    from arithlens.patching import attribution_patch

    metric = make_metric("logit_diff", batch)
    exact = activation_patch(zoo_add3_2l, batch, component, by=by, metric=metric, progress=False)
    approx = attribution_patch(zoo_add3_2l, batch, component, by=by, metric=metric)
    assert approx.values.shape == exact.values.shape
    a, e = approx.effect().flatten(), exact.effect().flatten()
    corr = torch.corrcoef(torch.stack([a, e]))[0, 1].item()
    print(f"attribution vs activation patching, {component} {by}: r={corr:.3f}")
    assert corr >= floor
    # Cells that cannot matter (positions after the metric, unchanged prefix) are exactly zero in both.
    assert (a[e == 0].abs() < 1e-6).all()


def test_attribution_of_identical_runs_is_exactly_zero(zoo_add3_2l, batch):
    from arithlens.patching import attribution_patch

    same = encode_pairs(Pairs(batch.pairs.clean, batch.pairs.clean, "none"))
    est = attribution_patch(zoo_add3_2l, same, "z", by=("layer", "head"), metric="answer_logprob")
    assert est.effect().abs().max().item() == 0.0


@pytest.fixture(scope="module")
def attn_only_model(add3_task):
    from arithlens.models import ModelSpec, boot

    return boot(
        ModelSpec(
            n_layers=2, d_model=64, n_heads=4, d_head=16, d_mlp=0, attn_only=True, n_ctx=13, seed=1
        ),
        add3_task,
    )


def test_path_patching_to_logits_equals_activation_patching_where_no_component_intervenes(
    attn_only_model, batch
):
    from arithlens.patching import path_patch

    metric = make_metric("logit_diff", batch)
    path = path_patch(attn_only_model, batch, receivers="logits", metric=metric, progress=False)
    act = activation_patch(
        attn_only_model,
        batch,
        "z",
        by=("layer", "head"),
        metric=metric,
        direction="noise",
        progress=False,
    )
    last = attn_only_model.cfg.n_layers - 1
    assert torch.allclose(path.values[last], act.values[last], atol=1e-5)
    assert path.effect()[last].abs().max() > 1e-4
    # Earlier senders differ: their effect through later heads is cut by the freezing.
    assert not torch.allclose(path.values[0], act.values[0], atol=1e-5)


@pytest.fixture(scope="module")
def mlp_model_3l(add3_task):
    from arithlens.models import ModelSpec, boot

    spec = ModelSpec(n_layers=3, d_model=32, n_heads=4, d_head=8, d_mlp=64, n_ctx=13, seed=3)
    return boot(spec, add3_task)


QKV = [(1, 0, "q"), (1, 2, "k"), (1, 3, "v"), (2, 1, "q")]


@pytest.mark.parametrize("mlps", ["recompute", "freeze"])
@pytest.mark.parametrize("receivers", ["logits", "qkv"])
@pytest.mark.parametrize("which", ["add3-2L", "random-3L"])
def test_path_patching_equals_a_hand_written_hook_loop(
    which, receivers, mlps, zoo_add3_2l, mlp_model_3l, batch
):
    # Wang et al.'s variant (MLPs recomputed) and the direct-path one (MLPs frozen), every
    # sender, to the logits and into q/k/v of later heads, on a trained 2-layer model and a
    # random 3-layer one, against tests/_reference.py (one sender at a time, plain hooks)
    from _reference import reference_path_patch

    from arithlens.patching import path_patch

    model = zoo_add3_2l if which == "add3-2L" else mlp_model_3l
    recv = "logits" if receivers == "logits" else [r for r in QKV if r[0] < model.cfg.n_layers]
    metric = make_metric("logit_diff", batch)
    ours = path_patch(model, batch, receivers=recv, mlps=mlps, metric=metric, progress=False)
    ref = reference_path_patch(model, batch, metric, mlps=mlps, receivers=recv)
    assert torch.allclose(ours.values, ref, atol=1e-5), (ours.values - ref).abs().max()
    assert ours.settings["mlps"] == mlps
    assert ours.effect().abs().max() > 1e-3  # not a comparison of unpatched values


def test_the_two_path_patching_variants_differ_where_the_mlps_do_the_work(zoo_add3_2l, batch):
    # add3-2L: with the MLPs frozen a head keeps only its direct effect, a small leftover of the
    # effect it has through the MLPs (issue 15 measured 0.02-0.12 against 0.25-2.02 logits).
    # A last-layer sender under Wang's variant equals activation patching of its z exactly:
    # nothing between it and the logits but the MLP, which recomputes in both.
    from arithlens.patching import path_patch

    metric = make_metric("logit_diff", batch)
    wang = path_patch(zoo_add3_2l, batch, metric=metric, progress=False).effect()
    direct = path_patch(zoo_add3_2l, batch, metric=metric, mlps="freeze", progress=False).effect()
    assert wang.abs().max() > 3 * direct.abs().max()
    act = activation_patch(
        zoo_add3_2l,
        batch,
        "z",
        by=("layer", "head"),
        metric=metric,
        direction="noise",
        progress=False,
    ).effect()
    assert torch.allclose(wang[1], act[1], atol=1e-5)
    assert not torch.allclose(direct[1], act[1], atol=1e-3)


def test_path_patching_into_q_k_v_respects_layer_order(zoo_add3_2l, attn_only_model, batch):
    from arithlens.patching import path_patch

    later = path_patch(
        zoo_add3_2l,
        batch,
        receivers=[(0, 0, "v"), (0, 1, "k")],
        senders=[(1, 0), (1, 3)],
        progress=False,
    )
    assert torch.allclose(
        later.effect(), torch.zeros_like(later.effect()), atol=1e-6
    )  # senders after receivers
    # In an attention-only model layer-0 heads reach the answer only through layer-1 heads
    # and the direct path; the path into layer-1 q/k/v must carry a visible effect.
    earlier = path_patch(
        attn_only_model,
        batch,
        receivers=[(1, h, x) for h in range(4) for x in "qkv"],
        senders=[(0, h) for h in range(4)],
        metric="logit_diff",
        progress=False,
    )
    assert earlier.effect()[0].abs().max() > 1e-3
    with pytest.raises(ArithlensError, match=r"receiver head \(3, 0\) does not exist"):
        path_patch(zoo_add3_2l, batch, receivers=[(3, 0, "q")], progress=False)
    with pytest.raises(ArithlensError, match=r"sender head \(0, 9\) does not exist"):
        path_patch(zoo_add3_2l, batch, senders=[(0, 9)], progress=False)


def test_head_output_patching_equals_transformer_lens_on_a_deeper_model(add3_task, batch):
    # Three layers exercise the partial forward through a middle block (keys and values
    # recomputed only from the patched position on) as well as the last one.
    from arithlens.models import build_model

    model = build_model("3L", add3_task, seed=5)
    metric = make_metric("logit_diff", batch, digits=["tens", "thousands"])
    ours = activation_patch(
        model, batch, "z", by=("layer", "pos", "head"), metric=metric, max_rows=200, progress=False
    )
    cache = model.run_with_cache(batch.clean.tokens)[1]
    theirs = tlp.get_act_patch_attn_head_out_by_pos(
        model, batch.corrupt.tokens, cache, lambda lg: metric(lg).mean()
    )
    assert torch.allclose(ours.values, theirs, atol=1e-5)
    assert ours.effect().abs().max() > 1e-4


def test_a_patch_whose_hook_never_fires_raises(zoo_add3_2l, batch, monkeypatch):
    import arithlens.patching.activation as act

    # hook_result exists on the bridge but never runs (use_attn_result is off).
    monkeypatch.setitem(
        act.COMPONENTS, "ghost", act.Site("ghost", "blocks.{layer}.attn.hook_result", "pos head d")
    )
    with pytest.raises(ArithlensError, match="'blocks.0.attn.hook_result' never fired"):
        activation_patch(zoo_add3_2l, batch, "ghost", by=("layer", "head"), progress=False)
    monkeypatch.setitem(
        act.COMPONENTS, "typo", act.Site("typo", "blocks.{layer}.hook_resid_typo", "pos d")
    )
    with pytest.raises(ArithlensError, match="'blocks.0.hook_resid_typo' does not exist"):
        activation_patch(zoo_add3_2l, batch, "typo", by=("layer", "pos"), progress=False)


def test_a_metric_of_the_wrong_shape_is_named(zoo_add3_2l, batch):
    import dataclasses

    good = make_metric("answer_logprob", batch)

    class Scalar(type(good)):  # a user's metric that returns a scalar, not one value per row
        def __call__(self, logits):
            return logits[..., 0].sum()

    bad = Scalar(
        **{f.name: getattr(good, f.name) for f in dataclasses.fields(good)} | {"name": "bad"}
    )
    with pytest.raises(ArithlensError, match=r"metric 'bad' returned shape \(\): expected \("):
        activation_patch(
            zoo_add3_2l, batch, "resid_pre", by=("layer", "pos"), metric=bad, progress=False
        )


def test_interrupted_sweep_resumes_from_its_finished_layers(zoo_add3_2l, tmp_path, monkeypatch):
    from arithlens.patching import activation as act_mod

    pairs = corrupt_pairs(zoo_add3_2l.task, 16, change="a.units", seed=3)
    full = activation_patch(zoo_add3_2l, pairs, "resid_pre", by=("layer", "pos"), progress=False)
    # interrupt after layer 0 has been written
    real_put = act_mod.SweepStore.put

    def put_then_fail(self, layer, values):
        real_put(self, layer, values)
        raise KeyboardInterrupt

    monkeypatch.setattr(act_mod.SweepStore, "put", put_then_fail)
    with pytest.raises(KeyboardInterrupt):
        activation_patch(
            zoo_add3_2l,
            pairs,
            "resid_pre",
            by=("layer", "pos"),
            progress=False,
            resume_dir=tmp_path / "s",
        )
    assert sorted(p.name for p in (tmp_path / "s").glob("layer_*")) == ["layer_0.safetensors"]
    monkeypatch.setattr(act_mod.SweepStore, "put", real_put)
    computed = []
    monkeypatch.setattr(
        act_mod, "_changed", lambda *a, f=act_mod._changed: computed.append(1) or f(*a)
    )
    resumed = activation_patch(
        zoo_add3_2l,
        pairs,
        "resid_pre",
        by=("layer", "pos"),
        progress=False,
        resume_dir=tmp_path / "s",
    )
    assert len(computed) == 1  # only layer 1 was computed again
    assert torch.allclose(resumed.values, full.values)
    other = corrupt_pairs(zoo_add3_2l.task, 16, change="b.units", seed=3)
    with pytest.raises(ArithlensError, match="holds a different sweep"):
        activation_patch(
            zoo_add3_2l,
            other,
            "resid_pre",
            by=("layer", "pos"),
            progress=False,
            resume_dir=tmp_path / "s",
        )


def test_resume_refuses_a_folder_of_a_fine_tuned_model(zoo_add3_2l, tmp_path):
    """Fine-tuning one head changes a few tensors; the fingerprint covers every weight, so the
    old sweep is refused (it was served before, 0.229 off)."""
    pairs = corrupt_pairs(zoo_add3_2l.task, 16, change="a.units", seed=3)
    folder = tmp_path / "sweep"
    kw = dict(by=("layer", "pos"), progress=False, resume_dir=folder)
    activation_patch(zoo_add3_2l, pairs, "resid_pre", **kw)
    tuned = al.llm.copy_model(zoo_add3_2l)
    al.llm.finetune(tuned, ["L1.H0"], steps=2, lr=1e-2, n_train=64, progress=False)
    with pytest.raises(ArithlensError, match=rf"resume_dir {folder} holds a different sweep"):
        activation_patch(tuned, pairs, "resid_pre", **kw)
    # one weight changed by a tiny amount, deep inside a tensor, is another model too
    other = al.llm.copy_model(zoo_add3_2l)
    with torch.no_grad():
        other.blocks[1].mlp.parameters().__next__().view(-1)[-1] += 1e-6
    with pytest.raises(ArithlensError, match="holds a different sweep"):
        activation_patch(other, pairs, "resid_pre", **kw)
    for setting in (dict(metric="logit_diff"), dict(digits="units"), dict(direction="noise")):
        with pytest.raises(ArithlensError, match="holds a different sweep"):
            activation_patch(zoo_add3_2l, pairs, "resid_pre", **kw, **setting)


def test_resume_names_a_truncated_layer_file(zoo_add3_2l, tmp_path):
    pairs = corrupt_pairs(zoo_add3_2l.task, 8, change="a.units", seed=3)
    folder = tmp_path / "sweep"
    kw = dict(by=("layer", "pos"), progress=False, resume_dir=folder)
    activation_patch(zoo_add3_2l, pairs, "resid_pre", **kw)
    layer = folder / "layer_1.safetensors"
    layer.write_bytes(layer.read_bytes()[:40])
    with pytest.raises(ArithlensError, match=rf"{layer} is truncated or corrupted"):
        activation_patch(zoo_add3_2l, pairs, "resid_pre", **kw)


def test_exact_match_metric_equals_a_hand_written_patch_loop(zoo_add3_1l):
    """metric="exact_match": share of pairs whose patched run predicts every scored answer digit
    of the clean answer; checked against a loop of run_with_hooks over every (layer, pos)."""
    pairs = corrupt_pairs(zoo_add3_1l.task, 32, change="b.tens", seed=4)
    batch = encode_pairs(pairs)
    res = activation_patch(
        zoo_add3_1l,
        batch,
        "resid_pre",
        by=("layer", "pos"),
        metric="exact_match",
        digits=["tens", "hundreds"],
        progress=False,
    )
    clean = zoo_add3_1l.run_with_cache(batch.clean.tokens)[1]
    pos = torch.stack([batch.clean.predict_pos(d) for d in ("tens", "hundreds")], 1)
    want = batch.clean.answer_tokens()[:, [1, 2]]
    rows = torch.arange(len(batch))[:, None]
    for p in range(batch.n_pos):

        def put(act, hook=None, p=p):
            act = act.clone()
            act[:, p] = clean["blocks.0.hook_resid_pre"][:, p]
            return act

        logits = zoo_add3_1l.run_with_hooks(
            batch.corrupt.tokens, fwd_hooks=[("blocks.0.hook_resid_pre", put)]
        )
        ref = (logits[rows, pos].argmax(-1) == want).all(1).float().mean().item()
        assert abs(res.values[0, p].item() - ref) <= 1 / len(batch) + 1e-9, p
    assert res.clean == 1.0 and res.corrupt < 0.2  # the change breaks them
    # only b.tens's own token (position 5) restores it; the answer tokens in context stay corrupt
    assert res.values[0].argmax().item() == 5 and res.values[0, 5].item() >= 0.7  # measured 0.78


def test_head_output_by_position_on_an_attention_only_model_equals_transformer_lens(
    attn_only_model, batch
):
    # an attention-only block has no resid_mid: the one-position shortcut reads its output
    metric = make_metric("logit_diff", batch)
    assert_head_by_pos_matches_transformer_lens(attn_only_model, batch, metric, min_effect=1e-4)


@pytest.mark.parametrize("direction", ["denoise", "noise"])
def test_effect_of_a_normalized_result_is_the_effect_over_the_clean_corrupt_gap(
    zoo_add3_2l, batch, direction
):
    # normalized(v) - normalized(baseline) = (v - baseline) / (clean - corrupt): a noising
    # result's unpatched value is the clean run, 1 once normalized (it used to be taken as 0)
    metric = make_metric("logit_diff", batch)
    raw = activation_patch(
        zoo_add3_2l,
        batch,
        "z",
        by=("layer", "head"),
        metric=metric,
        direction=direction,
        progress=False,
    )
    gap = raw.clean - raw.corrupt
    norm = raw.normalized()
    assert torch.allclose(norm.effect(), raw.effect() / gap, atol=1e-5)
    assert norm.baseline == (0.0 if direction == "denoise" else 1.0)
    assert raw.effect().abs().max() > 0.1
