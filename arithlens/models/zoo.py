"""The bundled model zoo: small arithmetic transformers trained by arithlens.

Each zoo model is a checkpoint folder under ``arithlens/models/zoo_models/<name>/`` (package
data, so a non-editable install has it) with a model card (README.md).
:func:`arithlens.faces.zoo_rebuild.rebuild` (``arithlens zoo rebuild``) retrains them from their
recipes, deterministically.

Example:
    >>> sorted(RECIPES)[:3]
    ['add1to8-2L', 'add1to8-abacus-2L', 'add1to8-nope-2L']
    >>> model = load("add3-2L")                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pandas as pd
import torch
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models.checkpoint import read_metadata
from arithlens.models.presets import build_model
from arithlens.models.stand_in import TEMPLATES as STAND_IN_TEMPLATES
from arithlens.models.stand_in import StandInConfig
from arithlens.models.train import TrainConfig, train
from arithlens.tasks import AnyTask, TaskSpec, render_problems, sample_problems
from arithlens.tasks.numeracy import NumeracySpec
from arithlens.tasks.sorting import SortSpec

DEFAULT = "add3-2L"


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """How a zoo model is made.

    Attributes:
        task: the task.
        preset: model preset name.
        config: training settings.
        note: one line for the model card.
        positional: the position encoding (:data:`arithlens.models.POSITIONALS`).
        n_ctx: the context (None: the task's longest sequence; more for length
            generalization).
        position_range: the random position ids' bound (see :class:`ModelSpec`).
    """

    task: AnyTask
    preset: str
    config: TrainConfig
    note: str
    positional: str = "standard"
    n_ctx: int | None = None
    position_range: int | None = None

    def train(self, config: TrainConfig | None = None, *, progress: bool = True):
        """Train this recipe's model (with ``config`` instead of the recipe's, if given),
        initialised from the config's seed."""
        cfg = config or self.config
        model = build_model(
            self.preset,
            self.task,
            seed=cfg.seed,
            positional=self.positional,
            n_ctx=self.n_ctx,
            position_range=self.position_range,
        )
        return train(self.task, model, cfg, progress=progress)


def _addition(steps: int, eval_every: int, **more: Any) -> TrainConfig:
    """The training settings the addition models share (4000 held out, seed 0)."""
    return TrainConfig(steps=steps, n_test=4000, eval_every=eval_every, seed=0, **more)


def _cosine(steps: int, **more: Any) -> TrainConfig:
    """The settings the length-generalization and sorting models share: batch 128, lr 2e-3
    with a cosine schedule after 100 warmup steps, 2000 held out, seed 0."""
    return TrainConfig(
        steps=steps,
        batch_size=128,
        lr=2e-3,
        schedule="cosine",
        warmup_steps=100,
        n_test=2000,
        eval_every=250,
        seed=0,
        **more,
    )


SORTING = SortSpec(max_len=10, n_values=36)
"""The task-hinting task: sequences of 1-10 values of 36."""


def _sort_recipe(hint: str | None, note: str) -> Recipe:
    """A sorting model: the same task, preset, context (104 tokens: sequences of up to 50) and
    budget with and without the hint (with it, half of each batch is hint texts)."""
    config = _cosine(3000, hint=hint)
    return Recipe(task=SORTING, preset="2L", config=config, note=note, positional="nope", n_ctx=104)


def _numeracy_recipe(
    task: NumeracySpec, note: str, steps: int = 3000, preset: str = "2L"
) -> Recipe:
    """A numeracy model: learned positions, the shared cosine settings."""
    return Recipe(task=task, preset=preset, config=_cosine(steps), note=note)


LENGTHS = TaskSpec(op="add", n_digits=8, min_digits=1, pad=False, format="reversed")
"""The length-generalization task: operands of 1-8 digits, unpadded."""


def _length_recipe(positional: str, note: str, position_range: int | None = None) -> Recipe:
    """A length-generalization model: the same task, preset, context (80 tokens: operands of up
    to 24 digits) and training for every position scheme (mixed lengths: no cascade balancing)."""
    config = _cosine(7000, cascade_fraction=0)
    return Recipe(
        task=LENGTHS,
        preset="2L",
        config=config,
        note=note,
        positional=positional,
        n_ctx=80,
        position_range=position_range,
    )


