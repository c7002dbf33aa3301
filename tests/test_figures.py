"""``arithlens figures --quick``: every figure runs, writes its four files, and its numbers satisfy
the invariants that make it meaningful; bad names and unwritable folders fail before any work;
an interrupted run keeps the figures already finished."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import pytest

import arithlens as al
from arithlens.cli import main
from arithlens.figures import ORDER, REGISTRY
from arithlens.figures.base import _browser

TRAINING = ("sample_efficiency", "digit_phases", "key_heads", "length_generalization")
"""The quick runs that train or tune models, or evaluate a dozen (about 165 s of the 215 s a
quick run of all nine takes): `make test-full` runs them (marked full). `make test` still
redraws and checks them from their committed quick JSON, runs key_heads' computation on a local
checkpoint (its fine-tuning canned; `tests/test_stand_in_zoo.py` measures that) and
length_generalization's at a few widths (below)."""
ANALYSED = tuple(name for name in ORDER if name not in TRAINING)


def _quick(tmp_path_factory, names) -> object:
    # no PNG here (~2 s a figure): the export is tested on a redraw below
    out = tmp_path_factory.mktemp("figures")
    argv = ["figures", "--out", str(out), "--quick", "--no-png", "--only", *names]
    assert main(argv) == 0  # 0: every check passed
    return out


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    return _quick(tmp_path_factory, ANALYSED)


@pytest.fixture(scope="module")
def quick_training_run(tmp_path_factory):
    return _quick(tmp_path_factory, TRAINING)


def load(out, name):
    return json.loads((out / name / f"{name}.json").read_text())


def test_all_nine_figures_in_order():
    assert list(REGISTRY) == list(ORDER) and len(ORDER) == 12


def _files_and_checks(out, name) -> None:
    folder = out / name
    assert (folder / f"{name}.html").stat().st_size > 10_000  # plotly.js embedded
    info = load(out, name)
    assert info["checks"] and all(info["checks"].values()), info["checks"]
    assert info["traces"] and all("y" in t or "z" in t for t in info["traces"])  # data plotted
    assert 0 < info["seconds"] and f"{info['seconds']} s" in (folder / f"{name}.md").read_text()
    report = (folder / f"{name}.md").read_text()
    assert "| ours | paper |" in report and "PASS" in report and "FAIL" not in report
    assert info["png"] is None and info["png_note"] == "not asked (png=False)"
    assert not (folder / f"{name}.png").exists()


@pytest.mark.parametrize("name", ANALYSED)
def test_quick_figure_files_and_checks(quick_run, name):
    _files_and_checks(quick_run, name)


@pytest.mark.full
@pytest.mark.parametrize("name", TRAINING)
def test_quick_training_figure_files_and_checks(quick_training_run, name):
    _files_and_checks(quick_training_run, name)


@pytest.mark.full
def test_quick_training_numbers_are_the_meaningful_ones(quick_training_run):
    se = load(quick_training_run, "sample_efficiency")["numbers"]
    assert se["reversed_at_largest"] >= se["plain_at_largest"]
    assert se["exact"]["reversed"]["4000"] > se["exact"]["reversed"]["1000"]  # data helps
    curves = {t["name"]: t["y"] for t in load(quick_training_run, "sample_efficiency")["traces"]}
    assert curves["reversed"] == list(se["exact"]["reversed"].values())
    phases = load(quick_training_run, "digit_phases")["numbers"]
    assert all(phases["end_loss"][d] < phases["start_loss"][d] for d in phases["end_loss"])


def _no_models(monkeypatch) -> None:
    """Any attempt to load, train or retrain a model fails the test."""
    from arithlens.models import loading, zoo

    def refuse(*args, **kwargs):
        raise AssertionError("a redraw must not load or train a model")

    for module, name in ((loading, "load"), (zoo, "retrain"), (al.models, "train")):
        monkeypatch.setattr(module, name, refuse)


