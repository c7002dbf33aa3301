"""Edge-level circuits (issue 30, first slice): the graph, the controlled forward pass, the
scoring methods against hand-written references, MIB's curve and areas, the JSON layout."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

import arithlens as al
from arithlens.analyses.circuits import engine, evaluation, scoring
from arithlens.analyses.circuits.graph import Graph
from arithlens.errors import ArithlensError


@pytest.fixture(scope="module")
def add3():
    model = al.load("add3-2L")
    pairs = al.tasks.corrupt_pairs(model.task, 32, change="a.units", seed=0)
    return model, pairs


@pytest.fixture(scope="module")
def exact_scores(add3):
    model, pairs = add3
    return al.circuits.score_edges(model, pairs, "exact", progress=False)


def test_graph_edges_counted_by_hand():
    # 2 layers x 2 heads: layer-0 q/k/v read the input (6 edges); m0 reads input + 2 heads (3);
    # layer-1 q/k/v read input, 2 heads, m0 (6 x 4); m1 reads input, 4 heads, m0 (6); the
    # logits read all 7 senders
    g = Graph(2, 2)
    assert g.n_edges == 6 + 3 + 24 + 6 + 7
    names = g.edge_names()
    assert "a0.h1->a1.h0<k>" in names and "a1.h0->m1" in names and "m1->logits" in names
    assert "a1.h0->a1.h1<q>" not in names and "m1->a1.h0<q>" not in names  # no edge backwards
    assert Graph(12, 12).n_edges == 32491  # GPT-2 small, as MIB counts it


def _assert_identities(model, s) -> None:
    """Nothing ablated is the model; every edge ablated is the corrupt run."""
    tokens = s.batch.clean.tokens
    with torch.no_grad():
        plain = engine.run_controlled(model, tokens, s.graph, engine.Control())
        assert torch.allclose(plain, model(tokens), atol=1e-5)
        every = s.graph.mask[:, :, None].expand(-1, -1, tokens.shape[1]).float()
        ablated = engine.run_controlled(
            model, tokens, s.graph, engine.Control(replacement=s.replacement, ablate=every)
        )
        assert torch.allclose(ablated, model(s.batch.corrupt.tokens), atol=1e-4)


def test_controlled_run_is_the_model_and_ablating_every_edge_is_the_corrupt_run(add3):
    model, pairs = add3
    _assert_identities(model, scoring.setup(model, pairs))


def _hand_edge(model, pairs, sender: str, receiver: str, pos: int | None) -> float:
    """Drop in the mean logit difference when only ``sender``'s corrupt output reaches only
    ``receiver``'s input (at ``pos``, or everywhere): a hook loop written from the weights."""
    from arithlens.patching.metrics import PairBatch

    if isinstance(pairs, PairBatch):  # already tokenized (a Hugging Face model's pairs)
        batch = pairs
    else:
        batch = al.tokens.encode_pairs(pairs, al.models.encoder_of(model))
    met = al.patching.metrics.make_metric("logit_diff", batch)
    _, clean = model.run_with_cache(batch.clean.tokens)
    _, corrupt = model.run_with_cache(batch.corrupt.tokens)

    def out(cache, name):
        if name == "input":
            return cache["blocks.0.hook_resid_pre"]
        layer = int(name[1:].split(".")[0])
        if name.startswith("m"):
            return cache[f"blocks.{layer}.hook_mlp_out"]
        head = int(name.split(".h")[1])
        return cache[f"blocks.{layer}.attn.hook_z"][:, :, head] @ model.W_O[layer, head]

    d = (out(corrupt, sender) - out(clean, sender)).detach()
    if pos is not None:
        keep = torch.zeros(d.shape[1], 1)
        keep[pos] = 1
        d = d * keep

    def ln(x, module):
        norm = module._original_component
        if hasattr(norm, "variance_epsilon"):  # Llama's RMSNorm
            return (
                x
                * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
                * norm.weight
            )
        return F.layer_norm(x, (x.shape[-1],), norm.weight, norm.bias, norm.eps)

    if receiver == "logits":
        last = model.cfg.n_layers - 1
        hooks = [(f"blocks.{last}.hook_resid_post", lambda a, hook: a + d)]
    elif receiver.startswith("m"):
        layer = int(receiver[1:])
        block = model.blocks[layer]
        parallel = model.cfg.parallel_attn_mlp  # the MLP reads the stream before the layer
        mid = clean[f"blocks.{layer}.hook_resid_{'pre' if parallel else 'mid'}"]
        mlp_out = block.mlp(ln(mid + d, block.ln2)).detach()
        hooks = [(f"blocks.{layer}.hook_mlp_out", lambda a, hook: mlp_out)]
    else:
        layer = int(receiver[1:].split(".")[0])
        head = int(receiver.split("<")[0].split(".")[1][1:])  # a head, or a key-value group
        kind = receiver[-2]
        W = getattr(model, f"W_{kind.upper()}")[layer, head]
        try:
            b = getattr(model, f"b_{kind.upper()}")[layer, head]
        except AttributeError:  # a bias-free projection (Llama)
            b = 0.0
        x = clean[f"blocks.{layer}.hook_resid_pre"] + d
        new = (ln(x, model.blocks[layer].ln1) @ W + b).detach()

        def put(a, hook):
            a = a.clone()
            a[:, :, head] = new
            return a

        hooks = [(f"blocks.{layer}.attn.hook_{kind}", put)]
    with torch.no_grad():
        base = met(model(batch.clean.tokens)).mean()
        patched = met(model.run_with_hooks(batch.clean.tokens, fwd_hooks=hooks)).mean()
    return float(base - patched)