RECIPES: dict[str, Recipe] = {
    "add3-1L": Recipe(
        task=TaskSpec(op="add", n_digits=3, format="reversed"),
        preset="1L",
        config=_addition(1000, 100, cascade_strategy="cascade_chained"),  # as trained
        note="One layer, three heads, like Quirke & Barez (2024). In the reversed format it writes the lower answer digits before the higher ones and can read them back, so cascades need no lookahead: it solves every cascade class here. Quirke & Barez's cascade failures are in the most-significant-first format.",
    ),
    "add3-2L": Recipe(
        task=TaskSpec(op="add", n_digits=3, format="reversed"),
        preset="2L",
        config=_addition(500, 50, cascade_strategy="cascade_chained"),  # as trained
        note="The default model: two layers, four heads.",
    ),
    "add5-2L": Recipe(
        task=TaskSpec(op="add", n_digits=5, format="reversed"),
        preset="2L",
        config=_addition(600, 50, cascade_strategy="cascade_chained"),  # as trained
        note="Five-digit addition with cascades up to S5.",
    ),
    "add5-plain-1L": Recipe(
        task=TaskSpec(op="add", n_digits=5, format="plain"),
        preset="1L",
        config=_addition(1200, 100),
        note="Quirke & Barez's setting: one layer, three heads, 5-digit addition written most significant digit first, so every carry must be computed before the digit it changes is written. Trained on uniform problems plus 25% drawn uniformly within each cascade class. Kept as trained, to show where one layer fails: digits that use a carry passed through a sum-9 pair (US) are its worst class (0.872 on 4000 uniform problems, 0.962 class-balanced), and on false-cascade twins (a run of sum-9 pairs with no carry source) of length 4 and 5 it scores 0.022 and 0.000: it writes the carry a run of 9s suggests.",
    ),
    "add5-plain-2L": Recipe(
        task=TaskSpec(op="add", n_digits=5, format="plain"),
        preset="2L",
        config=_addition(1200, 100),
        note="Two layers on the same most-significant-first 5-digit task as add5-plain-1L, for the 1- vs 2-layer carry taxonomy (Quirke & Barez 2024).",
    ),
    "mul2-3L": Recipe(
        task=TaskSpec(op="mul", n_digits=2, format="reversed"),
        preset="3L",
        config=TrainConfig(
            steps=2000,
            n_test=1000,
            eval_every=100,
            seed=0,
            schedule="cosine",
            lr=2e-3,
            weight_decay=0.5,
        ),
        note="Two-digit multiplication (Qiu et al. 2024 style, reversed output). Misses the 99.9% target (99.2% held out): 7 of its 8 held-out errors are problems whose commuted twin b*a was held out too (3 squares, 2 pairs held out together), so it leans on having seen b*a rather than on a general algorithm.",
    ),
    "add1to8-abacus-2L": _length_recipe(
        "abacus",
        "Length generalization (McLeish et al. 2024; Cho et al. 2024): additions with operands of 1-8 digits, unpadded, Abacus / position-coupling ids (a digit's place in its number, randomly offset in training), a context of 80 tokens so that operands of up to 24 digits can be posed. The benchmark `benchmarks/length_generalization.py` trains this recipe.",
        position_range=32,
    ),
    "add1to8-nope-2L": _length_recipe(
        "nope",
        "Length generalization without position information (NoPE; Kazemnejad et al. 2023): the same task, budget and seed as add1to8-abacus-2L; order comes from the causal mask only.",
    ),
    "add1to8-randomized-2L": _length_recipe(
        "randomized",
        "Length generalization with randomized positions (Ruoss et al. 2023): in training each sequence reads an ordered random subset of the 80 position ids; the same task, budget and seed as add1to8-abacus-2L.",
    ),
    "add1to8-2L": _length_recipe(
        "standard",
        "The length-generalization baseline: the same task, budget and seed as add1to8-abacus-2L with learned absolute positions.",
    ),
    "sort1to10-v36-2L": _sort_recipe(
        None,
        "Sorting (Awasthi & Gupta 2023's task): sequences of 1-10 values of 36, no positions (NoPE), a context of 104 tokens so that sequences of up to 50 can be posed. The no-hint twin of sort1to10-v36-hint-2L.",
    ),
    "max-float3.3-2L": _numeracy_recipe(
        NumeracySpec(task="max", repr="float", n_digits=3, decimals=3),
        "Comparison of floats (the Number Cookbook's 9.11 vs 9.9): the larger of two independent numbers with 1-3 integer digits and 1-3 decimals, written as given. It reaches 0.987 held out (0.9605 at 3000 steps) and looks right, but independent numbers almost never agree past their first digit: when a decimal decides it is near chance (0.46-0.67 at the tenths to thousandths; the nupa_table figure). max-float3.3-close-3L is trained with close pairs; this one is kept as the counter-example.",
        steps=8000,
    ),
    "max-float3.3-close-3L": _numeracy_recipe(
        NumeracySpec(task="max", repr="float", n_digits=3, decimals=3, close=0.5),
        "Comparison of floats (the Number Cookbook's 9.11 vs 9.9): the larger of two numbers with 1-3 integer digits and 1-3 decimals, written as given; half of the problems pair numbers that agree up to a uniformly drawn digit (close=0.5), so that every place decides. The 2-layer model max-float3.3-2L, trained on independent numbers only, is 0.987 exact on them but 0.52-0.73 when a decimal decides (deciding minimal pairs).",
        steps=10000,
        preset="3L",
    ),
    "get_digit-int6-2L": _numeracy_recipe(
        NumeracySpec(task="get_digit", repr="int", n_digits=6),
        "Digit retrieval (the Number Cookbook): the digit of a 1-6 digit integer at a named place (0 = units).",
    ),
    "count-int8-3L": _numeracy_recipe(
        NumeracySpec(task="count", repr="int", n_digits=8),
        "Digit counting (the Number Cookbook): how often a digit occurs in a 1-8 digit integer (half the queries name a digit it has), the digit written first (`count(4,44827)=2;`) so that a running count can be kept while the number is read. A 2-layer model with the digit written last plateaued at 0.769 (6000 steps).",
        steps=8000,
        preset="3L",
    ),
    "sort1to10-v36-hint-2L": _sort_recipe(
        "successor",
        "Task hinting (Awasthi & Gupta 2023): sort1to10-v36-2L's task, budget and seed, with half of every batch the successor hint task (each input element and the smallest larger value). In this setting the hint does not help length generalization: see the card's table and the length_generalization figure.",
    ),
}