def _redrawn(folder, name, monkeypatch, png: bool = False) -> tuple[dict, dict]:
    """The figure's saved JSON before, and after :func:`al.figures.recheck` redrew the folder
    from its numbers with every model refused (HTML and PNG deleted first; the PNG is exported
    again only with ``png``: kaleido takes ~2 s a figure, and the runs above test it)."""
    before = load(folder.parent, name)
    for suffix in ("html", "png", "md"):
        (folder / f"{name}.{suffix}").unlink(missing_ok=True)
    with monkeypatch.context() as m:
        _no_models(m)
        again = al.figures.recheck(folder, png=png)
    after = load(folder.parent, name)
    assert (folder / f"{name}.png").exists() == (png and after["png"] is not None)
    if png and _browser() is not None:  # the static export, through kaleido and Chromium
        assert after["png"] == f"{name}.png"
        assert (folder / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    elif png:
        assert after["png"] is None and "Chromium" in after["png_note"]
    assert again.checks == after["checks"]
    assert (folder / f"{name}.html").stat().st_size > 10_000
    assert "| ours | paper |" in (folder / f"{name}.md").read_text()
    return before, after


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # NaN == NaN


@pytest.mark.parametrize("name", ANALYSED)
def test_quick_figure_redraws_from_its_saved_numbers_alone(quick_run, name, tmp_path, monkeypatch):
    # the redraw reads the JSON only: the same traces, checks and numbers as the run that
    # computed them, without any model
    import shutil

    folder = tmp_path / name
    shutil.copytree(quick_run / name, folder)
    before, after = _redrawn(folder, name, monkeypatch)
    assert before["traces"] and _same(after["traces"], before["traces"])
    assert after["checks"] == before["checks"] and _same(after["numbers"], before["numbers"])


@pytest.mark.parametrize("name", ORDER)
def test_committed_quick_figure_redraws_from_its_json(name, tmp_path, monkeypatch):
    # every figure, the two training ones included, redraws from its committed quick-mode
    # JSON (assets/figures, written by `make figures-quick`) to the traces it was saved with
    from pathlib import Path

    saved = Path(__file__).resolve().parents[1] / "assets" / "figures" / f"{name}.json"
    folder = tmp_path / name
    folder.mkdir()
    (folder / f"{name}.json").write_text(saved.read_text())
    before, after = _redrawn(folder, name, monkeypatch, png=name == "head_patching")
    assert before["quick"] and _same(after["traces"], before["traces"])
    assert after["checks"] == before["checks"] and all(after["checks"].values())


def test_recheck_names_numbers_saved_without_their_plotted_series(tmp_path):
    from pathlib import Path

    payload = json.loads(
        (Path(__file__).resolve().parents[1] / "assets/figures/mul_digits.json").read_text()
    )
    del payload["numbers"]["accuracy"]  # as written before figures kept their series
    (tmp_path / "mul_digits").mkdir()
    (tmp_path / "mul_digits" / "mul_digits.json").write_text(json.dumps(payload))
    with pytest.raises(al.ArithlensError, match="older arithlens; rerun .*--only mul_digits"):
        al.figures.recheck(tmp_path / "mul_digits")


def test_quick_numbers_are_the_meaningful_ones(quick_run):
    tax = load(quick_run, "carry_taxonomy")["numbers"]
    cas = tax["cascade_balanced"]
    for one, two in [("add5-plain-1L", "add5-plain-2L"), ("add3-1L", "add3-2L")]:
        assert all(cas[two][c] >= cas[one][c] - 0.01 for c in cas[one])
    # Quirke & Barez: one layer fails cascades through sum-9 pairs in the plain format
    assert tax["plain_1L_worst_class_uniform"] == "US"
    assert tax["plain_1L_worst_cascade_balanced"] in ("S2", "S3", "S4", "S5")
    assert set(cas["add5-plain-1L"]) == {f"S{s}" for s in range(6)}
    assert tax["twins"]["add5-plain-1L"]["5"] < 0.5  # measured 0.000: a run of 9s means carry
    mul = {d: s for d, (s,) in load(quick_run, "mul_digits")["numbers"]["learned_at_0_9"].items()}
    assert min(mul["tens"], mul["hundreds"]) > max(mul["units"], mul["thousands"])
    probes = load(quick_run, "carry_probes")["numbers"]
    assert all(v == pytest.approx(1.0, abs=0.02) for v in probes["best_score"].values())
    circ = load(quick_run, "circuits")["numbers"]
    from arithlens.analyses.circuits import Graph

    assert circ["n_edges"] == {
        "add3-2L": 110,
        "add5-plain-2L": 110,
        "add2-gpt2": Graph(4, 4).n_edges,
    }
    for curves in circ["curves"].values():  # the full circuit is the model
        assert all(c[-1] == pytest.approx(1.0, abs=1e-6) for c in curves.values())
    # exact patching ranks edges as well as any method, up to the curve's granularity
    assert all(c["exact"] >= max(c.values()) - 0.05 for c in circ["cpr"].values())


def test_steepest_drop_is_the_analytic_midpoint_of_a_sigmoid_drop():
    # log-loss = 2 - 6 * sigmoid((t - t0) / w) falls fastest at t0; evaluations every 10 steps
    from arithlens.figures.digit_phases import steepest_drop

    steps = list(range(0, 1001, 10))
    for t0 in (233, 425, 700):
        loss = np.exp(2 - 6 / (1 + np.exp(-(np.array(steps) - t0) / 40)))
        assert abs(steepest_drop(steps, loss) - t0) <= 5  # the evaluation midpoint nearest t0
    with pytest.raises(al.ArithlensError, match="one loss per step"):
        steepest_drop(steps[:3], np.ones(3))


def test_spread_is_the_sample_mean_and_standard_deviation():
    from arithlens.figures.base import spread

    values = [0.91, 0.97, 0.955, 0.88]
    got = spread(values)
    assert got["mean"] == pytest.approx(statistics.fmean(values), abs=1e-12)
    assert got["std"] == pytest.approx(statistics.stdev(values), rel=1e-12)
    assert (got["min"], got["max"], got["values"]) == (0.88, 0.97, values)
    assert spread([0.5])["std"] == 0.0


def test_error_band_draws_the_mean_and_the_seeds_range():
    from arithlens.figures.base import traces_of
    from arithlens.plots import error_band

    runs = np.array([[1.0, 0.5, 0.1], [2.0, 0.7, 0.3], [3.0, 0.3, 0.2]])
    fig = go.Figure()
    error_band(fig, [0, 10, 20], runs, "units", "#1f77b4")
    t = {tr["name"]: tr["y"] for tr in traces_of(fig)}
    assert t["units"] == pytest.approx([2.0, 0.5, 0.2])
    assert t["units max"] == [3.0, 0.7, 0.3] and t["units min"] == [1.0, 0.3, 0.1]
    one = go.Figure()
    error_band(one, [0, 10, 20], runs[:1], "units", "#1f77b4")
    assert [tr.name for tr in one.data] == ["units"]  # no band for one seed


def test_run_returns_each_figures_check_statuses(tmp_path, monkeypatch, capsys):
    # a figure whose second claim fails: run() says which, the CLI exits 1 naming it
    from arithlens.figures.base import Check

    seen = []

    def fake(ctx):
        seen.append(ctx.seeds)
        return {"x": 1}

    checks = (
        Check("the claim that holds", lambda n: n["x"] == 1),
        Check("the claim that fails", lambda n: n["x"] == 2),
    )
    fake_spec = replace(
        REGISTRY["key_heads"],
        compute=fake,
        draw=lambda n: go.Figure(go.Scatter(y=[1, 2])),
        summarize=lambda n: [],
        checks=checks,
    )
    monkeypatch.setitem(REGISTRY, "key_heads", fake_spec)
    runs = al.figures.run(tmp_path / "a", "key_heads", quick=True, progress=False, seeds=2)
    r = runs["key_heads"]
    assert r.failed == ["the claim that fails"] and not r.passed
    assert r.folder == tmp_path / "a" / "key_heads" and load(tmp_path / "a", "key_heads")[
        "seeds"
    ] == [0, 1]
    assert seen == [(0, 1)]
    argv = ["figures", "--out", str(tmp_path / "b"), "--only", "key_heads", "--quick"]
    assert main(argv) == 1
    assert "FAILED: the claim that fails" in capsys.readouterr().out
    assert seen[-1] == (0,)  # quick mode: one seed by default
    assert al.figures.Context().seeds == (0, 1, 2)  # full mode: three


def _canned_precise_sft(monkeypatch) -> None:
    """The key_heads figure without its fine-tuning runs (measured by
    tests/test_stand_in_zoo.py and by the full figure run above): canned numbers."""
    import arithlens.figures.key_heads as kh

    tuned = dict(trained_templates_lost=0.1, control_kl=1.0)
    canned = dict(
        template=kh.UNSEEN,
        heads=["L2H1"],
        before=0.1,
        precise={**tuned, "after": 0.9},
        full={**tuned, "after": 0.8, "trained_templates_lost": 0.2, "control_kl": 8.0},
    )
    monkeypatch.setattr(kh, "precise_sft", lambda n, ctx: canned)


def test_recheck_reevaluates_changed_checks_on_the_saved_numbers(tmp_path, monkeypatch):
    from arithlens.figures.base import Check

    _canned_precise_sft(monkeypatch)

    first = al.figures.run(tmp_path, "key_heads", quick=True, progress=False)["key_heads"]
    assert first.passed
    numbers = load(tmp_path, "key_heads")["numbers"]
    claim = "add3-2L needs a single head (a claim the numbers refute)"
    changed = (Check(claim, lambda n: n["heads_for_80pct"]["add3-2L"] == 1),)
    monkeypatch.setitem(REGISTRY, "key_heads", replace(REGISTRY["key_heads"], checks=changed))
    again = al.figures.recheck(tmp_path / "key_heads")
    assert again.failed == [claim] and again.checks == {claim: False}
    info = load(tmp_path, "key_heads")
    assert info["checks"] == {claim: False} and info["numbers"] == numbers  # numbers untouched
    report = (tmp_path / "key_heads" / "key_heads.md").read_text()
    assert f"- FAIL: {claim}" in report and "| ours | paper |" in report
    assert "PASS" not in report.split("Checks:")[1]
    with pytest.raises(al.ArithlensError, match="0 JSON files"):
        al.figures.recheck(tmp_path / "nothing")


def test_carry_taxonomy_over_seeds_reports_every_seeds_numbers(tmp_path, monkeypatch):
    # the retraining is replaced by the zoo model itself (a 6-minute run each): with two seeds
    # that are the same model, every spread has the zoo numbers as its mean and zero sd, and the
    # retraining was asked for the plain pair with the second seed only
    from arithlens.models import zoo

    calls = []

    def same(name, **changes):
        calls.append((name, changes["seed"]))
        return al.load(name)

    monkeypatch.setattr(zoo, "retrain", same)
    runs = al.figures.run(tmp_path, "carry_taxonomy", quick=True, progress=False, seeds=2)
    n = load(tmp_path, "carry_taxonomy")["numbers"]
    assert sorted(calls) == [("add5-plain-1L", 1), ("add5-plain-2L", 1)]
    assert set(n["retrained"]) == {"add5-plain-1L", "add5-plain-2L"}
    for name, over in n["retrained"].items():
        for key, items in over.items():
            for item, v in items.items():
                assert v["values"] == [n[key][name][item]] * 2 and v["std"] == 0.0
    assert runs["carry_taxonomy"].passed, runs["carry_taxonomy"].failed


def test_unknown_figure_lists_the_known_ones(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path), "--only", "lee2023"]) != 0
    err = capsys.readouterr().err
    assert "'lee2023' is unknown" in err and "sample_efficiency" in err and "key_heads" in err
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(al.ArithlensError, match="expected one of"):
        al.figures.run(tmp_path, ["lee2023"])


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_reported_before_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(al.ArithlensError, match="cannot be written"):
        al.figures.run(locked / "figs", ["carry_taxonomy"], quick=True)