EDGES = [
    ("input", "a0.h2<v>"),
    ("input", "a1.h0<q>"),
    ("a0.h2", "a1.h1<k>"),
    ("a0.h2", "m0"),
    ("m0", "m1"),
    ("a1.h3", "logits"),
    ("m1", "logits"),
]


@pytest.mark.parametrize("sender, receiver", EDGES)
def test_exact_equals_a_hand_written_hook_loop(add3, exact_scores, sender, receiver):
    model, pairs = add3
    g = exact_scores.graph
    r, s = g.receivers.index(receiver), g.senders.index(sender)
    got = exact_scores.scores[r, s]
    assert got == pytest.approx(_hand_edge(model, pairs, sender, receiver, None), abs=1e-5)


def _tiny(task, seed: int):
    """A random 2-layer, 2-head model (d_model 32): one forward pass per edge stays cheap."""
    from dataclasses import replace

    from arithlens.models.presets import boot, preset_spec

    spec = replace(preset_spec("2L", task, seed=seed), d_model=32, n_heads=2, d_head=16, d_mlp=64)
    return boot(spec, task)


def test_exact_per_position_equals_the_hand_loop_and_is_zero_before_the_change():
    task = al.TaskSpec(op="add", n_digits=2, format="reversed")
    model = _tiny(task, seed=5)
    pairs = al.tasks.corrupt_pairs(task, 8, change="a.units", seed=2)
    c = al.circuits.score_edges(model, pairs, "exact", positions=True, progress=False)
    g = c.graph
    changed = c.pos_labels.index(next(label for label in c.pos_labels if label.endswith(":a0")))
    for sender, receiver in [("input", "a0.h1<v>"), ("a0.h1", "a1.h0<k>"), ("m0", "m1")]:
        r, s = g.receivers.index(receiver), g.senders.index(sender)
        for p in (changed, c.scores.shape[-1] - 4):
            hand = _hand_edge(model, pairs, sender, receiver, p)
            assert c.scores[r, s, p] == pytest.approx(hand, abs=1e-5), (sender, receiver, p)
        assert np.all(c.scores[r, s, :changed] == 0)  # causal: nothing moved before the change