def zoo_dir() -> Path:
    """Folder of the zoo: ``$ARITHLENS_ZOO``, or the package data folder
    ``arithlens/models/zoo_models`` (installed with the package, editable or not)."""
    env = os.environ.get("ARITHLENS_ZOO")
    return Path(env) if env else Path(__file__).resolve().parent / "zoo_models"


@dataclass(frozen=True, kw_only=True)
class StandIn:
    """A Hugging Face model trained here (:mod:`arithlens.models.stand_in`): a plain Hugging
    Face folder in the zoo, booted like any pretrained LLM.

    Attributes:
        config: how it is trained.
        template: the prompt ``al.load(name)`` attaches unless told otherwise.
        task: the problems its prompts pose.
        note: one line for the model card.
    """

    config: StandInConfig
    template: str
    task: TaskSpec
    note: str

    def prompts(self) -> dict[str, Any]:
        """The prompt options it loads with unless told otherwise (``template``, ``task``)."""
        return dict(template=self.template, task=self.task)


STAND_INS: dict[str, StandIn] = {
    "add2-gpt2": StandIn(
        config=StandInConfig(steps=8000),
        template=STAND_IN_TEMPLATES["equation"],
        task=TaskSpec(op="add", n_digits=2, format="plain", pad=False),
        note="The offline stand-in for a pretrained LLM: a small GPT-2 trained on additions of "
        "0-99 in four templates (equations, questions, sentences, Q/A; few-shot blocks and words "
        "around numbers), with its own byte-level BPE that merges digits irregularly.",
    ),
}
"""Hugging Face models trained here, by name: ``al.load(name)`` boots them through the Hugging
Face path (``TransformerBridge.boot_transformers``) with their default prompts."""


