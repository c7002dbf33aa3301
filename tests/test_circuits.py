"""Key heads and faithfulness on the zoo: the path-patching variant ranks heads as activation
patching does, and faithfulness equals a mean ablation written by hand with plain hooks."""

from __future__ import annotations

import pytest
import torch

from arithlens.errors import ArithlensError
from arithlens.llm import faithfulness, key_heads
from arithlens.models.contract import encoder_of
from arithlens.patching import activation_patch, make_metric


@pytest.fixture(scope="module")
def pairs(zoo_add3_2l):
    return encoder_of(zoo_add3_2l).pairs(128, "a.units", seed=0)


def test_key_heads_rank_heads_as_activation_patching_does(zoo_add3_2l, pairs):
    # Wang et al.'s variant (MLPs recomputed) puts L0H2, L0H3, L0H1 first on add3-2L, the order
    # of activation patching's total effects; the direct-path variant ranks a small leftover
    # (issue 15: top head L1H0 with MLPs frozen)
    kh = key_heads(zoo_add3_2l, pairs, progress=False)
    act = activation_patch(
        zoo_add3_2l, pairs, "z", by=("layer", "head"), metric="logit_diff", progress=False
    ).effect()
    order = sorted(((i, h) for i in range(2) for h in range(4)), key=lambda x: -abs(act[x]))
    assert kh.heads[:3] == order[:3] == [(0, 2), (0, 3), (0, 1)]
    assert kh.mlps == "recompute"
    direct = key_heads(zoo_add3_2l, pairs, mlps="freeze", progress=False)
    assert direct.heads[:3] != kh.heads[:3] and direct.mlps == "freeze"
    assert "MLPs recomputed" in kh.plot().layout.title.text


def _hand_ablation(model, batch, metric, keep_heads, keep_mlps):
    """Mean over the clean prompts per position of every head's z and every MLP's output;
    those outside the circuit replaced by it, one hook per head and per MLP."""
    L, H = model.cfg.n_layers, model.cfg.n_heads
    names = [f"blocks.{i}.attn.hook_z" for i in range(L)] + [
        f"blocks.{i}.hook_mlp_out" for i in range(L)
    ]
    cache = model.run_with_cache(batch.clean.tokens, names_filter=lambda n: n in names)[1]
    hooks = []
    for i in range(L):
        for h in range(H):
            if (i, h) in keep_heads:
                continue

            def one_head(z, hook=None, i=i, h=h):
                z = z.clone()
                z[:, :, h] = cache[f"blocks.{i}.attn.hook_z"][:, :, h].mean(0)
                return z

            hooks.append((f"blocks.{i}.attn.hook_z", one_head))
        if keep_mlps is not None and i not in keep_mlps:
            mean = cache[f"blocks.{i}.hook_mlp_out"].mean(0)
            hooks.append((f"blocks.{i}.hook_mlp_out", lambda a, hook=None, m=mean: m.expand_as(a)))
    with torch.no_grad():
        return float(metric(model.run_with_hooks(batch.clean.tokens, fwd_hooks=hooks)).mean())


def test_faithfulness_equals_a_hand_written_mean_ablation(zoo_add3_2l, pairs):
    model, batch = zoo_add3_2l, pairs
    metric = make_metric("logit_diff", batch)
    with torch.no_grad():
        full = float(metric(model(batch.clean.tokens)).mean())
    heads = [(0, 2), (0, 3), (1, 0)]
    f = faithfulness(model, batch, heads)
    value, floor = (
        _hand_ablation(model, batch, metric, heads, None),
        _hand_ablation(model, batch, metric, [], None),
    )
    assert (f.full, f.circuit_value, f.ablated) == pytest.approx((full, value, floor), abs=1e-5)
    assert f.normalized == pytest.approx((value - floor) / (full - floor), abs=1e-5)
    assert f.ratio == pytest.approx(value / full, abs=1e-5)
    assert "mean over the 128 clean prompts" in f.ablation
    # with MLP layers in the circuit: the MLP outside it is ablated too
    g = faithfulness(model, batch, [*heads, ("mlp", 1)], ablate="heads+mlps")
    value = _hand_ablation(model, batch, metric, heads, [1])
    floor = _hand_ablation(model, batch, metric, [], [])
    assert (g.circuit_value, g.ablated) == pytest.approx((value, floor), abs=1e-5)
    assert g.normalized == pytest.approx((value - floor) / (full - floor), abs=1e-5)
    assert abs(g.circuit_value - f.circuit_value) > 0.05  # ablating MLP 0 matters


def test_faithfulness_over_neurons(zoo_add3_2l, pairs):
    # keeping every neuron of a layer equals keeping the layer; keeping none equals ablating it;
    # keeping the 32 neurons with the largest mean activation change recovers part of the gap
    model = zoo_add3_2l
    heads = [(0, 2), (0, 3), (0, 1)]
    d = model.cfg.d_mlp
    layer = faithfulness(model, pairs, [*heads, ("mlp", 0), ("mlp", 1)], ablate="heads+mlps")
    neurons = [("mlp", i, n) for i in range(2) for n in range(d)]
    each = faithfulness(model, pairs, [*heads, *neurons], ablate="heads+neurons")
    assert each.circuit_value == pytest.approx(layer.circuit_value, abs=1e-4)
    none = faithfulness(model, pairs, heads, ablate="heads+neurons")
    assert none.ablated == pytest.approx(layer.ablated, abs=1e-4)
    assert none.circuit_value < each.circuit_value - 0.5


@pytest.mark.parametrize(
    "circuit, ablate, match",
    [
        ([("mlp", 0)], "heads", r"ablate='heads' keeps every MLP"),
        ([("mlp", 0, 3)], "heads+mlps", r"is a neuron"),
        ([("mlp", 5)], "heads+mlps", r"\('mlp', 5\) does not exist"),
        ([("mlp", 0, 99999)], "heads+neurons", r"does not exist"),
        ([("mlp", "0")], "heads+mlps", r"is invalid"),
        ([(0, 1)], "mlps", r"ablate"),
    ],
)
def test_faithfulness_refuses_bad_circuits(zoo_add3_2l, pairs, circuit, ablate, match):
    with pytest.raises(ArithlensError, match=match):
        faithfulness(zoo_add3_2l, pairs, circuit, ablate=ablate)
