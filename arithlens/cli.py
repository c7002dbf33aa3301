"""The ``arithlens`` command: train, eval, zoo, patch, probe, demo.

Example:
    $ arithlens train --op add --digits 3 --format reversed --preset 2L --out runs/add3
    $ arithlens eval add3-2L --n 2000
    $ arithlens zoo list
    $ arithlens probe add3-2L --target carry --causal --out out/probes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from arithlens._atomic import check_writable
from arithlens._text import table
from arithlens.errors import ArithlensError
from arithlens.models import POSITIONALS, loading
from arithlens.patching.activation import GRANULARITIES
from arithlens.probes.activations import ACTIVATIONS as PROBE_ACTIVATIONS
from arithlens.tasks import FORMATS
from arithlens.tasks.numeracy import NUMERACY_TASKS, REPRS


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


def _task_options(p: argparse.ArgumentParser, digits: int = 3, sort: bool = False) -> None:
    p.add_argument(
        "--op", default="add", choices=["add", "sub", "mul", *(["sort"] if sort else [])]
    )
    p.add_argument(
        "--digits",
        type=POSITIVE,
        default=digits,
        help="digits per operand" + (" (sort: the longest sequence)" if sort else ""),
    )
    p.add_argument("--format", default="reversed", choices=list(FORMATS))
    if sort:  # training also takes the numeracy tasks
        p.add_argument(
            "--task",
            default=None,
            choices=list(NUMERACY_TASKS),
            help="a numeracy task (Number Cookbook) instead of --op; --digits bounds its numbers",
        )
        p.add_argument("--repr", default="int", choices=list(REPRS), help="--task: representation")
        p.add_argument("--decimals", type=POSITIVE, default=2, help="--repr float: most decimals")
        p.add_argument(
            "--close",
            type=float,
            default=0.0,
            help="--task max/min: share of problems whose numbers agree up to a random digit",
        )
    p.add_argument("--no-pad", action="store_true", help="do not zero-pad operands and answers")
    p.add_argument("--signed", action="store_true", help="subtraction with negative results")


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
    from arithlens.evaluation import evaluate, text_scores
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
        from arithlens.report import write_report

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
    from arithlens.zoo_rebuild import rebuild

    if a.out:
        check_writable(a.out)
    results = rebuild(a.only, out=Path(a.out) if a.out else None)
    for name, acc in results.items():
        print(f"{name}: held-out exact match {acc:.4f}")
    return 0


def _cmd_demo(a: argparse.Namespace) -> int:
    from arithlens.demo import write_demo
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


def _llm_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Hugging Face models")
    g.add_argument(
        "--template", default=None, help="prompt template with {a} and {b}, e.g. '{a}+{b}='"
    )
    g.add_argument(
        "--shots", type=NONNEG, default=None, help="few-shot examples before the question"
    )
    g.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"])
    g.add_argument("--offline", action="store_true", help="use only the local Hugging Face cache")


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
    from arithlens.figures import run, select

    select(a.only)  # unknown names fail before anything loads
    check_writable(a.out)
    model = _load_model(a) if a.model else None
    done = run(a.out, a.only, quick=a.quick, model=model, seeds=a.seeds)
    for name, r in done.items():
        verdict = "all checks pass" if r.passed else "FAILED: " + "; ".join(r.failed)
        print(f"{name}: {r.folder} ({r.seconds} s; {verdict})")
    return 0 if all(r.passed for r in done.values()) else 1


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


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``minimum`` (argparse names the option on failure)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"{value} is invalid: expected an integer >= {minimum}"
            )
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


POSITIVE, NONNEG = _count(1), _count(0)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (subcommands per capability)."""
    p = argparse.ArgumentParser(
        prog="arithlens", description="Interpretability for arithmetic in transformers."
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in (
        _add_train,
        _add_convert,
        _add_eval,
        _add_zoo,
        _add_patch,
        _add_probe,
        _add_figures,
        _add_demo,
    ):
        add(sub)
    return p


def _add_train(sub) -> None:
    t = sub.add_parser("train", help="train a small arithmetic transformer and save a checkpoint")
    _task_options(t, sort=True)
    t.add_argument("--preset", default="2L", help="model preset (1L, 2L, 3L, 4L)")
    t.add_argument("--steps", type=POSITIVE, default=1000)
    t.add_argument("--batch-size", type=POSITIVE, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--schedule", default="constant", choices=["constant", "cosine"])
    t.add_argument("--seed", type=NONNEG, default=0)
    t.add_argument("--eval-every", type=POSITIVE, default=100)
    t.add_argument("--n-test", type=POSITIVE, default=2000)
    t.add_argument(
        "--n-train",
        type=POSITIVE,
        default=None,
        help="fixed training-set size (default: fresh problems every step)",
    )
    t.add_argument(
        "--min-digits",
        type=POSITIVE,
        default=None,
        help="mixed lengths: operands of --min-digits to --digits digits, unpadded (sort: the "
        "shortest sequence)",
    )
    t.add_argument(
        "--hint",
        default=None,
        choices=["successor"],
        help="--op sort: train the successor hint task in the same batches (task hinting)",
    )
    t.add_argument("--hint-fraction", type=float, default=0.5, help="share of hint rows per batch")
    t.add_argument("--positional", default="standard", choices=list(POSITIONALS))
    t.add_argument(
        "--n-ctx", type=POSITIVE, default=None, help="context (default: the task's longest text)"
    )
    t.add_argument(
        "--position-range",
        type=POSITIVE,
        default=None,
        help="randomized / abacus: training draws position ids below this",
    )
    t.add_argument("--out", required=True, help="checkpoint folder")
    t.set_defaults(func=_cmd_train)


def _add_convert(sub) -> None:
    c = sub.add_parser(
        "convert", help="convert a model trained elsewhere (HookedTransformer, nanoGPT, tiny adder)"
    )
    c.add_argument("path", help="the checkpoint file")
    c.add_argument("--source", required=True, choices=["hooked", "nanogpt", "adder"])
    _task_options(c)
    c.add_argument("--vocab", default=None, help="the source's token for each id, in id order")
    c.add_argument("--config", default=None, help="HookedTransformer config JSON (--source hooked)")
    c.add_argument("--out", required=True, help="arithlens checkpoint folder to write")
    c.set_defaults(func=_cmd_convert)


def _add_eval(sub) -> None:
    e = sub.add_parser("eval", help="evaluate a zoo model or checkpoint folder")
    e.add_argument("model", help="zoo name or checkpoint folder")
    e.add_argument("--n", type=POSITIVE, default=2000)
    e.add_argument("--seed", type=NONNEG, default=0)
    e.add_argument("--strategy", default="uniform", choices=["uniform", "cascade"])
    e.add_argument("--out", default=None, help="also write a report (md, csv, json, html) here")
    e.add_argument("--json", action="store_true", help="print the summary as JSON")
    e.set_defaults(func=_cmd_eval)


def _add_zoo(sub) -> None:
    z = sub.add_parser("zoo", help="the bundled model zoo")
    zsub = z.add_subparsers(dest="zoo_command", required=True)
    zl = zsub.add_parser("list", help="list zoo models and their measured accuracy")
    zl.add_argument("--json", action="store_true", help="print the list (with notes) as JSON")
    zl.set_defaults(func=_cmd_zoo_list)
    zs = zsub.add_parser("show", help="a zoo model's card (its note when not built)")
    zs.add_argument("name", help="zoo model name")
    zs.set_defaults(func=_cmd_zoo_show)
    zr = zsub.add_parser("rebuild", help="retrain zoo models from their recipes")
    zr.add_argument("--only", nargs="*", default=None, help="names to rebuild (default: all)")
    zr.add_argument(
        "--out",
        default=None,
        help="folder (default: the package's zoo, arithlens/models/zoo_models)",
    )
    zr.set_defaults(func=_cmd_zoo_rebuild)


def _add_patch(sub) -> None:
    pa = sub.add_parser("patch", help="activation patching: which component carries the change")
    pa.add_argument("model", help="zoo name, checkpoint folder, Hugging Face Hub id or folder")
    pa.add_argument(
        "--change", default="a.units", help="a.units, b.tens, swap, resample.a, op:mul, ..."
    )
    pa.add_argument("--granularity", default="heads", choices=sorted(GRANULARITIES))
    pa.add_argument(
        "--metric",
        default="answer_logprob",
        choices=["answer_logprob", "logit_diff", "exact_match"],
    )
    pa.add_argument(
        "--digits", default="all", help="answer digits the metric scores: all, units, tens, ..."
    )
    pa.add_argument("--direction", default="denoise", choices=["denoise", "noise"])
    pa.add_argument("--n", type=POSITIVE, default=256, help="number of clean/corrupt pairs")
    pa.add_argument("--seed", type=NONNEG, default=0)
    pa.add_argument("--top", type=POSITIVE, default=10, help="print this many top cells")
    pa.add_argument("--out", required=True)
    pa.add_argument("--resume-dir", default=None, help="write each finished layer here; resume")
    _llm_options(pa)
    pa.set_defaults(func=_cmd_patch)


def _add_probe(sub) -> None:
    pr = sub.add_parser("probe", help="linear probes at every layer x position, with controls")
    pr.add_argument("model", help="zoo name, checkpoint folder, Hugging Face Hub id or folder")
    pr.add_argument(
        "--target",
        default="carry",
        help="carry, digit_class, answer, a, b, pair_sum, cascade, or one member (carry.tens)",
    )
    pr.add_argument("--activation", default="resid", choices=list(PROBE_ACTIVATIONS))
    pr.add_argument("--n", type=POSITIVE, default=5000, help="number of distinct problems")
    pr.add_argument("--strategy", default="uniform", choices=["uniform", "cascade"])
    pr.add_argument("--seed", type=NONNEG, default=0)
    pr.add_argument("--no-random-init", action="store_true", help="skip the random-init control")
    pr.add_argument("--causal", action="store_true", help="also run the causal flip check")
    pr.add_argument("--causal-n", type=POSITIVE, default=256, help="problems for the causal check")
    pr.add_argument("--out", required=True)
    _llm_options(pr)
    pr.set_defaults(func=_cmd_probe)


def _add_figures(sub) -> None:
    fg = sub.add_parser(
        "figures", help="reproduce the literature's figures (HTML, PNG, JSON, report)"
    )
    fg.add_argument("--out", default="figures", help="output folder (one subfolder per figure)")
    fg.add_argument("--only", nargs="+", default=None, help="figure names (default: all)")
    fg.add_argument("--quick", action="store_true", help="small sizes: about a minute per figure")
    fg.add_argument(
        "--seeds",
        type=POSITIVE,
        default=None,
        help="training seeds per run of the training figures (default: 1 quick, 3 full)",
    )
    fg.add_argument(
        "--model", default=None, help="also run key_heads on this model (Hub id or folder)"
    )
    _llm_options(fg)
    fg.set_defaults(func=_cmd_figures)


def _add_demo(sub) -> None:
    d = sub.add_parser("demo", help="evaluate the default zoo model and write a first report")
    d.add_argument("--out", default="out")
    d.add_argument("--n", type=POSITIVE, default=4000)
    d.set_defaults(func=_cmd_demo)


def main(argv: list[str] | None = None) -> int:
    """Entry point. Every failure ends with one line on stderr, never a traceback: bad input
    exits 2, a file-system error 1, an interruption 130 (set ``ARITHLENS_DEBUG=1`` to see the
    traceback of an unexpected error)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse printed usage and one error line (or the help)
        return int(e.code or 0)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ArithlensError as e:
        print(f"arithlens: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arithlens: interrupted (finished outputs were written whole)", file=sys.stderr)
        return 130
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"arithlens: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except Exception as e:
        if os.environ.get("ARITHLENS_DEBUG"):
            raise
        print(
            f"arithlens: internal error: {type(e).__name__}: {e} (set ARITHLENS_DEBUG=1 for "
            "the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
