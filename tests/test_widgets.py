"""Widgets driven from Python (no browser): each control changes the figure the way it should,
and bad input shows a message while the last good state stays. Also the analyses behind them:
lens.trace, patching.patch_cell, probes.projections, tasks.parse_problem."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
import torch
from plotly.callbacks import InputDeviceState, Points

import arithlens as al
from arithlens.analyses.evaluation import parse_answer
from arithlens.models.contract import encoder_of
from arithlens.models.records import TrainRecord
from arithlens.models.run import greedy_complete
from arithlens.tasks import corrupt_pairs, parse_problem


def click(fw, x, y):
    """What plotly sends when a heatmap cell is clicked: dispatch to the trace's handler."""
    trace = fw.data[0]
    points = Points(point_inds=[0], xs=[x], ys=[y], trace_name="", trace_index=0)
    trace._dispatch_on_click(points, InputDeviceState())


# ------------------------------------------------------------------------- analyses


def test_parse_problem_accepts_spacing_and_names_bad_input(add3_task):
    assert parse_problem(add3_task, " 7 + 608 =").ints() == [(7, 608)]
    for text, words in [
        ("", "empty"),
        ("12a+3", "'a'"),
        ("1234+5", "1234 has 4 digits"),
        ("12-3", "'-'"),
        ("1+2+3", "form"),
    ]:
        with pytest.raises(al.ArithlensError, match=words):
            parse_problem(add3_task, text)
    sub = al.TaskSpec(op="sub", n_digits=3)
    with pytest.raises(al.ArithlensError, match="negative"):
        parse_problem(sub, "3-5")


def test_trace_matches_greedy_decoding_and_the_output_distribution(zoo_add3_2l):
    model = zoo_add3_2l
    task = model.task
    problems = al.tasks.sample(task, 12, seed=3, strategy="cascade")
    completions = greedy_complete(model, al.encode(problems))
    for i in range(len(problems)):
        t = al.lens.trace(model, problems[i])
        assert [int(d) for d in t.predicted] == parse_answer(task, completions[i])
        # the lens at the last stream is the model's own output distribution
        np.testing.assert_allclose(t.lens_prob[-1], t.prob, atol=1e-5)
        assert t.lens_prob.shape == (model.cfg.n_layers + 1, task.answer_width)
        # attention rows are distributions over earlier positions only
        np.testing.assert_allclose(t.pattern.sum(-1), 1.0, atol=1e-5)
        assert np.triu(t.pattern, 1).max() < 1e-6
    assert al.lens.trace(model, "123+456").answer == "9750"


def test_trace_on_a_hugging_face_model(tmp_path):
    model = al.load(al.llm.toy_checkpoint(tmp_path / "gpt2"), template="{a}+{b}=")
    t = al.lens.trace(model, "12+34")
    assert len(t.predicted) == len(t.answer_pos) >= 1
    np.testing.assert_allclose(t.lens_prob[-1], t.prob, atol=1e-4)


def test_patch_cell_mean_equals_the_sweep_cell(zoo_add3_2l):
    model = zoo_add3_2l
    batch = encoder_of(model).pairs(24, "a.units", seed=1)
    for comp, by, cell, kw in [
        ("z", ("layer", "pos", "head"), (1, 9, 2), dict(pos=9, head=2)),
        ("z", ("layer", "head"), (0, 1), dict(head=1)),
        ("resid_pre", ("layer", "pos"), (1, 8), dict(pos=8)),
        ("pattern", ("layer", "head"), (1, 0), dict(head=0)),
    ]:
        for direction in ("denoise", "noise"):
            sweep = al.patching.activation_patch(
                model, batch, comp, by=by, direction=direction, metric="logit_diff", progress=False
            )
            eff = al.patching.patch_cell(
                model, batch, comp, cell[0], direction=direction, metric="logit_diff", **kw
            )
            assert eff.patched.mean().item() == pytest.approx(sweep.values[cell].item(), abs=1e-4)
            base = eff.corrupt if direction == "denoise" else eff.clean
            torch.testing.assert_close(eff.effect, eff.patched - base)
    with pytest.raises(al.ArithlensError, match="has no heads"):
        al.patching.patch_cell(model, batch, "resid_pre", 0, head=1)
    with pytest.raises(al.ArithlensError, match="pos=99"):
        al.patching.patch_cell(model, batch, "z", 0, pos=99)


