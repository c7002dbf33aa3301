"""Task families: arithmetic (:class:`TaskSpec`), sorting (:class:`SortSpec`) and numeracy
(:class:`NumeracySpec`), and the one registry that gives each its behaviour.

Every spec implements :class:`~arithlens.tasks.protocol.TaskFamily` (pure data). What needs a
family's sampler, renderer or pair builder is one :class:`Family` entry of :data:`FAMILIES`,
keyed by ``task.family``: code outside ``arithlens.tasks`` calls :func:`sample_problems`,
:func:`render_problems`, :func:`family_pairs` or :func:`task_from_dict` and never asks which
family it holds.

Example:
    >>> task_from_dict(SortSpec(max_len=10).to_dict()).name
    'sort1to10'
    >>> task_from_dict(TaskSpec(op="add", n_digits=3).to_dict()).name
    'add3-reversed'
    >>> render_problems(sample_problems(SortSpec(min_len=3, max_len=3), 1, seed=1)).texts
    ['S457=457.']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from arithlens.errors import ArithlensError
from arithlens.tasks.arithmetic.formats import position_labels, render
from arithlens.tasks.arithmetic.ops import SYMBOLS
from arithlens.tasks.arithmetic.pairs import corrupt_pairs
from arithlens.tasks.arithmetic.problems import Problems
from arithlens.tasks.arithmetic.samplers import sample
from arithlens.tasks.arithmetic.spec import OPS, TaskSpec, place_name
from arithlens.tasks.common import Pairs, Rendered
from arithlens.tasks.numeracy import (
    NumeracyProblems,
    NumeracySpec,
    render_numeracy,
    sample_numeracy,
)
from arithlens.tasks.numeracy import prompt as numeracy_prompt
from arithlens.tasks.numeracy.pairs import CHANGES as NUMERACY_CHANGES
from arithlens.tasks.numeracy.pairs import numeracy_pairs
from arithlens.tasks.protocol import ProblemSet, TaskFamily, require
from arithlens.tasks.sorting import Sequences, SortSpec, render_sort, sample_sequences, sort_pairs

AnyTask: TypeAlias = TaskSpec | SortSpec | NumeracySpec
TextTask: TypeAlias = SortSpec | NumeracySpec
"""The families whose problems are sampled and scored as texts (no carries, no cascades)."""
TextProblems: TypeAlias = Sequences | NumeracyProblems


@dataclass(frozen=True)
class Family:
    """A family's behaviour (the data lives on its spec).

    Attributes:
        spec: the spec class.
        problems: the problem-batch class.
        sample: ``(task, n, seed, strategy, unique) -> problems`` drawn from the task's own
            distribution (``strategy`` and ``unique``: see :func:`sample_problems`).
        render: ``(problems, hint) -> Rendered``.
        pairs: ``(task, n, change, seed) -> Pairs`` (minimal pairs for patching).
        default_change: the change :func:`family_pairs` uses when given none.
        changes: ``task -> list[str]``: every change :func:`family_pairs` takes for the task.
        typed: ``problems -> str``: the first problem as a person types it (what
            :func:`~arithlens.tasks.parse_problem` reads); None where nobody types problems.
    """

    spec: type[Any]
    problems: type[Any]
    sample: Callable[[Any, int, Any, str, bool], Any]
    render: Callable[[Any, bool], Rendered]
    pairs: Callable[[Any, int, str, int], Pairs]
    default_change: Callable[[Any], str]
    changes: Callable[[Any], list[str]]
    typed: Callable[[Any], str] | None = None


def _without_hint(render_fn: Callable[[Any], Rendered]) -> Callable[[Any, bool], Rendered]:
    """A family's renderer that refuses ``hint=True`` (only sorting has a hint task)."""

    def rendered(problems: Any, hint: bool) -> Rendered:
        if hint:
            raise ArithlensError(
                f"hint=True needs sorting sequences, not problems of {problems.task.name} (it "
                "has no hint task)"
            )
        return render_fn(problems)

    return rendered


FAMILIES: dict[str, Family] = {
    "arithmetic": Family(
        TaskSpec,
        Problems,
        lambda t, n, seed, strategy, unique: sample(t, n, seed, strategy=strategy, unique=unique),  # type: ignore[arg-type]
        _without_hint(render),
        lambda t, n, change, seed: corrupt_pairs(t, n, change=change, seed=seed),
        lambda t: "a.units",
        lambda t: [
            *(f"{o}.{place_name(k)}" for o in "ab" for k in range(t.n_digits)),
            *("resample.a", "resample.b", "swap"),
            *(f"op:{o}" for o in OPS if o != t.op),
        ],
        lambda p: f"{p.ints()[0][0]}{SYMBOLS[p.task.op]}{p.ints()[0][1]}",
    ),
    "sort": Family(
        SortSpec,
        Sequences,
        lambda t, n, seed, strategy, unique: sample_sequences(t, n, seed),
        lambda p, hint: render_sort(p, hint=hint),
        lambda t, n, change, seed: sort_pairs(t, n, change=change, seed=seed),
        lambda t: "elem.0",
        lambda t: [*(f"elem.{k}" for k in range(t.max_len)), "elem.last"],
    ),
    "numeracy": Family(
        NumeracySpec,
        NumeracyProblems,
        lambda t, n, seed, strategy, unique: sample_numeracy(t, n, seed),
        _without_hint(render_numeracy),
        lambda t, n, change, seed: numeracy_pairs(t, n, change=change, seed=seed),
        lambda t: NUMERACY_CHANGES[t.task][0],
        lambda t: list(NUMERACY_CHANGES[t.task]),
        lambda p: numeracy_prompt(p.task, p.operands[0])[:-1],
    ),
}
"""Each family's behaviour, keyed by ``TaskFamily.family``."""