def test_eap_is_the_first_order_change_of_the_exact_score():
    # a random 2-layer model: the exact score of a small step toward the corrupt outputs,
    # divided by the step, converges to the EAP score (EAP is that derivative)
    task = al.TaskSpec(op="add", n_digits=2, format="reversed")
    model = _tiny(task, seed=3)
    pairs = al.tasks.corrupt_pairs(task, 16, change="a.units", seed=1)
    s = scoring.setup(model, pairs)
    eap = scoring.score_matrix(model, s, "eap", progress=False)
    eps = 1e-2
    s.replacement = s.clean + eps * (s.replacement - s.clean)
    step = scoring.score_matrix(model, s, "exact", progress=False) / eps
    big = eap.abs() > 1e-2 * eap.abs().max()
    assert int(big.sum()) >= 8
    assert torch.allclose(step[big], eap[big].float(), rtol=0.05, atol=1e-3 * eap.abs().max())


def test_eap_ig_with_one_step_is_the_gradient_of_the_corrupt_run(add3):
    # EAP-IG-inputs interpolates from the corrupt embeddings (k = 0 .. steps - 1): one step
    # takes the gradient where the embeddings are the corrupt ones, i.e. on the corrupt tokens
    model, pairs = add3
    s = scoring.setup(model, pairs)
    one = scoring.score_matrix(model, s, "eap-ig-inputs", ig_steps=1, progress=False)
    grads = engine.receiver_grads(model, s.batch.corrupt.tokens, s.graph, s.metric)
    hand = -torch.einsum("bpsd,bprd->rs", s.replacement - s.clean, grads) * s.graph.mask
    assert torch.allclose(one, hand, atol=1e-5)


def test_more_ig_steps_move_toward_exact(add3, exact_scores):
    # measured on add3-2L, 32 pairs: Spearman with exact 0.72 (1 step), 0.81 (2), 0.86 (5);
    # L1 distance 18.2, 6.2, 6.1
    model, pairs = add3
    mask = exact_scores.graph.mask.numpy()
    exact = exact_scores.scores[mask]
    rho, dist = [], []
    for steps in (1, 5):
        c = al.circuits.score_edges(model, pairs, "eap-ig-inputs", ig_steps=steps, progress=False)
        rho.append(spearmanr(exact, c.scores[mask]).statistic)
        dist.append(np.abs(exact - c.scores[mask]).sum())
    assert rho[1] > rho[0] + 0.05 and dist[1] < 0.5 * dist[0]
    assert rho[1] >= 0.8  # the goal for EAP-IG vs exact on add3-2L


def test_eap_ig_activations_with_one_step_is_eap(add3):
    # a = k / steps for k = 1 .. steps: one step interpolates nothing, the gradient is the
    # clean run's, so the scores are EAP's (computed by one plain backward pass)
    model, pairs = add3
    s = scoring.setup(model, pairs)
    one = scoring.score_matrix(model, s, "eap-ig-activations", ig_steps=1, progress=False)
    eap = scoring.score_matrix(model, s, "eap", progress=False)
    assert torch.allclose(one, eap, atol=1e-5)