def names() -> list[str]:
    """Every zoo name: arithlens models (:data:`RECIPES`) and Hugging Face stand-ins
    (:data:`STAND_INS`)."""
    return sorted([*RECIPES, *STAND_INS])


def _check_name(name: str) -> None:
    if name not in RECIPES and name not in STAND_INS:
        raise ArithlensError(f"zoo model {name!r} is unknown: expected one of {names()}")


def folder(name: str = DEFAULT) -> Path:
    """The folder of zoo model ``name``: an arithlens checkpoint, or for a stand-in a Hugging
    Face folder (load either with :func:`arithlens.load`)."""
    _check_name(name)
    path = zoo_dir() / name
    if not path.is_dir():
        raise ArithlensError(
            f"zoo model {name!r} is not built at {str(path)!r}: run `arithlens zoo rebuild`"
        )
    return path


def list_models() -> pd.DataFrame:
    """One row per zoo model: task, preset, whether built, held-out exact match."""
    rows = []
    for name, r in RECIPES.items():
        folder = zoo_dir() / name
        meta = read_metadata(folder) if folder.is_dir() else {}
        final = (meta.get("record") or {}).get("final", {})
        rows.append(
            dict(
                name=name,
                task=r.task.name,
                preset=r.preset,
                built=bool(meta),
                held_out_exact=final.get("held_out", {}).get("exact_match"),
                note=r.note,
            )
        )
    for name, s in STAND_INS.items():
        card = zoo_dir() / name / "card.json"
        scores = json.loads(card.read_text())["held_out"] if card.is_file() else None
        rows.append(
            dict(
                name=name,
                task=s.task.name,
                preset="hf-gpt2",
                built=(zoo_dir() / name / "config.json").is_file(),
                held_out_exact=None if scores is None else scores["equation"]["all"],
                note=s.note,
            )
        )
    return pd.DataFrame(rows)


def model_card(name: str, model: TransformerBridge) -> str:
    """Markdown model card with the measured accuracy."""
    r, rec = RECIPES[name], model.record
    final = rec.final
    if r.task.family in _TASK_LINES:  # sorting, numeracy: scored as texts
        header = _WIDTH_HEADERS[r.task.width_name]
        return _text_card(name, r, _TASK_LINES[r.task.family](r), header, r.task.width_name, model)
    held, task = final["held_out"], cast(TaskSpec, r.task)
    lines = [
        f"# {name}",
        "",
        r.note,
        "",
        f"- task: `{task.name}` ({task.op}, {_widths(task)}, {task.format} format, {'padded' if task.pad else 'unpadded'})",
        f"- architecture: preset `{r.preset}`: {model.spec.n_layers} layers, {model.spec.n_heads} heads, d_model {model.spec.d_model}, d_mlp {model.spec.d_mlp}, n_ctx {model.spec.n_ctx}, `{model.spec.positional}` positions",
        f"- training: {r.config.steps} AdamW steps, batch {r.config.batch_size}, lr {r.config.lr}, {r.config.schedule} schedule, seed {r.config.seed}; {rec.wall_s:.0f} s on {torch.get_num_threads()} CPU threads",
        f"- held-out set: {held['n']} problems never trained on ({_held_out_kind(r)})",
        f"- held-out exact match: **{held['exact_match']:.4f}**",
        "",
        "| answer digit | accuracy |",
        "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in held["per_digit"].items()],
    ]
    if "length" in final:
        lines += ["", "| digits per operand | exact match | trained |", "|---|---|---|"]
        lines += [
            f"| {row['n_digits']} | {row['exact_match']:.4f} | {'yes' if row['trained'] else 'no'} |"
            for row in final["length"]
        ]
    if "by_cascade" in held:
        lines += ["", "| cascade class | exact match | n |", "|---|---|---|"]
        lines += [
            f"| {k} | {v['exact_match']:.4f} | {v['count']} |"
            for k, v in held["by_cascade"].items()
        ]
    lines += ["", "Rebuild with `arithlens zoo rebuild --only " + name + "`."]
    return "\n".join(lines) + "\n"


