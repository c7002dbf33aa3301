"""The ``arithlens`` subcommands: each takes the parsed arguments and returns an exit code (see
:mod:`arithlens.cli.parsers` for their options)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from arithlens._atomic import check_writable
from arithlens._text import table
from arithlens.errors import ArithlensError
from arithlens.models import loading
from arithlens.patching.activation import GRANULARITIES


def _task(a: argparse.Namespace):
    """The task of the --op, --digits, --format, --no-pad and --signed options."""
    from arithlens.tasks import TaskSpec

    min_digits = getattr(a, "min_digits", None)
    if getattr(a, "task", None):
        from arithlens.tasks.numeracy import NumeracySpec

        if a.op != "add" or min_digits is not None:
            raise ArithlensError(
                "--task (numeracy) takes --repr, --digits, --decimals and --close, not --op or "
                "--min-digits"
            )
        return NumeracySpec(
            task=a.task, repr=a.repr, n_digits=a.digits, decimals=a.decimals, close=a.close
        )
    if a.op == "sort":
        from arithlens.tasks.sorting import SortSpec

        return SortSpec(max_len=a.digits, min_len=min_digits or 1)
    if getattr(a, "hint", None):
        raise ArithlensError(f"--hint {a.hint} is for --op sort, not {a.op}")
    return TaskSpec(
        op=a.op,
        n_digits=a.digits,
        format=a.format,
        pad=not a.no_pad and min_digits is None,
        nonneg=not a.signed,
        min_digits=min_digits,
    )


def _cmd_convert(a: argparse.Namespace) -> int:
    from arithlens.models import save
    from arithlens.models.loading import load

    check_writable(a.out, "checkpoint folder")
    model = load(
        a.path,
        source=a.source,
        task=_task(a),
        vocab=a.vocab,
        **({"config": a.config} if a.config else {}),
    )
    save(model, a.out)
    print(
        f"saved {a.out}: {a.source} model {a.path} as an arithlens checkpoint of {model.task.name}"
    )
    return 0


def _cmd_train(a: argparse.Namespace) -> int:
    from arithlens.models import TrainConfig, build_model, save, train
    from arithlens.tasks import has

    task = _task(a)
    cfg = TrainConfig(
        cascade_fraction=0.25 if has(task, "carries") and not task.mixed else 0,
        hint=a.hint,
        hint_fraction=a.hint_fraction,
        steps=a.steps,
        batch_size=a.batch_size,
        lr=a.lr,
        seed=a.seed,
        schedule=a.schedule,
        eval_every=a.eval_every,
        n_test=a.n_test,
        n_train=a.n_train,
    )
    check_writable(a.out, "checkpoint folder")
    n_ctx = a.n_ctx
    if n_ctx is None and a.hint:
        n_ctx = task.text_length(hint=True)
    model = build_model(
        a.preset,
        task,
        seed=a.seed,
        positional=a.positional,
        n_ctx=n_ctx,
        position_range=a.position_range,
    )
    model = train(task, model, cfg)
    save(model, a.out)
    print(
        f"saved {a.out}: held-out exact match {model.record.eval_exact[-1]:.4f} after {cfg.steps} steps ({model.record.wall_s:.1f} s)"
    )
    return 0


def _cmd_eval(a: argparse.Namespace) -> int:
    from arithlens.analyses.evaluation import evaluate, text_scores
    from arithlens.models.loading import load
    from arithlens.tasks import has, sample_problems

    if a.out:
        check_writable(a.out)
    model = load(a.model)
    task = model.task
    if not has(task, "digits"):  # sorters, numeracy: exact match on their distribution
        if a.out:
            raise ArithlensError(
                f"--out reports are for arithmetic models; {task.name} prints a summary"
            )
        _, exact = text_scores(model, sample_problems(task, a.n, a.seed))
        summary = {"exact_match": float(exact.mean()), "n": a.n}
        print(json.dumps(summary, indent=1) if a.json else _eval_text(task.name, summary))
        return 0
    res = evaluate(model, n=a.n, seed=a.seed, strategy=a.strategy)
    print(json.dumps(res.summary(), indent=1) if a.json else _eval_text(task.name, res.summary()))
    if a.out:
        from arithlens.faces.report import write_report

        paths = write_report(model, a.out, n=a.n, seed=a.seed, name=str(a.model))
        print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _eval_text(name: str, summary: dict) -> str:
    """A compact report of an evaluation summary: exact match, then per answer digit, by digit
    class and by cascade class where the summary has them."""
    lines = [f"{name}: exact match {summary['exact_match']:.4f} on {summary['n']} problems"]
    if "per_digit" in summary:
        lines += [
            "",
            table([{"answer digit": k, "accuracy": v} for k, v in summary["per_digit"].items()]),
        ]
    for key, label, what in (
        ("by_class", "digit class", "accuracy"),
        ("by_cascade", "cascade", "exact_match"),
    ):
        if key in summary:
            rows = [{label: k, what: v[what], "n": v["count"]} for k, v in summary[key].items()]
            lines += ["", table(rows)]
    return "\n".join(lines)


def _cmd_zoo_list(a: argparse.Namespace) -> int:
    from arithlens.models import zoo

    frame = zoo.list_models()
    if a.json:
        print(frame.to_json(orient="records", indent=1))
        return 0
    rows = frame.drop(columns="note").to_dict("records")
    print(table(rows, ["name", "task", "preset", "held_out_exact", "built"]))
    print("\nnotes and cards: arithlens zoo show NAME")
    return 0


def _cmd_zoo_show(a: argparse.Namespace) -> int:
    from arithlens.models import zoo

    entry = zoo.list_models().set_index("name")
    if a.name not in entry.index:
        raise ArithlensError(f"zoo model {a.name!r} is unknown: expected one of {zoo.names()}")
    card = zoo.zoo_dir() / a.name / "README.md"
    if card.is_file():
        print(card.read_text(encoding="utf-8").rstrip())
    else:
        print(
            f"# {a.name}\n\n{entry.loc[a.name, 'note']}\n\n(not built: arithlens zoo rebuild --only {a.name})"
        )
    return 0


def _cmd_zoo_rebuild(a: argparse.Namespace) -> int:
    from arithlens.faces.zoo_rebuild import rebuild

    if a.out:
        check_writable(a.out)
    results = rebuild(a.only, out=Path(a.out) if a.out else None, jobs=a.jobs, cluster=a.cluster)
    for name, acc in results.items():
        print(f"{name}: held-out exact match {acc:.4f}")
    return 0


def _cmd_demo(a: argparse.Namespace) -> int:
    from arithlens.faces.demo import write_demo
    from arithlens.models import zoo

    check_writable(a.out)
    model = loading.load(zoo.DEFAULT)
    paths = write_demo(model, a.out, n=a.n, name=zoo.DEFAULT)
    summary = json.loads(paths["json"].read_text())
    print(
        f"{zoo.DEFAULT}: exact match {summary['uniform']['exact_match']:.4f} (uniform), {summary['cascade']['exact_match']:.4f} (cascade-balanced)"
    )
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    print(f"open {paths['page']} in a browser; explore in JupyterLab with: make lab")
    return 0


def _load_model(a: argparse.Namespace):
    """Load ``a.model``; the Hugging Face options go along only when given."""
    from arithlens.models.loading import load

    opts = {k: getattr(a, k) for k in ("template", "shots", "dtype") if getattr(a, k) is not None}
    if a.offline:
        opts["offline"] = True
    return load(a.model, **opts)


def _cmd_patch(a: argparse.Namespace) -> int:
    from arithlens._atomic import write_text
    from arithlens.models.contract import encoder_of
    from arithlens.patching import activation_patch

    check_writable(a.out)
    if a.resume_dir:
        check_writable(a.resume_dir, "resume folder")
    model = _load_model(a)
    component, by = GRANULARITIES[a.granularity]
    pairs = encoder_of(model).pairs(a.n, change=a.change, seed=a.seed)
    res = activation_patch(
        model,
        pairs,
        component,
        by=by,
        metric=a.metric,
        digits=a.digits,
        direction=a.direction,
        resume_dir=a.resume_dir,
    )
    shown = res.normalized() if a.metric != "exact_match" else res
    out = Path(a.out)
    stem = f"{a.granularity}_{a.change.replace(':', '-')}_{a.direction}"
    write_text(out / f"{stem}.csv", shown.to_frame().to_csv(index=False))
    write_text(out / f"{stem}.html", shown.plot().to_html(include_plotlyjs=True))
    res.save(out / stem)
    print(shown.top(a.top).to_string(index=False))
    print(f"wrote {out / stem}.csv, {out / stem}.html and {out / stem}/")
    return 0


def _cmd_figures(a: argparse.Namespace) -> int:
    from arithlens.figures import recheck, run, select

    specs = select(a.only)  # unknown names fail before anything loads
    check_writable(a.out)
    if a.recheck:
        names = [s.name for s in specs if a.only or (Path(a.out) / s.name).is_dir()]
        if not names:
            raise ArithlensError(
                f"{a.out} holds no figure folder: expected one written by `arithlens figures "
                f"--out {a.out}`"
            )
        done = {name: recheck(Path(a.out) / name, png=not a.no_png) for name in names}
    else:
        model = _load_model(a) if a.model else None
        done = run(
            a.out,
            a.only,
            quick=a.quick,
            model=model,
            seeds=a.seeds,
            png=not a.no_png,
            jobs=a.jobs,
            cluster=a.cluster,
        )
    for name, r in done.items():
        verdict = "all checks pass" if r.passed else "FAILED: " + "; ".join(r.failed)
        print(f"{name}: {r.folder} ({r.seconds} s; {verdict})")
    return 0 if all(r.passed for r in done.values()) else 1


def _cmd_circuit(a: argparse.Namespace) -> int:
    from arithlens._atomic import write_text
    from arithlens.analyses.circuits import score_edges
    from arithlens.models import encoder_of
    from arithlens.plots import figures_html

    check_writable(a.out)
    if not 0 < a.fraction <= 1:
        raise ArithlensError(f"--fraction {a.fraction} is invalid: expected a number in (0, 1]")
    if a.greedy is not None and a.greedy < 0:
        raise ArithlensError(f"--greedy {a.greedy} is invalid: expected a tolerance >= 0")
    model = _load_model(a)
    encoder = encoder_of(model)
    pairs = encoder.pairs(a.n, change=a.change, seed=a.seed)
    held_out = encoder.pairs(a.n, change=a.change, seed=a.seed + 1)
    scored = score_edges(
        model, pairs, a.method, ablation=a.ablation, ig_steps=a.ig_steps, positions=a.positions
    )
    circuit = scored.select(a.fraction)
    if a.greedy is not None:
        circuit = circuit.greedy(model, pairs, tolerance=a.greedy)
    circuit = circuit.evaluate(model, held_out)
    curve = scored.curve(model, held_out)  # every analysis runs before the first file
    out = Path(a.out)
    stem = f"{a.method}_{a.change.replace(':', '-')}"
    summary = dict(
        method=a.method,
        ablation=a.ablation,
        fraction=a.fraction,
        greedy_tolerance=a.greedy,
        edges_in_circuit=circuit.n_in_circuit,
        circuit_faithfulness=circuit.evaluation["faithfulness"],
        cpr=curve.cpr,
        log_area=curve.log_area,
        fractions=list(curve.fractions),
        faithfulness=list(curve.faithfulness),
    )
    write_text(out / f"{stem}_mib.json", json.dumps(circuit.to_mib(), indent=1))
    write_text(out / f"{stem}_summary.json", json.dumps(summary, indent=1))
    write_text(out / f"{stem}.html", figures_html([circuit.plot()], title=f"circuit of {a.model}"))
    circuit.save(out / stem)
    print(scored.top(5).to_string(index=False))
    print(
        f"{circuit.n_in_circuit} edges, faithfulness {circuit.evaluation['faithfulness']:.3f}; "
        f"CPR {curve.cpr:.3f} on held-out "
        f"pairs; wrote {out / stem}_mib.json, {out / stem}.html, {out / stem}_summary.json and "
        f"{out / stem}/"
    )
    return 0


def _cmd_probe(a: argparse.Namespace) -> int:
    from arithlens._atomic import write_text
    from arithlens.plots import figures_html
    from arithlens.probes import CONTROLS, causal_flip, fit

    check_writable(a.out)
    model = _load_model(a)
    controls = [c for c in CONTROLS if not (a.no_random_init and c == "random_init")]
    res = fit(
        model,
        a.target,
        n=a.n,
        activation=a.activation,
        controls=controls,
        strategy=a.strategy,
        seed=a.seed,
    )
    out = Path(a.out)
    stem = f"{a.target}_{a.activation}"
    figs = [res.plot("score"), res.plot("selectivity"), res.plot("score", kind="layers")]
    best = res.best()
    summary = {"best": best.to_dict(orient="records")}
    flips = None
    if a.causal:  # every analysis runs before the first file is written
        flips = causal_flip(model, res, n=a.causal_n, seed=a.seed + 1)
        figs.append(flips.plot("flip"))
        summary["causal_best"] = flips.best().to_dict(orient="records")
    write_text(out / f"{stem}.csv", res.to_frame().to_csv(index=False))
    if flips is not None:
        write_text(out / f"{stem}_causal.csv", flips.to_frame().to_csv(index=False))
        print(flips.best().to_string(index=False))
    write_text(out / f"{stem}.html", figures_html(figs, title=f"probes: {a.target} on {a.model}"))
    write_text(out / f"{stem}_summary.json", json.dumps(summary, indent=1, default=float))
    res.save(out / stem)
    print(best.to_string(index=False))
    print(f"wrote {out / stem}.csv, {out / stem}.html, {out / stem}_summary.json and {out / stem}/")
    return 0