def test_eap_ig_activations_gradient_is_taken_at_the_interpolated_outputs(add3):
    # the half-way point of the heads of layer 0, built by hand: their outputs replaced by
    # (clean + corrupt) / 2 in an ordinary hook, the gradient taken at m0's input
    model, pairs = add3
    s = scoring.setup(model, pairs)
    g, tokens = s.graph, s.batch.clean.tokens
    heads = g.sender_groups()[1]
    R, S = g.mask.shape
    ablate = torch.zeros(R, S, tokens.shape[1])
    ablate[:, heads] = 0.5 * g.mask[:, heads, None].float()
    control = engine.Control(replacement=s.replacement, ablate=ablate)
    grads = engine.receiver_grads(model, tokens, g, s.metric, control)
    corrupt_z = model.run_with_cache(s.batch.corrupt.tokens)[1]["blocks.0.attn.hook_z"]
    m0 = g.receiver_index(0, "mlp")
    x = {}

    def half(z, hook):
        return (z + corrupt_z) / 2

    def grab(act, hook):  # a copy: its gradient is what reaches m0 alone, not the stream's
        x["m0"] = act.clone()
        x["m0"].retain_grad()
        return x["m0"]

    with torch.enable_grad():
        logits = model.run_with_hooks(
            tokens,
            fwd_hooks=[("blocks.0.attn.hook_z", half), ("blocks.0.ln2.hook_in", grab)],
        )
        s.metric(logits).mean().backward()
    model.zero_grad(set_to_none=True)
    assert torch.allclose(grads[:, :, m0], x["m0"].grad, atol=1e-6)


def test_eap_ig_activations_tracks_exact(add3, exact_scores):
    # measured on add3-2L, 32 pairs: Spearman with exact 0.74 (EAP = 1 step), 0.82 (2 steps),
    # 0.88 (5), 0.88 (10); L1 distance 18.7, 5.3, 3.8, 3.6
    model, pairs = add3
    mask = exact_scores.graph.mask.numpy()
    exact = exact_scores.scores[mask]
    c = al.circuits.score_edges(model, pairs, "eap-ig-activations", progress=False)
    eap = al.circuits.score_edges(model, pairs, "eap", progress=False)
    rho = spearmanr(exact, c.scores[mask]).statistic
    assert rho > spearmanr(exact, eap.scores[mask]).statistic + 0.05
    assert rho >= 0.8
    assert c.ig_steps == 5


def test_the_curve_is_one_for_the_full_circuit_and_its_areas_are_trapezoids(add3, exact_scores):
    model, pairs = add3
    held_out = al.tasks.corrupt_pairs(model.task, 32, change="a.units", seed=7)
    curve = exact_scores.curve(model, held_out)
    assert curve.faithfulness[-1] == pytest.approx(1.0, abs=1e-9)
    assert curve.n_edges[-1] == exact_scores.graph.n_edges
    assert curve.faithfulness[6] > 0.3  # 10% of the edges already carry a third
    hand = evaluation.Curve((0.1, 0.5, 1.0), (0.2, 0.6, 1.0), (1, 5, 10), 3.0, -1.0, False)
    assert hand.cpr == pytest.approx(0.4 * (0.2 + 0.6) / 2 + 0.5 * (0.6 + 1.0) / 2)
    assert hand.cmd == pytest.approx(0.4 * (0.8 + 0.4) / 2 + 0.5 * (0.4 + 0.0) / 2)
    x = np.log10([0.1, 0.5, 1.0])
    log_hand = ((x[1] - x[0]) * 0.4 + (x[2] - x[1]) * 0.8) / (x[2] - x[0])
    assert hand.log_area == pytest.approx(log_hand)


def test_a_random_ranking_scores_near_mibs_random_baseline(add3, exact_scores):
    model, pairs = add3
    s = scoring.setup(model, pairs)
    cprs = []
    for seed in range(3):
        rand = torch.randn(s.graph.mask.shape, generator=torch.Generator().manual_seed(seed))
        cprs.append(evaluation.curve_of(model, s, rand, prune_edges=False).cpr)
    assert 0.05 < np.mean(cprs) < 0.6  # MIB's random row: ~0.25
    base = exact_scores.random_baseline(model, pairs, seeds=3)
    assert 0.05 < base.cpr < 0.6 and base.faithfulness[-1] == pytest.approx(1.0)
    assert base.cpr < exact_scores.curve(model, pairs).cpr - 0.2  # exact ranks far better