def _sort_line(r: Recipe) -> str:
    task = cast(SortSpec, r.task)
    hint = (
        f"with the `{r.config.hint}` hint on {r.config.hint_fraction:.0%} of each batch"
        if r.config.hint
        else "no hint"
    )
    return f"`{task.name}` (sort sequences of {task.min_len} to {task.max_len} values in 0..{task.n_values - 1}; {hint})"


def _numeracy_line(r: Recipe) -> str:
    task = cast(NumeracySpec, r.task)
    example = render_problems(sample_problems(task, 1, seed=0)).texts[0]
    return f"`{task.name}` (numeracy: {task.task} on {task.repr} numbers; text `{example}`)"


_TASK_LINES: dict[str, Callable[[Recipe], str]] = {"sort": _sort_line, "numeracy": _numeracy_line}
"""The task line of a text family's card, by family."""
_WIDTH_HEADERS = {"length": "sequence length", "n_digits": "digits (up to)"}


def _text_card(
    name: str, r: Recipe, task_line: str, header: str, key: str, model: TransformerBridge
) -> str:
    """Model card of a sorting or numeracy model: held-out exact match and exact match by
    length (``key``: the length column)."""
    rec = model.record
    held = rec.final["held_out"]
    what = "sequences" if key == "length" else "problems"
    lines = [
        f"# {name}",
        "",
        r.note,
        "",
        f"- task: {task_line}",
        f"- architecture: preset `{r.preset}`: {model.spec.n_layers} layers, {model.spec.n_heads} heads, d_model {model.spec.d_model}, d_mlp {model.spec.d_mlp}, n_ctx {model.spec.n_ctx}, `{model.spec.positional}` positions",
        f"- training: {r.config.steps} AdamW steps, batch {r.config.batch_size}, lr {r.config.lr}, {r.config.schedule} schedule, seed {r.config.seed}; {rec.wall_s:.0f} s on {torch.get_num_threads()} CPU threads",
        f"- held-out set: {held['n']} {what} of the training distribution (short {what} are too few to hold out)",
        f"- held-out exact match: **{held['exact_match']:.4f}**",
        "",
        f"| {header} | exact match | trained |",
        "|---|---|---|",
        *[
            f"| {row[key]} | {row['exact_match']:.4f} | {'yes' if row['trained'] else 'no'} |"
            for row in rec.final["length"]
        ],
        "",
        "Rebuild with `arithlens zoo rebuild --only " + name + "`.",
    ]
    return "\n".join(lines) + "\n"


def _held_out_kind(r: Recipe) -> str:
    """How the recipe's held-out set is drawn (as :func:`arithlens.models.train.held_out`)."""
    task = cast(TaskSpec, r.task)  # text families' cards say how they hold out
    if task.op == "mul" or r.config.cascade_fraction == 0:
        return "uniform" + (", each operand's length uniform" if task.mixed else "")
    return "half uniform, half balanced over carry cascades"


def _widths(task: TaskSpec) -> str:
    if task.mixed:
        return f"operands of {task.min_digits} to {task.n_digits} digits"
    return f"{task.n_digits} digits"


def retrain(name: str, *, progress: bool = True, **changes: Any) -> TransformerBridge:
    """Train zoo model ``name`` from its recipe with some settings changed (not saved): the way
    to measure a zoo result over seeds.

    Example:
        >>> m = zoo.retrain("add5-plain-1L", seed=1)  # doctest: +SKIP

    Args:
        changes: :class:`TrainConfig` fields to change, e.g. ``seed=1`` or ``eval_every=50``;
            the model is initialised from ``changes["seed"]`` as well.
    """
    _check_name(name)
    r = RECIPES[name]
    fields = r.config.to_dict()
    bad = [k for k in changes if k not in fields]
    if bad:
        raise ArithlensError(
            f"{bad[0]!r} is not a TrainConfig field: expected one of {sorted(fields)}"
        )
    return r.train(TrainConfig(**{**fields, **changes}), progress=progress)