def family_of(task: TaskFamily) -> Family:
    """The registry entry of ``task``'s family, checking that it is a task spec."""
    entry = FAMILIES.get(getattr(task, "family", None))  # type: ignore[arg-type]
    if entry is None or not isinstance(task, entry.spec):
        raise ArithlensError(
            f"task {task!r} is not a task spec: expected TaskSpec, SortSpec or NumeracySpec"
        )
    return entry


def sample_problems(
    task: TaskFamily,
    n: int,
    seed: int | np.random.Generator = 0,
    *,
    strategy: str = "uniform",
    unique: bool = False,
) -> Any:
    """``n`` problems of any task, from its own distribution (arithmetic: :func:`sample`;
    sorting and numeracy: their samplers, independent draws).

    Args:
        strategy: arithmetic's sampling strategy (``"cascade"`` balances carry cascades);
            other families have only ``"uniform"``.
        unique: arithmetic: no problem twice. Sorting and numeracy draw independently (their
            short widths hold too few problems to exclude repeats) and ignore it.
    """
    if strategy != "uniform":
        require(task, "carries", f"strategy={strategy!r}")
    return family_of(task).sample(task, n, seed, strategy, unique)


def render_problems(problems: ProblemSet, *, hint: bool = False) -> Rendered:
    """Texts of ``problems`` of any family, and where their answer slots are (``hint=True``:
    the sorting hint's texts)."""
    return family_of(problems.task).render(problems, hint)


def family_pairs(task: TaskFamily, n: int, *, change: str | None = None, seed: int = 0) -> Pairs:
    """``n`` minimal pairs of any task (arithmetic :func:`corrupt_pairs`, numeracy
    :func:`numeracy_pairs`, sorting :func:`sort_pairs`); ``change`` defaults to the family's
    first (``a.units``, ``elem.0``, the numeracy task's deciding change)."""
    fam = family_of(task)
    return fam.pairs(task, n, change or fam.default_change(task), seed)


def problems_from_record(d: dict[str, Any]) -> Any:
    """The problems a ``to_record()`` output describes, of any family.

    Example:
        >>> seqs = sample_problems(SortSpec(max_len=4), 3, seed=0)
        >>> problems_from_record(seqs.to_record()).lists() == seqs.lists()
        True
    """
    if not isinstance(d, dict) or "task" not in d:
        raise ArithlensError(f"problems record {str(d)[:80]!r} is invalid: expected a 'task' key")
    task = task_from_dict(d["task"])
    try:
        return family_of(task).problems.from_record(task, d)
    except (KeyError, ValueError, TypeError) as e:
        raise ArithlensError(f"problems record of {task.name} is invalid: {e!r}") from None


def typed_text(problems: ProblemSet) -> str:
    """The first of ``problems`` as a person types it (``"123+456"``, ``"max(9.11,9.9)"``):
    what :func:`~arithlens.tasks.parse_problem` reads back."""
    task = problems.task
    require(task, "typed", "typed problems")
    typed = family_of(task).typed
    assert typed is not None  # every family with the capability has one
    return typed(problems)


def role_labels(task: TaskFamily) -> list[str] | None:
    """One ``"<pos>:<role>"`` label per position where every problem of ``task`` has one layout
    (padded arithmetic: :func:`~arithlens.tasks.position_labels`); None where layouts differ
    between problems (positions are then labelled per batch, by character)."""
    if not task.fixed_layout:
        return None
    return position_labels(task)  # type: ignore[arg-type]  # only arithmetic has a fixed layout


def changes_for(task: TaskFamily) -> list[str]:
    """Every change :func:`family_pairs` takes for ``task`` (the first is the default).

    Example:
        >>> changes_for(SortSpec(max_len=3))
        ['elem.0', 'elem.1', 'elem.2', 'elem.last']
    """
    return family_of(task).changes(task)


def task_from_dict(d: dict[str, Any]) -> AnyTask:
    """The task a ``to_dict`` output describes."""
    if not isinstance(d, dict):
        raise ArithlensError(f"task {d!r} is invalid: expected a dict")
    family = d.get("family", "arithmetic")
    if family not in FAMILIES:
        raise ArithlensError(
            f"task family {family!r} is unknown: expected one of {sorted(FAMILIES)}"
        )
    spec = FAMILIES[family].spec
    return spec.from_dict({k: v for k, v in d.items() if k != "family" or spec is not TaskSpec})


_SPECS: tuple[type[TaskFamily], ...] = (TaskSpec, SortSpec, NumeracySpec)
"""Every spec class, as the protocol (mypy checks that each implements it)."""