def test_mib_json_round_trip_and_a_hand_written_file(add3, exact_scores, tmp_path):
    model, pairs = add3
    small = exact_scores.select(0.1)
    data = small.to_mib()
    assert len(data["edges"]) == exact_scores.graph.n_edges and data["cfg"]["n_heads"] == 4
    back = al.circuits.Circuit.from_mib(json.loads(json.dumps(data)))
    assert np.allclose(back.scores, small.scores) and (back.in_circuit == small.in_circuit).all()
    # an EAP-IG-format file as its users write it: only the edges they scored
    hand = {
        "cfg": {"n_layers": 2, "n_heads": 4, "parallel_attn_mlp": False, "d_model": 128},
        "nodes": {"input": {"in_graph": True}},
        "edges": {"m1->logits": {"score": 2.0, "in_graph": True}, "m0->m1": {"score": 1.0}},
    }
    c = al.circuits.Circuit.from_mib(hand)
    assert c.top(2).edge.tolist() == ["m1->logits", "m0->m1"]
    assert c.curve(model, pairs, fractions=(0.02, 1.0)).faithfulness[-1] == pytest.approx(1.0)
    small.save(tmp_path / "c")
    again = al.circuits.Circuit.load(tmp_path / "c")
    assert np.array_equal(again.scores, small.scores) and again.method == "exact"


def test_a_saved_circuit_applies_to_its_recorded_faithfulness(add3, exact_scores, tmp_path):
    model, pairs = add3
    held_out = al.tasks.corrupt_pairs(model.task, 32, change="a.units", seed=7)
    small = exact_scores.select(0.1).evaluate(model, held_out)
    curve = exact_scores.curve(model, held_out, fractions=(0.1, 1.0))
    assert small.evaluation["faithfulness"] == pytest.approx(curve.faithfulness[0], abs=1e-12)
    small.save(tmp_path / "c")
    for again in (
        al.circuits.Circuit.load(tmp_path / "c"),
        al.circuits.Circuit.from_mib(json.loads(json.dumps(small.to_mib()))),
    ):
        ev = al.circuits.apply(model, again, held_out)
        assert ev.faithfulness == small.evaluation["faithfulness"]  # the same runs, exactly
        assert ev.n_edges == small.n_in_circuit and again.evaluation == small.evaluation
    # and the number means what it says: the circuit run by a plain hook loop of the senders'
    # corrupt outputs gives the same metric when the circuit is every edge but one
    one_out = exact_scores.select(1.0)
    r, sd = one_out.graph.receivers.index("logits"), one_out.graph.senders.index("m1")
    one_out.in_circuit[r, sd] = False
    ev = al.circuits.apply(model, one_out, pairs)
    assert ev.full - ev.circuit == pytest.approx(
        _hand_edge(model, pairs, "m1", "logits", None), abs=1e-5
    )


def test_position_aware_json_keeps_every_position(add3, tmp_path):
    task = al.TaskSpec(op="add", n_digits=2, format="reversed")
    model = _tiny(task, seed=5)
    pairs = al.tasks.corrupt_pairs(task, 8, change="a.units", seed=2)
    c = al.circuits.score_edges(model, pairs, "eap", positions=True, progress=False).select(0.05)
    data = json.loads(json.dumps(c.to_mib()))
    block = data["arithlens"]
    assert block["positions"] == list(c.pos_labels) and block["method"] == "eap"
    name = "a0.h1->a1.h0<k>"
    r, s = c.graph.receivers.index("a1.h0<k>"), c.graph.senders.index("a0.h1")
    assert block["position_edges"][name]["scores"] == pytest.approx(list(c.scores[r, s]))
    assert data["edges"][name]["score"] == pytest.approx(c.scores[r, s].sum())  # MIB's sum
    back = al.circuits.Circuit.from_mib(data)
    assert back.positions and back.pos_labels == c.pos_labels
    assert np.array_equal(back.scores, c.scores) and np.array_equal(back.in_circuit, c.in_circuit)
    assert back.model_fingerprint == c.model_fingerprint and back.task == "add2-reversed"


