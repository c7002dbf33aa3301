"""The ``arithlens`` argument parser: one subparser per command, their shared option groups."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from arithlens.cli.commands import (
    _cmd_circuit,
    _cmd_convert,
    _cmd_demo,
    _cmd_eval,
    _cmd_figures,
    _cmd_patch,
    _cmd_probe,
    _cmd_train,
    _cmd_zoo_list,
    _cmd_zoo_rebuild,
    _cmd_zoo_show,
)
from arithlens.cli.maps import _cmd_mechanism, _cmd_numbers
from arithlens.models import POSITIONALS
from arithlens.patching.activation import GRANULARITIES
from arithlens.probes.activations import ACTIVATIONS as PROBE_ACTIVATIONS
from arithlens.tasks import FORMATS
from arithlens.tasks.numeracy import NUMERACY_TASKS, REPRS


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
        _add_circuit,
        _add_mechanism,
        _add_numbers,
        _add_figures,
        _add_demo,
    ):
        add(sub)
    return p


def _add_train(sub: Any) -> None:
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


def _add_convert(sub: Any) -> None:
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


def _add_eval(sub: Any) -> None:
    e = sub.add_parser("eval", help="evaluate a zoo model or checkpoint folder")
    e.add_argument("model", help="zoo name or checkpoint folder")
    e.add_argument("--n", type=POSITIVE, default=2000)
    e.add_argument("--seed", type=NONNEG, default=0)
    e.add_argument("--strategy", default="uniform", choices=["uniform", "cascade"])
    e.add_argument("--out", default=None, help="also write a report (md, csv, json, html) here")
    e.add_argument("--json", action="store_true", help="print the summary as JSON")
    e.set_defaults(func=_cmd_eval)


def _add_zoo(sub: Any) -> None:
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
    zr.add_argument("--jobs", type=POSITIVE, default=1, help="models trained at once")
    zr.add_argument("--cluster", default=None, help="a Dask scheduler address to train on")
    zr.set_defaults(func=_cmd_zoo_rebuild)


def _add_patch(sub: Any) -> None:
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


def _add_probe(sub: Any) -> None:
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


def _add_numbers(sub: Any) -> None:
    nu = sub.add_parser("numbers", help="number representations: spectra, helix, filters")
    nu.add_argument("model", help="zoo name or checkpoint folder")
    nu.add_argument("--layers", type=int, nargs="+", help="layers (default: all)")
    nu.add_argument(
        "--site", default="resid_post", help="where a is read (resid_pre, resid_post, ...)"
    )
    nu.add_argument("--pairs", type=POSITIVE, default=100, help="pairs for the causal tests")
    nu.add_argument("--prompts", type=POSITIVE, default=300, help="prompts for the filters")
    nu.add_argument("--split", type=float, default=10.0, help="period between low and high")
    nu.add_argument("--seed", type=NONNEG, default=0)
    nu.add_argument("--out", required=True)
    _llm_options(nu)
    nu.set_defaults(func=_cmd_numbers)


def _add_mechanism(sub: Any) -> None:
    me = sub.add_parser("mechanism", help="mechanism map: useful nodes and their tags")
    me.add_argument("model", help="zoo name or checkpoint folder")
    me.add_argument("--n", type=POSITIVE, default=1000, help="problems to ablate on")
    me.add_argument("--min-fail", type=float, default=0.001, help="useful above this fail share")
    me.add_argument("--seed", type=NONNEG, default=0)
    me.add_argument(
        "--no-search",
        dest="search",
        action="store_false",
        help="skip the sub-task search (addition: base add, make carry) and the clauses",
    )
    me.add_argument(
        "--codes",
        default="BA,MC",
        help="sub-tasks to search, comma-separated: BA, MC, MS, US, UC (default BA,MC)",
    )
    me.add_argument("--threshold", type=float, default=0.9, help="sub-task success needed")
    me.add_argument("--pairs", type=POSITIVE, default=100, help="store/clean pairs per test")
    me.add_argument("--out", required=True)
    _llm_options(me)
    me.set_defaults(func=_cmd_mechanism)


def _add_circuit(sub: Any) -> None:
    from arithlens.analyses.circuits import ABLATIONS, METHODS

    ci = sub.add_parser("circuit", help="edge-level circuit: score every edge, MIB's curve")
    ci.add_argument("model", help="zoo name, checkpoint folder, Hugging Face Hub id or folder")
    ci.add_argument("--change", default="a.units", help="what the corrupt problem changes")
    ci.add_argument("--method", default="eap-ig-inputs", choices=list(METHODS))
    ci.add_argument("--ablation", default="patching", choices=list(ABLATIONS))
    ci.add_argument("--ig-steps", type=POSITIVE, default=5, help="EAP-IG steps (MIB: 5)")
    ci.add_argument("--positions", action="store_true", help="score each edge at each position")
    ci.add_argument("--fraction", type=float, default=0.05, help="circuit size (share of edges)")
    ci.add_argument(
        "--greedy",
        type=float,
        default=None,
        metavar="TOL",
        help="then prune the circuit greedily (ACDC) at this tolerance",
    )
    ci.add_argument("--n", type=POSITIVE, default=64, help="pairs to score (and held out)")
    ci.add_argument("--seed", type=NONNEG, default=0)
    ci.add_argument("--out", required=True)
    _llm_options(ci)
    ci.set_defaults(func=_cmd_circuit)


def _add_figures(sub: Any) -> None:
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
    fg.add_argument("--no-png", action="store_true", help="skip the static PNG export")
    fg.add_argument(
        "--jobs", type=POSITIVE, default=1, help="figures made at once on worker processes"
    )
    fg.add_argument(
        "--cluster", default=None, help="a Dask scheduler address to make the figures on"
    )
    fg.add_argument(
        "--recheck",
        action="store_true",
        help="redraw the figures already under --out from their saved JSON: current checks, "
        "drawing and summary, no model loaded",
    )
    _llm_options(fg)
    fg.set_defaults(func=_cmd_figures)


def _add_demo(sub: Any) -> None:
    d = sub.add_parser("demo", help="evaluate the default zoo model and write a first report")
    d.add_argument("--out", default="out")
    d.add_argument("--n", type=POSITIVE, default=4000)
    d.set_defaults(func=_cmd_demo)
