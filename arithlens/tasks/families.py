"""Task families: arithmetic (:class:`TaskSpec`), sorting (:class:`SortSpec`) and numeracy
(:class:`NumeracySpec`), read back from JSON by their ``family`` key (arithmetic dicts predate
it and have none).

Example:
    >>> task_from_dict(SortSpec(max_len=10).to_dict()).name
    'sort1to10'
    >>> task_from_dict(TaskSpec(op="add", n_digits=3).to_dict()).name
    'add3-reversed'
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

from arithlens.errors import ArithlensError
from arithlens.tasks.numeracy import NumeracyProblems, NumeracySpec, sample_numeracy
from arithlens.tasks.sorting import Sequences, SortSpec, sample_sequences
from arithlens.tasks.spec import TaskSpec

AnyTask: TypeAlias = TaskSpec | SortSpec | NumeracySpec
TextTask: TypeAlias = SortSpec | NumeracySpec
"""The families whose problems are sampled and scored as texts (no carries, no cascades)."""
TextProblems: TypeAlias = Sequences | NumeracyProblems


def sample_text(task: TextTask, n: int, seed: int | np.random.Generator = 0) -> TextProblems:
    """``n`` problems of a sorting or numeracy task (see each family's sampler)."""
    if isinstance(task, SortSpec):
        return sample_sequences(task, n, seed)
    return sample_numeracy(task, n, seed)


def task_from_dict(d: dict[str, Any]) -> AnyTask:
    """The task a ``to_dict`` output describes."""
    if not isinstance(d, dict):
        raise ArithlensError(f"task {d!r} is invalid: expected a dict")
    family = d.get("family", "arithmetic")
    if family == "sort":
        return SortSpec.from_dict(d)
    if family == "numeracy":
        return NumeracySpec.from_dict(d)
    if family == "arithmetic":
        return TaskSpec.from_dict({k: v for k, v in d.items() if k != "family"})
    raise ArithlensError(
        f"task family {family!r} is unknown: expected 'arithmetic', 'sort' or 'numeracy'"
    )