def test_greedy_pruning_drops_a_silent_head_and_keeps_what_matters():
    # layer 1's head 0 writes exactly nothing (its W_O columns zeroed): every edge into or out
    # of it changes nothing and must go; the first edge visited (m1 -> logits, alone from the
    # full graph) stays exactly when its exact score is above the tolerance
    task = al.TaskSpec(op="add", n_digits=2, format="reversed")
    model = _tiny(task, seed=3)
    with torch.no_grad():
        model.state_dict()["blocks.1.attn.o.weight"][:, :16] = 0.0
    pairs = al.tasks.corrupt_pairs(task, 16, change="a.units", seed=1)
    exact = al.circuits.score_edges(model, pairs, "exact", progress=False)
    tol = 0.01
    kept = exact.greedy(model, pairs, tolerance=tol, progress=False)
    frame = kept.to_frame().query("in_circuit")
    assert 0 < len(frame) < exact.graph.n_edges
    assert not frame.edge.str.contains("a1.h0").any()
    s = scoring.setup(model, pairs)
    full, empty = evaluation.bounds(model, s, s.graph.mask)
    first = exact.to_frame().set_index("edge").score["m1->logits"] / abs(full - empty)
    assert abs(first) > 2 * tol and "m1->logits" in set(frame.edge)
    assert exact.greedy(model, pairs, tolerance=10.0, progress=False).n_in_circuit == 0


def test_a_threshold_keeps_the_edges_scoring_at_least_it(exact_scores):
    frame = exact_scores.to_frame()
    cut = float(frame.score.sort_values().iloc[-12])  # the 12th largest score
    by_hand = set(frame[frame.score >= cut].edge)
    kept = exact_scores.select(threshold=cut, prune_edges=False).to_frame().query("in_circuit")
    assert set(kept.edge) == by_hand and len(by_hand) >= 12
    absolute = exact_scores.select(threshold=cut, absolute=True, prune_edges=False)
    assert absolute.n_in_circuit == int((frame.score.abs() >= cut).sum())
    with pytest.raises(ArithlensError, match="expected exactly one of them"):
        exact_scores.select(0.1, threshold=cut)


def test_bad_input_is_named(add3, exact_scores):
    model, pairs = add3
    attn_only = _tiny(al.TaskSpec(op="add", n_digits=2, format="reversed"), seed=0)
    attn_only.cfg.attn_only = True
    with pytest.raises(ArithlensError, match="attention-only models are not supported"):
        al.circuits.graph_of(attn_only)
    with pytest.raises(ArithlensError, match="fraction=1.5 is invalid"):
        exact_scores.select(1.5)
    with pytest.raises(ArithlensError, match="method='acdc' is unknown"):
        al.circuits.score_edges(model, pairs, "acdc")
    with pytest.raises(ArithlensError, match="2 layers x 4 heads"):
        exact_scores.curve(al.load("add3-1L"), pairs)
    with pytest.raises(ArithlensError, match="edge 'a5.h0->logits' is not in a graph"):
        al.circuits.Circuit.from_mib(
            {"cfg": {"n_layers": 2, "n_heads": 4}, "edges": {"a5.h0->logits": {"score": 1}}}
        )
    with pytest.raises(ArithlensError, match="no edge of this circuit is chosen"):
        al.circuits.apply(model, exact_scores, pairs)
    with pytest.raises(ArithlensError, match="tolerance=-1 is invalid"):
        exact_scores.greedy(model, pairs, tolerance=-1)
    other = al.load("add3-2L")  # the same shape, one weight moved
    with torch.no_grad():
        list(other.parameters())[-3].flatten()[0] += 1e-3
    with pytest.raises(ArithlensError, match="scored on a model with weights"):
        al.circuits.apply(other, exact_scores.select(0.1), pairs)
    add5 = al.load("add5-2L")
    with pytest.raises(ArithlensError, match="add5"):
        exact_scores.curve(model, al.tasks.corrupt_pairs(add5.task, 8, change="a.units"))