def test_unwritable_file_path_reported_before_work(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    ran = []
    monkeypatch.setitem(
        REGISTRY,
        "carry_taxonomy",
        replace(REGISTRY["carry_taxonomy"], compute=lambda c: ran.append(1)),
    )
    with pytest.raises(
        al.ArithlensError, match=rf"'{blocker}/figs' cannot be created: .* is a file"
    ):
        al.figures.run(blocker / "figs", ["carry_taxonomy"], quick=True)
    assert ran == []


def test_interrupted_run_keeps_finished_figures(tmp_path, monkeypatch):
    def boom(ctx):
        raise KeyboardInterrupt

    monkeypatch.setitem(REGISTRY, "key_heads", replace(REGISTRY["key_heads"], compute=boom))
    with pytest.raises(KeyboardInterrupt):
        al.figures.run(tmp_path, ["mul_digits", "key_heads"], quick=True, progress=False)
    assert load(tmp_path, "mul_digits")["checks"]
    assert not (tmp_path / "key_heads").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_key_heads_with_a_local_pretrained_checkpoint(tmp_path, monkeypatch):
    from arithlens.figures.key_heads import MODELS

    _canned_precise_sft(monkeypatch)

    # `--model` on a Hugging Face folder (a tiny local GPT-2; the Hub is offline in tests): the
    # pretrained model is ranked beside the zoo models with the same path patching.
    ckpt = al.llm.toy_checkpoint(tmp_path / "toy-gpt2", arch="gpt2")
    argv = ["figures", "--out", str(tmp_path / "figs"), "--only", "key_heads", "--quick"]
    code = main([*argv, "--model", str(ckpt), "--template", "{a}+{b}="])
    info = load(tmp_path / "figs", "key_heads")
    # random weights: checks may fail, and the exit code says exactly whether any did
    assert code == (0 if all(info["checks"].values()) else 1)
    extra = [m for m in info["numbers"]["heads_for_80pct"] if m not in MODELS]
    assert len(extra) == 1
    n = info["numbers"]["heads_for_80pct"][extra[0]]
    # the count is where the plotted cumulative share first reaches 80%
    (curve,) = [t["y"] for t in info["traces"] if t["name"].startswith(extra[0])]
    assert len(curve) == 8  # the toy model has 2 layers x 4 heads
    assert n == next(i + 1 for i, v in enumerate(curve) if v >= 0.8 - 1e-9)
    assert info["numbers"]["fraction_for_80pct"][extra[0]] == pytest.approx(n / 8)


def test_readme_gallery_rows_are_built_from_the_committed_json():
    """Every gallery row of docs/figures.md is what scripts/figure_rows.py builds from the JSON
    committed beside the figure's PNG, so no number there can drift from the data."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("figure_rows", root / "scripts/figure_rows.py")
    rows = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rows)
    readme = (root / "docs" / "figures.md").read_text().splitlines()
    built = {**rows.rows(root), **{f"full {k}": v for k, v in rows.full_rows(root).items()}}
    assert "full carry_taxonomy" in built
    for name, row in built.items():
        assert row in readme, name  # regenerate with: python scripts/figure_rows.py --write
    # and the builder really reads the data: another number gives another row
    numbers = json.loads((root / "assets/figures/mul_digits.json").read_text())["numbers"]
    numbers["learned_at_0_9"]["tens"] = [123]
    assert "tens 123" in rows.FRAGMENTS["mul_digits"](numbers)


def test_cli_recheck_redraws_the_saved_figures_under_out(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    assets = Path(__file__).resolve().parents[1] / "assets" / "figures"
    for name in ("mul_digits", "key_heads"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.json").write_text((assets / f"{name}.json").read_text())
    _no_models(monkeypatch)
    monkeypatch.setattr("arithlens.figures.runner.export_png", lambda fig, path: "skipped")
    assert main(["figures", "--out", str(tmp_path), "--recheck"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["mul_digits", "key_heads"]  # registry order
    assert all("all checks pass" in line for line in out)
    assert (tmp_path / "key_heads" / "key_heads.html").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["figures", "--out", str(empty), "--recheck"]) != 0
    assert "holds no figure folder" in capsys.readouterr().err


def test_length_generalization_computes_what_it_draws_at_a_few_widths(monkeypatch):
    # the figure's own computation on the zoo models (its full quick run is marked full): at the
    # widths the summary and checks name, the numbers agree with a direct evaluation, the
    # per-seed series are what is plotted, and the figure draws from the numbers alone
    import arithlens.figures.length_generalization as lg
    from arithlens.figures.base import Context, traces_of

    monkeypatch.setattr(lg, "WIDTHS", (12, 16, 24))
    monkeypatch.setattr(lg, "SORT_LENGTHS", (20,))
    probe = lg.successor_probe  # 200 sequences instead of 1000 (~5 s each)
    monkeypatch.setattr(lg, "successor_probe", lambda m, **kw: probe(m, **{**kw, "n": 200}))
    numbers = lg.compute(Context(quick=True, progress=False))
    abacus = al.load(lg.ABACUS)
    direct = al.length_generalization(abacus, [12, 16, 24], n=200, seed=numbers["seeds"][0])
    assert numbers["exact"]["abacus"] == dict(zip(["12", "16", "24"], direct.exact_match))
    assert numbers["exact_runs"]["abacus"] == [list(direct.exact_match)]
    traces = {t["name"]: t for t in traces_of(lg.draw(json.loads(json.dumps(numbers))))}
    assert traces["abacus"]["y"] == pytest.approx(list(direct.exact_match))
    assert traces["abacus"]["x"] == [12, 16, 24]
    assert set(numbers["successor_probe_repeat"]) == {"no hint", "successor hint", "random init"}
    assert len(lg.summarize(numbers)) == 2


def test_names_that_moved_with_the_figure_split_resolve_or_name_the_new_way():
    import arithlens.figures.base as base

    assert base.error_band is al.plots.error_band and base.PALETTE is al.plots.PALETTE
    with pytest.raises(AttributeError, match="registry.FIGURES"):
        base.register  # noqa: B018


def test_figures_fanned_out_on_two_workers_give_the_same_numbers(quick_run, tmp_path, capsys):
    # `arithlens figures --jobs 2`: each figure on its own worker process (arithlens.sweeps)
    names = ["mechanism_maps", "number_representations"]
    argv = ["figures", "--out", str(tmp_path), "--quick", "--no-png", "--jobs", "2"]
    assert main([*argv, "--only", *names]) == 0
    for name in names:
        assert load(tmp_path, name)["numbers"] == load(quick_run, name)["numbers"], name
    assert "all checks pass" in capsys.readouterr().out
    with pytest.raises(al.ArithlensError, match="stays in this process"):
        al.figures.run(tmp_path, names, quick=True, jobs=2, model=object())
