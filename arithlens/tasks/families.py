"""Task families: arithmetic (:class:`TaskSpec`) and sorting (:class:`SortSpec`), read back
from JSON by their ``family`` key (arithmetic dicts predate it and have none).

Example:
    >>> task_from_dict(SortSpec(max_len=10).to_dict()).name
    'sort1to10'
    >>> task_from_dict(TaskSpec(op="add", n_digits=3).to_dict()).name
    'add3-reversed'
"""

from __future__ import annotations

from typing import Any, TypeAlias

from arithlens.errors import ArithlensError
from arithlens.tasks.sorting import SortSpec
from arithlens.tasks.spec import TaskSpec

AnyTask: TypeAlias = TaskSpec | SortSpec


def task_from_dict(d: dict[str, Any]) -> AnyTask:
    """The task a ``to_dict`` output describes."""
    if not isinstance(d, dict):
        raise ArithlensError(f"task {d!r} is invalid: expected a dict")
    family = d.get("family", "arithmetic")
    if family == "sort":
        return SortSpec.from_dict(d)
    if family == "arithmetic":
        return TaskSpec.from_dict({k: v for k, v in d.items() if k != "family"})
    raise ArithlensError(f"task family {family!r} is unknown: expected 'arithmetic' or 'sort'")