def test_the_drawing_shows_the_chosen_edges(exact_scores):
    small = exact_scores.select(0.05)
    fig = small.plot()
    lines = [t for t in fig.data if t.mode == "lines"]
    drawn = {t.hovertext.split(":")[0] for t in lines}
    assert drawn == set(small.to_frame().query("in_circuit").edge) and len(lines) == len(drawn)
    widest = max(lines, key=lambda t: t.line.width)
    assert widest.hovertext.split(":")[0] == small.top(1, absolute=True).edge.iloc[0]


def test_cli_circuit_writes_the_mib_json_the_drawing_and_the_curve(tmp_path, capsys):
    from arithlens.cli import main

    argv = ["circuit", "add3-2L", "--method", "eap", "--n", "16", "--fraction", "0.1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "eap_a.units_mib.json").read_text())
    kept = [e for e, v in data["edges"].items() if v["in_graph"]]
    assert 0 < len(kept) <= 11  # at most 10% of the 110 edges, fewer after pruning
    summary = json.loads((tmp_path / "eap_a.units_summary.json").read_text())
    assert summary["faithfulness"][-1] == pytest.approx(1.0) and summary["edges_in_circuit"] == len(
        kept
    )
    assert summary["circuit_faithfulness"] == pytest.approx(
        al.circuits.Circuit.load(tmp_path / "eap_a.units").evaluation["faithfulness"]
    )
    assert (tmp_path / "eap_a.units.html").stat().st_size > 10_000
    assert "CPR" in capsys.readouterr().out.splitlines()[-1]
    assert main([*argv[:-1], "1.5", "--out", str(tmp_path / "bad")]) != 0
    assert "--fraction 1.5 is invalid" in capsys.readouterr().err
    assert main([*argv, "--greedy", "0.02", "--out", str(tmp_path / "g")]) == 0
    greedy = json.loads((tmp_path / "g" / "eap_a.units_summary.json").read_text())
    assert greedy["greedy_tolerance"] == 0.02
    assert greedy["edges_in_circuit"] <= summary["edges_in_circuit"]


def test_a_hugging_face_gpt2_bridge_runs_the_same_graph():
    # the zoo's stand-in is a GPT-2 booted through the Hugging Face path (JointQKV attention):
    # nothing ablated is the model, everything ablated the corrupt run, and exact matches the
    # hand-written loop on a key and an MLP receiver
    model = al.load("add2-gpt2")
    pairs = model.encoder.pairs(8, "a.units", seed=0)
    s = scoring.setup(model, pairs)
    _assert_identities(model, s)
    pairs_ = [("a0.h1", "a2.h3<k>"), ("m2", "m3")]
    at = [(s.graph.receivers.index(r), s.graph.senders.index(sd)) for sd, r in pairs_]
    exact = scoring.score_matrix(model, s, "exact", progress=False, edges=at)
    assert int((exact != 0).sum()) <= len(at)  # only the edges asked for were run
    for sender, receiver in pairs_:
        r, sd = s.graph.receivers.index(receiver), s.graph.senders.index(sender)
        hand = _hand_edge(model, pairs, sender, receiver, None)
        assert float(exact[r, sd]) == pytest.approx(hand, abs=1e-4)


@pytest.fixture(scope="module")
def hf_models(tmp_path_factory):
    from arithlens.models.toy import ARCHS, toy_checkpoint

    return {
        a: al.load(toy_checkpoint(tmp_path_factory.mktemp(a), a), template="{a}+{b}=", shots=1)
        for a in ARCHS
        if a != "gpt2"
    }


@pytest.mark.parametrize(
    "arch, edges",
    [
        # NeoX runs attention and MLP in parallel: m0 reads the stream before layer 0
        ("neox", [("input", "m0"), ("a0.h2", "a1.h1<v>"), ("m0", "m1")]),
        # Llama: 4 query heads share 2 key-value heads, each with one key and value input
        ("llama", [("a0.h3", "a1.g1<k>"), ("m0", "a1.g0<v>"), ("a0.h1", "a1.h2<q>")]),
    ],
)
def test_neox_and_llama_graphs_run_exactly(hf_models, arch, edges):
    model = hf_models[arch]
    pairs = model.encoder.pairs(8, "a.units", seed=0)
    s = scoring.setup(model, pairs)
    g = s.graph
    if arch == "neox":
        assert g.parallel and "a0.h0->m0" not in g.edge_names()
        assert g.n_edges == Graph(2, 4).n_edges - 2 * 4  # m0, m1 lose their own layer's 4 heads
    else:
        assert g.grouped and g.kv_heads == 2 and "a1.g1<k>" in g.receivers
        assert len(g.receivers) == 2 * (4 + 2 + 2 + 1) + 1
    _assert_identities(model, s)
    at = [(g.receivers.index(r), g.senders.index(sd)) for sd, r in edges]
    exact = scoring.score_matrix(model, s, "exact", progress=False, edges=at)
    for sender, receiver in edges:
        r, sd = g.receivers.index(receiver), g.senders.index(sender)
        hand = _hand_edge(model, pairs, sender, receiver, None)
        assert abs(hand) > 1e-6, (sender, receiver)  # the edge moves the metric
        assert float(exact[r, sd]) == pytest.approx(hand, abs=1e-5), (sender, receiver)
    with pytest.raises(ArithlensError, match="not \\(receiver, sender\\) pairs"):
        scoring.score_matrix(model, s, "exact", progress=False, edges=[(0, 5)])


def test_a_sorting_model_scores_through_the_same_seam():
    # the task seam: a sorter's pairs (change one element) go through the same setup, and exact
    # matches the hand loop on a key and an MLP receiver
    model = al.load("sort1to10-v36-2L")
    pairs = al.tasks.family_pairs(model.task, 8, seed=0)
    s = scoring.setup(model, pairs)
    edges = [("input", "a1.h0<k>"), ("a0.h1", "m1")]
    at = [(s.graph.receivers.index(r), s.graph.senders.index(sd)) for sd, r in edges]
    exact = scoring.score_matrix(model, s, "exact", progress=False, edges=at)
    for sender, receiver in edges:
        r, sd = s.graph.receivers.index(receiver), s.graph.senders.index(sender)
        hand = _hand_edge(model, pairs, sender, receiver, None)
        assert abs(hand) > 1e-6 and float(exact[r, sd]) == pytest.approx(hand, abs=1e-5)


def test_the_position_aware_drawing_places_edges_at_their_positions(add3):
    model, pairs = add3
    c = al.circuits.score_edges(model, pairs, "eap", positions=True, progress=False).select(0.02)
    fig = c.plot()
    chosen = c.to_frame().query("in_circuit")
    solid = [t for t in fig.data if t.mode == "lines" and t.line.dash is None]
    assert len(solid) == len(chosen)
    assert {t.hovertext.rsplit(": ", 1)[0] for t in solid} == {
        f"{e} @ {lab}" for e, lab in zip(chosen.edge, chosen.pos_label)
    }
    roles = [lab.split(":")[-1] for lab in c.pos_labels]
    assert list(fig.layout.xaxis.ticktext) == [roles[p] for p in sorted(set(chosen.pos))]
    # attention links run forward in position, within one head's row
    for t in (t for t in fig.data if t.mode == "lines" and t.line.dash == "dot"):
        assert t.x[1] > t.x[0] and t.y[1] == t.y[0]
    with pytest.raises(ArithlensError, match="by_position=True needs a position-resolved"):
        summed = al.circuits.Circuit.from_mib(
            {k: v for k, v in c.to_mib().items() if k != "arithlens"}
        )
        al.plots.circuit_figure(summed, by_position=True)
