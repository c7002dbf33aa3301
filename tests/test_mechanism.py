"""Mechanism maps (issue 31, first slice): node names, mean ablation of position-resolved nodes
against a hand-written hook loop, the map's tags, complement ablation, the document from JSON."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import arithlens as al
from arithlens.analyses.mechanism import Node, Runner, complement_exact, parse_node
from arithlens.errors import ArithlensError


@pytest.fixture(scope="module")
def add3():
    model = al.load("add3-2L")
    return model, al.mechanism.mechanism_map(model, n=300, progress=False, name="add3-2L")


def test_node_names_parse_and_format():
    assert parse_node("P8L1H2") == Node(8, 1, 2) and Node(8, 1, 2).name == "P8L1H2"
    assert parse_node("P9L0M0") == parse_node("P9L0M") == Node(9, 0, None)
    assert Node(12, 0, None).with_role(["x"] * 12 + ["12:c2"]) == "P12L0M (c2)"
    for bad in ("L1H2", "P8L1", "P8L1H", "p8l1h2", "P8L1X2"):
        with pytest.raises(ArithlensError, match="does not parse"):
            parse_node(bad)


def _hand_fail(model, problems, name: str) -> float:
    """The share of problems right before and wrong after, with the node replaced by its mean
    over the problems: a hook loop written here, exact match read as greedy-equivalent argmax
    over the answer tokens."""
    node = parse_node(name)
    batch = al.encode(problems)
    hook = (
        f"blocks.{node.layer}.attn.hook_z"
        if node.head is not None
        else f"blocks.{node.layer}.hook_mlp_out"
    )
    _, cache = model.run_with_cache(batch.tokens)
    mean = cache[hook].mean(0)

    def replace(act, hook):
        act = act.clone()
        if node.head is None:
            act[:, node.pos] = mean[node.pos]
        else:
            act[:, node.pos, node.head] = mean[node.pos, node.head]
        return act

    def exact(logits):
        right = []
        for i in range(len(problems)):
            start, end = int(batch.prompt_len[i]), int(batch.lengths[i])
            pred = logits[i, start - 1 : end - 1].argmax(-1)
            right.append(bool((pred == batch.tokens[i, start:end]).all()))
        return np.array(right)

    with torch.no_grad():
        before = exact(model(batch.tokens))
        after = exact(model.run_with_hooks(batch.tokens, fwd_hooks=[(hook, replace)]))
    return float((before & ~after).mean())


@pytest.mark.parametrize("name", ["P8L0H2", "P7L0M", "P9L1H0"])
def test_node_ablation_equals_a_hand_written_hook_loop(add3, name):
    model, m = add3
    problems = al.tasks.sample(model.task, 300, seed=0)
    run = Runner(model, problems)
    node = parse_node(name)
    ours = float((run.base.exact & ~run.score([node]).exact).mean())
    assert ours == pytest.approx(_hand_fail(model, problems, name), abs=1e-12)
    assert ours > 0.003  # each of these nodes matters (measured 0.70, 0.89, 0.02)
    by_name = {d["name"]: d["fail"] for d in m.nodes}
    assert by_name[name] == pytest.approx(ours, abs=1e-6)


def test_node_ablation_on_a_random_model():
    from dataclasses import replace

    from arithlens.models.presets import boot, preset_spec

    task = al.TaskSpec(op="add", n_digits=2, format="reversed")
    spec = replace(preset_spec("2L", task, seed=1), d_model=32, n_heads=2, d_head=16, d_mlp=64)
    model = boot(spec, task)
    problems = al.tasks.sample(task, 200, seed=3)
    run = Runner(model, problems)
    for name in ("P5L0H1", "P6L1M"):
        ours = float((run.base.exact & ~run.score([parse_node(name)]).exact).mean())
        assert ours == pytest.approx(_hand_fail(model, problems, name), abs=1e-12)


def test_a_node_breaks_only_digits_predicted_at_or_after_its_position(add3):
    # causal attention: a node at position p cannot change a prediction made before p
    _, m = add3
    predicted_at = {}
    for name in m.digit_names:
        role_pos = [p for p, lab in enumerate(m.pos_labels) if lab.endswith(f":{name}")][0]
        predicted_at[name] = role_pos - 1
    assert len(m.nodes) >= 10
    for d in m.nodes:
        node = parse_node(d["name"])
        assert d["impact"] and all(predicted_at[x] >= node.pos for x in d["impact"]), d
    # reversed 3-digit addition: the units digit is predicted at '=' and needs its heads there,
    # which read a0 and b0 (Quirke's base add)
    eq = [d for d in m.nodes if d["name"] in ("P7L0H2", "P7L0H3")]
    assert len(eq) == 2
    assert all(set(d["attention"]) == {"2:a0", "6:b0"} for d in eq)


def test_complement_ablation_brackets_the_model(add3):
    model, m = add3
    problems = al.tasks.sample(model.task, 300, seed=0)
    run = Runner(model, problems)
    L, H, P = run.shape
    every = [Node(p, layer, h) for p in range(P) for layer in range(L) for h in [*range(H), None]]
    # keeping every node ablates nothing: the model's own exact match, read by al.evaluate
    full = al.evaluate(model, problems=problems).exact_match
    assert complement_exact(run, every) == pytest.approx(full, abs=1e-12)
    assert complement_exact(run, []) < 0.05  # keeping nothing breaks it
    # the useful nodes alone keep most of it (measured 0.88 on 300 problems, 0.96 on 1000: a
    # node failing one problem in 1000 is missed by 300)
    assert m.complement_exact > 0.8 and m.base_exact == pytest.approx(full)


def test_the_large_complement_test_in_batches_equals_one_run(add3):
    # the batched test (means summed over batches) against a Runner over all problems at once
    model, m = add3
    keep = m.useful_nodes
    one = complement_exact(Runner(model, al.tasks.sample(model.task, 400, seed=5)), keep)
    many = al.mechanism.complement_test(model, keep, n=400, seed=5, batch=64, progress=False)
    assert many["n"] == 400 and many["model_exact"] == pytest.approx(1.0)
    assert abs(many["complement_exact"] - one) <= 2 / 400 and one < 1
    empty = al.mechanism.complement_test(model, [], n=200, seed=5, batch=64, progress=False)
    assert empty["complement_exact"] < 0.05


def test_the_document_is_made_from_the_saved_json_alone(add3, tmp_path):
    _, m = add3
    m.save(tmp_path / "map")
    again = al.mechanism.MechanismMap.load(tmp_path / "map")
    assert again.document() == m.document()
    doc = m.document()
    assert doc.startswith("# Mechanism map: add3-2L (add3-reversed)")
    assert "```mermaid" in doc and "P7L0H2" in doc and f"{m.complement_exact:.4f}" in doc
    tags = m.tags()["P7L0H2"]  # e.g. ['Fail:63', 'Impact:c1 c0', 'Attn:b0=52%', 'Attn:a0=47%', ...]
    assert tags[1].startswith("Impact:") and tags[1].endswith("c0")
    assert {t.split("=")[0] for t in tags if t.startswith("Attn:")} == {"Attn:a0", "Attn:b0"}
    fig = m.plot("impact")
    assert list(fig.data[0].x) == [m.pos_labels[p] for p in m.useful_positions]


def test_cli_mechanism_writes_the_map_the_document_and_the_heatmaps(tmp_path, capsys):
    from arithlens.cli import main

    argv = ["mechanism", "add3-2L", "--n", "100", "--pairs", "20", "--out", str(tmp_path)]
    assert main(argv) == 0
    doc = (tmp_path / "mechanism.md").read_text()
    assert "```mermaid" in doc and "## Hypothesis" in doc
    assert (tmp_path / "mechanism.html").stat().st_size > 10_000
    assert al.mechanism.MechanismMap.load(tmp_path / "map").n == 100
    out = capsys.readouterr().out.splitlines()
    assert "useful nodes" in out[-1] and "clauses of Quirke & Barez's account hold" in out[-2]
    assert main([*argv[:-2], "--threshold", "0", "--out", str(tmp_path / "b")]) != 0
    assert "--threshold 0.0 is invalid" in capsys.readouterr().err


def test_bad_input_is_named(add3):
    model, m = add3
    run = Runner(model, al.tasks.sample(model.task, 20, seed=0))
    with pytest.raises(ArithlensError, match="node P40L0H0 is not in the model"):
        run.check(["P40L0H0"])
    with pytest.raises(ArithlensError, match="node P3L0H7 is not in the model"):
        complement_exact(run, ["P3L0H7"])
    with pytest.raises(ArithlensError, match="min_fail=1.5 is invalid"):
        al.mechanism.mechanism_map(model, n=10, min_fail=1.5)
    with pytest.raises(ArithlensError, match="show='attention' is unknown"):
        m.plot("attention")


@pytest.mark.parametrize("code", ["BA", "MC", "MS", "US", "UC"])
def test_intervention_questions_are_what_the_sub_task_says(code):
    # checked with the task's own carry labels and Python integers, not the generator's code
    from arithlens.analyses.mechanism.subtasks import SUBTASKS

    task = al.TaskSpec(op="add", n_digits=5)
    rng = np.random.default_rng(0)
    for digit in range(0 if code in ("BA", "MC") else 1, 5):
        sa, sb, ca, cb, expected = SUBTASKS[code].make(rng, 5, digit, 50)
        store = al.tasks.Problems(task, sa.astype(np.uint8), sb.astype(np.uint8))
        clean = al.tasks.Problems(task, ca.astype(np.uint8), cb.astype(np.uint8))
        if code == "MS":  # a carry into digit n in both; only the store's cascades on
            into = np.zeros((50, 6), dtype=bool)
            into[:, digit] = True
            assert (al.tasks.carries(clean).astype(bool) == into).all()
            into[:, digit + 1] = True
            assert (al.tasks.carries(store).astype(bool) == into).all()
            assert ((sa + sb)[:, digit] == 9).all()
            assert [a + b + 10 ** (digit + 1) for a, b in clean.ints()] == expected.tolist()
            continue
        if code in ("US", "UC"):  # the store's carry reaches digit n + 1: cascaded or made
            assert not al.tasks.carries(clean).any()
            into = np.zeros((50, 6), dtype=bool)
            into[:, digit + 1] = True
            cascade = np.arange(50) % 2 == 1 if code == "UC" else np.ones(50, dtype=bool)
            into[cascade, digit] = True
            assert (al.tasks.carries(store).astype(bool) == into).all()
            assert ((sa + sb)[cascade, digit] == 9).all()
            if code == "US":
                assert ((ca + cb)[:, digit] == 9).all()  # the same column sum in both
            assert [a + b + 10 ** (digit + 1) for a, b in clean.ints()] == expected.tolist()
            continue
        assert not al.tasks.carries(clean).any()  # the clean questions never carry
        made = al.tasks.carries(store)  # (problem, answer digit): a carry comes into it
        ints = clean.ints()
        if code == "BA":
            assert not made.any() and (sa != ca)[:, digit].any()
            assert ((sa == ca) & (sb == cb))[:, [k for k in range(5) if k != digit]].all()
            for (a, b), (x, y), want in zip(ints, store.ints(), expected):
                col = lambda v: (v // 10**digit) % 10  # noqa: E731
                assert want == a + b + (col(x) + col(y) - col(a) - col(b)) * 10**digit
        else:
            assert made[:, digit + 1].all() and made.sum(1).tolist() == [1] * 50
            assert [a + b + 10 ** (digit + 1) for a, b in ints] == expected.tolist()


def test_an_intervention_equals_a_hand_written_patch(add3):
    from arithlens.analyses.mechanism.subtasks import Intervention

    model, _ = add3
    run = Intervention(model, "MC", 0, n=60, seed=1)
    node = parse_node("P8L0H1")
    store_z = model.run_with_cache(run.store.tokens)[1]["blocks.0.attn.hook_z"]

    def patch(z, hook):
        z = z.clone()
        z[:, 8, 1] = store_z[:, 8, 1]
        return z

    with torch.no_grad():
        pred = model.run_with_hooks(run.tokens, fwd_hooks=[("blocks.0.attn.hook_z", patch)])
    pred = pred.argmax(-1)
    ok = [
        all(int(pred[i, p - 1]) == int(run.tokens[i, p]) for p in run.answer_pos[i].tolist())
        for i in range(60)
    ]
    assert run.success([node]) == pytest.approx(np.mean(ok), abs=1e-12)
    assert run.success([]) < 0.05  # without the patch the model answers the clean question


@pytest.fixture(scope="module")
def add5():
    model = al.load("add5-2L")
    m = al.mechanism.mechanism_map(model, n=300, progress=False, name="add5-2L")
    return model, m.search(model, codes=("MC",), n=60, progress=False)


def test_make_carry_is_one_layer_0_head_per_answer_position_in_add5(add5):
    # measured: P12L0H0 .. P15L0H0 carry the make-carry of columns 0-3 (93-100% of pairs),
    # each attending to the column's two digits; base add sits in the layer-0 MLPs
    model, m = add5
    for k, pos in enumerate(range(12, 16)):
        assert f"P{pos}L0H0" in m.subtasks[f"MC.c{k}"]["nodes"]
    good = m.test((al.mechanism.Clause("MC", unit="head", layer=0, attends=("a{n}", "b{n}")),))
    wrong = m.test((al.mechanism.Clause("MC", unit="mlp", layer=1),))
    held = [c["holds"] for c in good.clauses][:4]
    assert held == [True] * 4 and not any(c["holds"] for c in wrong.clauses[:4])
    summary = good.clause_summary()
    assert summary["total"] == 5 and summary["held"] >= 4 and 0 < summary["explained"] < 1
    doc = good.document()
    assert "## Hypothesis" in doc and "MC of digit 0 is done by a head of layer 0" in doc
    assert "Algo:MC.c0" in good.tags()["P12L0H0"]


def test_sub_task_bad_input_is_named(add5):
    from arithlens.analyses.mechanism.subtasks import search, subtask

    model, m = add5
    with pytest.raises(ArithlensError, match="sub-task 'ZZ' is unknown"):
        subtask("ZZ", model, 0)
    with pytest.raises(ArithlensError, match="threshold=0 is invalid"):
        search(model, "MC", 0, [], threshold=0)
    with pytest.raises(ArithlensError, match="digit=7 is invalid"):
        subtask("MC", model, 7)
    with pytest.raises(ArithlensError, match="digit=0 is invalid for MS"):
        subtask("MS", model, 0)
    with pytest.raises(ArithlensError, match="is for op 'add'"):
        subtask("MC", al.load("mul2-3L"), 0)
    with pytest.raises(ArithlensError, match="the map is of a add5-reversed model"):
        m.search(al.load("add3-2L"))


@pytest.mark.parametrize("name", ["add3-2L", "add5-2L", "add5-plain-2L", "mul2-3L"])
def test_committed_documents_are_their_maps_rendered(name):
    # assets/mechanisms/<model>/mechanism.md is what `arithlens mechanism` wrote; rendering the
    # committed map JSON again, with no model, gives the same document
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "assets" / "mechanisms" / name
    m = al.mechanism.MechanismMap.load(folder / "map")
    assert m.document() == (folder / "mechanism.md").read_text()
    assert m.model == name and m.n == 2000


def test_patching_tables_name_their_cells_as_nodes(add3):
    model, _ = add3
    pairs = al.tasks.corrupt_pairs(model.task, 8, change="a.units", seed=0)
    heads = al.patching.activation_patch(
        model, pairs, "z", by=("layer", "pos", "head"), progress=False
    )
    frame = heads.to_frame()
    back = [parse_node(x) for x in frame.node]
    assert [(n.pos, n.layer, n.head) for n in back] == list(
        zip(frame["pos"], frame["layer"], frame["head"])
    )
    mlps = al.patching.activation_patch(
        model, pairs, "mlp_out", by=("layer", "pos"), progress=False
    )
    assert mlps.to_frame().node.iloc[7 + 13] == "P7L1M"  # layer 1, position 7 of 13
    resid = al.patching.activation_patch(
        model, pairs, "resid_pre", by=("layer", "pos"), progress=False
    )
    assert "node" not in resid.to_frame()  # the residual stream is not a node


def _swap_heads(model, layer: int, h1: int, h2: int):
    """A copy of ``model`` whose heads ``h1`` and ``h2`` of ``layer`` trade places (their
    query, key, value and output weights permuted): the same function, with the mechanism's
    head labels swapped by construction."""
    import copy

    other = copy.deepcopy(model)
    dh = other.cfg.d_head
    a, b = slice(h1 * dh, (h1 + 1) * dh), slice(h2 * dh, (h2 + 1) * dh)
    sd = other.state_dict()
    with torch.no_grad():
        for kind in ("q", "k", "v"):
            for suffix in ("weight", "bias"):
                w = sd[f"blocks.{layer}.attn.{kind}.{suffix}"]
                w[a], w[b] = w[b].clone(), w[a].clone()
        o = sd[f"blocks.{layer}.attn.o.weight"]
        o[:, a], o[:, b] = o[:, b].clone(), o[:, a].clone()
    return other


def test_the_search_follows_a_mechanism_moved_by_construction(add5):
    # add5-2L makes each carry in head 0 of layer 0; swapping heads 0 and 2 moves that job to
    # head 2 and changes nothing else, so the search must now tag P12L0H2 .. P15L0H2, and the
    # clause "make carry is head 0" must fail where it held
    model, m = add5
    swapped = _swap_heads(model, 0, 0, 2)
    tokens = al.encode(al.tasks.sample(model.task, 50, seed=0)).tokens
    with torch.no_grad():
        assert torch.allclose(swapped(tokens), model(tokens), atol=1e-4)  # the same model
    head0 = (al.mechanism.Clause("MC", unit="head", layer=0, head=0),)
    ms = al.mechanism.mechanism_map(swapped, n=200, progress=False, name="swapped")
    ms = ms.search(swapped, codes=("MC",), n=60, progress=False)
    for k, pos in enumerate(range(12, 16)):
        assert m.subtasks[f"MC.c{k}"]["nodes"] == [f"P{pos}L0H0"]
        assert ms.subtasks[f"MC.c{k}"]["nodes"] == [f"P{pos}L0H2"]
    assert [c["holds"] for c in m.test(head0).clauses][:4] == [True] * 4
    assert not any(c["holds"] for c in ms.test(head0).clauses)


def test_make_sum_9_is_read_by_the_make_carry_head_in_add5(add5):
    # measured (100 pairs): P14L0H0 passes MS of column 2 at 0.90 and P13L0H0 / P15L0H0 reach
    # 0.84 for columns 1 and 3: the head that makes the carry also signals a sum of 9, where
    # Quirke & Barez find separate heads
    from arithlens.analyses.mechanism.subtasks import search

    model, m = add5
    cands = [parse_node(d["name"]) for d in m.nodes if "c3" in d["impact"]]
    res = search(model, "MS", 2, cands, n=60)
    best = max(res["success"], key=res["success"].get)
    assert best == "P14L0H0" and res["success"][best] >= 0.7


def test_the_cascade_is_not_one_node_while_the_carry_is_in_add5(add5):
    # measured (100 pairs): use carry of column 2 (made or cascaded) passes at P14L0H0 (0.92),
    # use sum 9 alone (the cascade) reaches 0.64 there and no single node or pair passes it
    from arithlens.analyses.mechanism.subtasks import search

    model, m = add5
    cands = [parse_node(d["name"]) for d in m.nodes if "c3" in d["impact"]]
    uc = search(model, "UC", 2, cands, n=60)["success"]
    us = search(model, "US", 2, cands, n=60)["success"]
    assert max(uc, key=uc.get) == "P14L0H0" and uc["P14L0H0"] >= 0.85
    assert max(us.values()) < 0.8 and us["P14L0H0"] < uc["P14L0H0"] - 0.15


def test_clauses_of_separate_nodes_read_the_other_sub_tasks_tags():
    from arithlens.analyses.mechanism.clauses import Clause, check

    nodes = [dict(name=n, attention={}) for n in ("P14L0H0", "P14L0H1", "P14L1M")]
    found = dict(
        code="MC", digit=2, target="c3", nodes=["P14L0H0"]
    )  # make carry of column 2 at the head that predicts c3
    same = dict(code="MS", digit=2, target="c3", nodes=["P14L0H0"])
    apart = dict(code="MS", digit=2, target="c3", nodes=["P14L0H1"])
    ba_elsewhere = dict(code="BA", digit=2, target="c2", nodes=["P14L0H0"])  # not c3: no clash
    clause = (Clause("MC", unit="head", apart_from=("MS", "BA")),)
    held = lambda subs: check(subs, nodes, clause)[0]["holds"]  # noqa: E731
    assert held({"MC.c2": found, "MS.c2": apart, "BA.c2": ba_elsewhere})
    assert not held({"MC.c2": found, "MS.c2": same})
    assert "not by a node of MS or BA" in check({"MC.c2": found}, nodes, clause)[0]["clause"]