def test_corrupt_pairs_of_given_clean_problems(add3_task):
    clean = parse_problem(add3_task, "123+456")
    pairs = corrupt_pairs(add3_task, 20, change="b.tens", clean=clean, seed=0)
    assert set(pairs.clean.ints()) == {(123, 456)}
    assert all(b // 10 % 10 != 5 and a == 123 for a, b in pairs.corrupt.ints())
    assert len(set(pairs.corrupt.ints())) > 3


def test_projections_separate_the_classes_at_the_best_site(zoo_add3_2l):
    res = al.probes.fit(zoo_add3_2l, "carry.tens", n=1000, controls=("majority",), progress=False)
    best = res.best().iloc[0]
    df = al.probes.projections(zoo_add3_2l, res, "carry.tens", best["layer"], int(best["pos"]))
    assert len(df) == 1000
    assert ((df.projection > 0) == (df.label == 1)).mean() > 0.95
    emb = al.probes.projections(zoo_add3_2l, res, "carry.tens", "emb", 0, n=300)
    assert ((emb.projection > 0) == (emb.label == 1)).mean() < 0.8


def test_learned_at_is_where_accuracy_stays_above_threshold():
    r = TrainRecord(
        config={},
        eval_steps=[10, 20, 30, 40],
        eval_digit_acc=[[0.1, 0.0], [0.99, 0.2], [0.5, 0.96], [0.97, 0.99]],
    )
    assert r.learned_at(0.95) == [40, 30]
    assert r.learned_at(0.999) == [None, None]


# --------------------------------------------------------------------------- widgets


@pytest.fixture(scope="module")
def problem_explorer(zoo_add3_2l):
    return al.widgets.ProblemExplorer(zoo_add3_2l, "123+456")


def test_problem_explorer_shows_answer_lens_and_attention(problem_explorer, zoo_add3_2l):
    pe = problem_explorer
    pe.text.value = "123+456"
    assert pe.error is None and pe.problem == "123+456"
    assert list(pe.answer_fig.data[0].text) == list("9750")
    assert np.array(pe.lens_fig.data[0].z).shape == (3, 4)
    pe.text.value = "999+1"
    assert list(pe.answer_fig.data[0].text) == list("0001")
    _, cache = zoo_add3_2l.run_with_cache(
        al.encode(parse_problem(zoo_add3_2l.task, "999+1")).tokens
    )
    pe.head.value = "L1H2"
    np.testing.assert_allclose(
        np.array(pe.attention_fig.data[0].z),
        cache["blocks.1.attn.hook_pattern"][0, 2].numpy(),
        atol=1e-5,
    )
    before = np.array(pe.attention_fig.data[0].z)
    pe.head.value = "L0H0"
    assert np.abs(np.array(pe.attention_fig.data[0].z) - before).max() > 0.1
    pe.draw_random()
    assert pe.problem != "999+1" and pe.error is None


@pytest.mark.parametrize(
    "text, words", [("12a+3", "'a'"), ("", "empty"), ("1234+5", "4 digits"), ("5*6", "'*'")]
)
def test_problem_explorer_bad_input_keeps_last_state(problem_explorer, text, words):
    pe = problem_explorer
    pe.text.value = "321+654"
    answer = list(pe.answer_fig.data[0].text)
    pe.text.value = text
    assert pe.error is not None and words in pe.error
    assert "Traceback" not in pe.status.value
    assert pe.problem == "321+654" and list(pe.answer_fig.data[0].text) == answer
    pe.text.value = "100+200"
    assert pe.error is None and list(pe.answer_fig.data[0].text) == list("0030")


def test_patching_explorer_controls_and_cells(zoo_add3_2l):
    model = zoo_add3_2l
    px = al.widgets.PatchingExplorer(model, n=16, granularity="heads")
    batch = px.pairs()
    expect = al.patching.activation_patch(
        model, batch, "z", by=("layer", "head"), metric="logit_diff", progress=False
    )
    np.testing.assert_allclose(np.array(px.heatmap.data[0].z), expect.values.numpy(), atol=1e-5)
    px.direction.value = "noise"
    noise = al.patching.activation_patch(
        model,
        batch,
        "z",
        by=("layer", "head"),
        metric="logit_diff",
        direction="noise",
        progress=False,
    )
    np.testing.assert_allclose(np.array(px.heatmap.data[0].z), noise.values.numpy(), atol=1e-5)
    px.granularity.value = "resid_pre"
    z = np.array(px.heatmap.data[0].z)
    assert z.shape == (model.cfg.n_layers, batch.n_pos)
    # clicking a cell shows that cell's per-pair effects
    label = px.result.pos_labels[8]
    click(px.heatmap, label, "L1")
    assert px.cell == (1, 8, None)
    effects = np.concatenate([np.asarray(t.x) for t in px.effect_fig.data])
    assert len(effects) == 16
    assert effects.mean() == pytest.approx(z[1, 8] - px.result.clean, abs=1e-4)
    px.granularity.value = "heads_by_pos"
    click(px.heatmap, px.result.pos_labels[9], "L1H2")
    assert px.cell == (1, 9, 2)
    assert np.array(px.attention_fig.data[0].z).shape == (batch.n_pos, batch.n_pos)
    # a request the model cannot serve: message, control back, figure kept
    kept = np.array(px.heatmap.data[0].z)
    px.change.value = "op:sub"
    assert "4 digits" in px.error and px.change.value == "a.units"
    np.testing.assert_array_equal(np.array(px.heatmap.data[0].z), kept)
    px.metric.value = "answer_logprob"
    assert px.error is None


def test_problem_explorer_drives_patching_clean_prompt(problem_explorer, zoo_add3_2l):
    px = al.widgets.PatchingExplorer(zoo_add3_2l, n=8, granularity="heads")
    random_z = np.array(px.heatmap.data[0].z)
    link = ipywidgets.dlink((problem_explorer, "problem"), (px, "clean_problem"))
    problem_explorer.text.value = "456+789"
    assert px.clean_problem == "456+789"
    assert set(px.pairs().pairs.clean.ints()) == {(456, 789)}
    assert "corruptions of 456+789" in px.pairs_label.value
    assert np.abs(np.array(px.heatmap.data[0].z) - random_z).max() > 1e-3
    link.unlink()


def test_probe_explorer_controls_and_projection(zoo_add3_2l):
    pr = al.widgets.ProbeExplorer(zoo_add3_2l, n=600, activations=("resid", "attn_out"))
    res = pr.results["resid"]
    for target in ("carry.hundreds", "carry.tens"):
        pr.target.value = target
        z = np.array(pr.heatmap.data[0].z)
        np.testing.assert_allclose(z, res.score[res.target_index(target)], atol=1e-6)
    pr.value.value = "selectivity"
    np.testing.assert_allclose(
        np.array(pr.heatmap.data[0].z), res.selectivity[res.target_index("carry.tens")], atol=1e-6
    )
    pr.activation.value = "attn_out"
    assert pr.result is pr.results["attn_out"]
    assert pr.result.layer_labels == ["L0", "L1"]
    click(pr.heatmap, res.pos_labels[7], "L0")
    assert pr.site == ("L0", 7, None)
    labels = {t.name for t in pr.projection_fig.data}
    assert labels == {"label=0", "label=1"}
    assert sum(len(t.x) for t in pr.projection_fig.data) == 400
    assert pr.latencies_ms and pr.error is None


def test_training_monitor_follows_the_record(add3_task):
    mon = al.widgets.TrainingMonitor()
    model = mon.train(
        al.TaskSpec(op="add", n_digits=2),
        "1L",
        al.TrainConfig(steps=40, eval_every=10, n_test=100, batch_size=64),
        progress=False,
    )
    rec = model.record
    assert len(mon.latencies_ms) == 4  # one redraw per evaluation
    by_name = {t.name: t for t in mon.figure.data}
    assert list(by_name["units acc"].y) == [r[0] for r in rec.eval_digit_acc]
    assert list(by_name["hundreds loss"].x) == rec.eval_steps
    assert len(by_name["train loss"].y) == 40
    assert "step 40/40" in mon.table.value


def test_a_clicked_heatmap_cell_maps_back_to_its_grid_cell():
    # cell_at inverts layer_rows for every grid the widgets draw
    from arithlens.plots import cell_at, layer_rows

    rng = np.random.default_rng(0)
    v = rng.normal(size=(3, 5, 4))  # layer x pos x head
    z, labels = layer_rows(v, ["emb", "L0", "L1"])
    for row in range(z.shape[0]):
        for col in range(z.shape[1]):
            layer, pos, head = cell_at(("layer", "pos", "head"), row, col, n_heads=4)
            assert z[row, col] == v[layer, pos, head]
            assert labels[row] == f"{['emb', 'L0', 'L1'][layer]}H{head}"
    assert cell_at(("layer", "pos"), 2, 3, n_heads=1) == (2, 3, None)
    assert cell_at(("layer", "head"), 1, 2, n_heads=4) == (1, None, 2)


def test_circuit_explorer_slider_curve_and_node_click(zoo_add3_2l):
    model = zoo_add3_2l
    cx = al.widgets.CircuitExplorer(model, n=16, method="eap", fraction=0.05)
    enc = encoder_of(model)
    scored_pairs, held_out = enc.pairs(16, "a.units", 0), enc.pairs(16, "a.units", 1)
    scored = al.circuits.score_edges(model, scored_pairs, "eap", progress=False)
    np.testing.assert_allclose(cx.scored.scores, scored.scores, atol=1e-6)
    curve = scored.curve(model, held_out)
    for fraction in (0.1, 0.2):
        cx.fraction.value = fraction
        lines = [t for t in cx.graph_fig.data if t.mode == "lines"]
        chosen = set(scored.select(fraction).to_frame().query("in_circuit").edge)
        assert {t.hovertext.rsplit(": ", 1)[0] for t in lines} == chosen
        mark = next(t for t in cx.curve_fig.data if t.mode == "markers")
        k = curve.fractions.index(fraction)
        assert mark.x[0] == pytest.approx(100 * fraction)
        assert mark.y[0] == pytest.approx(curve.faithfulness[k], abs=1e-9)
        assert f"{len(chosen)} of 110 edges" in cx.summary.value
    # clicking a node: its own effect is patching that head's corrupt output everywhere
    nodes = cx.graph_fig.data[-1]
    i = list(nodes.customdata).index("a1.h2")
    points = Points(point_inds=[i], xs=[nodes.x[i]], ys=[nodes.y[i]], trace_name="", trace_index=0)
    nodes._dispatch_on_click(points, InputDeviceState())
    assert cx.node == "a1.h2"
    batch = scored_pairs
    metric = al.patching.make_metric("logit_diff", batch)
    corrupt_z = model.run_with_cache(batch.corrupt.tokens)[1]["blocks.1.attn.hook_z"]

    def patch(z, hook):
        z = z.clone()
        z[:, :, 2] = corrupt_z[:, :, 2]
        return z

    with torch.no_grad():
        base = metric(model(batch.clean.tokens)).mean()
        hooked = model.run_with_hooks(
            batch.clean.tokens, fwd_hooks=[("blocks.1.attn.hook_z", patch)]
        )
    assert cx.node_effect == pytest.approx(float(base - metric(hooked).mean()), abs=1e-5)
    assert np.array(cx.attention_fig.data[0].z).shape == (batch.n_pos, batch.n_pos)
    # the method dropdown rescoring, and a problem the task cannot take
    cx.method.value = "eap-ig-inputs"
    assert cx.scored.method == "eap-ig-inputs" and cx.error is None
    cx.clean_problem = "1234+5"
    assert "4 digits" in cx.error
    with pytest.raises(al.ArithlensError, match="not one of MIB's sizes"):
        al.widgets.CircuitExplorer(model, n=4, fraction=0.3)


def test_mechanism_explorer_click_shows_tags_attention_and_failures(zoo_add3_2l):
    model = zoo_add3_2l
    m = al.mechanism.mechanism_map(model, n=200, progress=False)
    mx = al.widgets.MechanismExplorer(model, mechanism=m)
    assert mx.node == max(m.nodes, key=lambda d: d["fail"])["name"]
    # a click on a heatmap cell selects that node; its failures are the map's fail share
    trace = mx.heatmap.data[0]
    click(mx.heatmap, m.pos_labels[8], "L0H2")
    assert mx.node == "P8L0H2"
    fail = next(d["fail"] for d in m.nodes if d["name"] == "P8L0H2")
    assert f"{round(fail * 200)} of 200 problems fail" in mx.failures.value
    assert "Fail:" in mx.tags.value and "P8L0H2 (c0)" in mx.tags.value
    pattern = np.array(mx.attention_fig.data[0].z)
    np.testing.assert_allclose(pattern, mx.runner.mean_pattern(0, 2), atol=1e-6)
    # linked: the circuit explorer follows the selected node
    cx = al.widgets.CircuitExplorer(model, n=8, method="eap")
    al.widgets.link_circuit(mx, cx)
    mx.node = "P9L1M"
    assert cx.node == "m1" and np.array(mx.attention_fig.data).size == 0
    mx.node = "P0L0H0"  # not a useful node
    assert "is not a useful node" in mx.error
    mx.show.value = "impact"
    assert list(mx.heatmap.data[0].x) == list(trace.x)


def test_number_explorer_shows_the_layer_and_period_chosen():
    from arithlens.analyses import numbers as nb

    model = al.load("add2-gpt2")
    nx = al.widgets.NumberExplorer(model, n_pairs=12)
    assert nx.error is None and "helix (100.0,)" not in nx.summary.value
    # the bars are patch_fits on the explorer's own pairs, computed here again
    nx.layer.value = 1
    nx.period.value = "10"
    acts = nb.number_activations(model, "resid_post", 1)
    fit = nb.fit_helix(acts.values, acts.numbers, periods=(10.0,), search=False)
    fits = {
        "helix": fit,
        **{
            k: nb.fit_basis(acts.values, acts.numbers, k, (10.0,))
            for k in ("circle", "poly", "helix-shuffled")
        },
    }
    want = nb.patch_fits(model, nx.pairs, 1, fits)
    np.testing.assert_allclose(
        nx.causal_fig.data[0].y, [want[k] for k in al.plots.numbers.REPLACEMENTS], atol=1e-6
    )
    assert nx.circle_fig.layout.title.text.startswith("helix fit, periods (10.0,)")
    assert "resid_post L1 at a" in nx.summary.value
    with pytest.raises(al.ArithlensError, match="site='logits' is not a number site"):
        al.widgets.NumberExplorer(model, site="logits")
