"""Rebuilding the zoo: train each model from its recipe, score it on its held-out set, save it
with its model card. It sits above the analyses (it evaluates), so it is not part of
:mod:`arithlens.models.zoo`; ``arithlens zoo rebuild`` runs it.

Example:
    >>> rebuild(["add3-2L"])                        # doctest: +SKIP
    {'add3-2L': 1.0}
"""

from __future__ import annotations

from pathlib import Path

from transformer_lens.model_bridge import TransformerBridge

from arithlens.evaluation import evaluate, length_generalization, text_scores
from arithlens.models.checkpoint import save
from arithlens.models.train import held_out
from arithlens.models.zoo import RECIPES, _check_name, model_card, zoo_dir
from arithlens.tasks import Problems, SortSpec, TaskSpec, TextProblems, max_length

LENGTH_WIDTHS = (1, 2, 4, 6, 8, 9, 10, 12, 16, 20, 24)
"""Operand widths a mixed-length zoo model's card reports."""
SORT_LENGTHS = (1, 5, 10, 12, 15, 20, 25, 30, 40, 50)
"""Sequence lengths a sorting zoo model's card reports (those its context holds)."""


def build(name: str, *, out: Path | None = None, progress: bool = True) -> TransformerBridge:
    """Train zoo model ``name`` from its recipe, evaluate it on its held-out set, save it."""
    _check_name(name)
    r = RECIPES[name]
    model = r.train(progress=progress)
    test = held_out(r.task, r.config)
    if not isinstance(test, Problems) or not isinstance(r.task, TaskSpec):
        return _build_text(name, model, test, out)  # type: ignore[arg-type]
    res = evaluate(model, test)
    model.record.final = {"held_out": res.summary()}
    if r.task.mixed:  # exact match by operand length, up to what the context holds
        widths = [w for w in LENGTH_WIDTHS if max_length(r.task.at_width(w)) <= model.cfg.n_ctx]
        table = length_generalization(model, widths, n=1000)
        model.record.final["length"] = table[["n_digits", "exact_match", "trained"]].to_dict(
            "records"
        )
    save(model, (out or zoo_dir()) / name, card=model_card(name, model))
    return model


def _build_text(
    name: str, model: TransformerBridge, test: TextProblems, out: Path | None
) -> TransformerBridge:
    _, exact = text_scores(model, test)
    task = test.task
    sizes = SORT_LENGTHS if isinstance(task, SortSpec) else range(1, task.n_digits + 1)
    lengths = [n for n in sizes if max_length(task.at_width(n)) <= model.cfg.n_ctx]
    table = length_generalization(model, lengths, n=1000)
    key = "length" if isinstance(task, SortSpec) else "n_digits"
    model.record.final = {
        "held_out": {"exact_match": float(exact.mean()), "n": len(exact)},
        "length": table[[key, "exact_match", "trained"]].to_dict("records"),
    }
    save(model, (out or zoo_dir()) / name, card=model_card(name, model))
    return model


def rebuild(
    names: list[str] | None = None, *, out: Path | None = None, progress: bool = True
) -> dict[str, float]:
    """Retrain the zoo (or ``names``); returns held-out exact match per model."""
    names = names or list(RECIPES)
    for n in names:
        _check_name(n)
    return {
        n: build(n, out=out, progress=progress).record.final["held_out"]["exact_match"]
        for n in names
    }
