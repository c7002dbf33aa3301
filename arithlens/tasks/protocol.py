"""The task-family seam: what every task spec (arithmetic, sorting, numeracy) declares, so code
outside ``arithlens.tasks`` never asks which family it holds.

A spec is pure data (a frozen dataclass that round-trips through JSON). :class:`TaskFamily`
is what each one implements -- its name and vocabulary, its *width* (operand digits for
arithmetic and numeracy, sequence length for sorting) and whether a width was trained, its
answer slots, its longest text, and the analyses it supports (:data:`CAPABILITIES`). Behaviour
that needs a family's sampler or renderer (drawing problems, rendering, minimal pairs, labels)
goes through one registry, :mod:`arithlens.tasks.families`, keyed by :attr:`TaskFamily.family`.

An analysis that only makes sense for some families asks :func:`require`; it raises an
:class:`~arithlens.errors.ArithlensError` naming the capability and the families that have it.

Example:
    >>> from arithlens.tasks import SortSpec, TaskSpec
    >>> TaskSpec(op="add", n_digits=3).width_name, SortSpec(max_len=10).width_name
    ('n_digits', 'length')
    >>> SortSpec(min_len=2, max_len=10).trained_at(12)
    False
    >>> require(SortSpec(max_len=10), "carries", "carry probes")
    Traceback (most recent call last):
    ...
    arithlens.errors.ArithlensError: carry probes needs a task of family arithmetic (capability 'carries': carry and cascade labels of arithmetic digits); sort1to10 is sort
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from arithlens.errors import ArithlensError

CAPABILITIES: dict[str, str] = {
    "carries": "carry and cascade labels of arithmetic digits",
    "digits": "answers read as numbers digit by digit (evaluate, greedy decoding, per-digit tables)",
    "pairs": "clean/corrupt minimal pairs (patching, attribution, the explorers)",
    "texts": "answers scored as texts, element by element (text_scores)",
    "hint": "a hint task trained beside it (task hinting)",
    "decision": "decision and running-count labels (numeracy probes, accuracy by label)",
    "successor": "successor labels (the sorting hint's probe)",
    "typed": "problems a person types, read by parse_problem (the ProblemExplorer)",
}
"""Every capability a task family may declare, with what it enables."""

FAMILY_CAPABILITIES: dict[str, frozenset[str]] = {
    "arithmetic": frozenset({"carries", "digits", "pairs", "typed"}),
    "sort": frozenset({"pairs", "texts", "hint", "successor"}),
    "numeracy": frozenset({"pairs", "texts", "decision", "typed"}),
}
"""Which capabilities each family has (one table, read by :attr:`TaskFamily.capabilities`)."""


@runtime_checkable
class TaskFamily(Protocol):
    """What every task spec implements (checked by mypy on the three specs).

    Attributes:
        family: ``"arithmetic"``, ``"sort"`` or ``"numeracy"`` (the JSON tag).
        width_name: what a width counts: ``"n_digits"`` or ``"length"``.
    """

    family: ClassVar[str]
    width_name: ClassVar[str]

    @property
    def name(self) -> str:
        """Short name, e.g. ``add3-reversed``, ``sort1to10``, ``max-float3.3``."""
        ...

    @property
    def format(self) -> str:
        """The vocabulary key (``tokens.vocab_for``)."""
        ...

    @property
    def answer_width(self) -> int:
        """Most answer slots (digits, elements or characters)."""
        ...

    @property
    def mixed(self) -> bool:
        """Whether problems of one task have different widths."""
        ...

    @property
    def width(self) -> int:
        """The largest trained width (``n_digits`` or ``max_len``)."""
        ...

    @property
    def fixed_layout(self) -> bool:
        """Whether every problem puts each role (operand digit, answer slot) at one position."""
        ...

    @property
    def capabilities(self) -> frozenset[str]:
        """The analyses the family supports (keys of :data:`CAPABILITIES`)."""
        ...

    def trained_at(self, width: int) -> bool:
        """Whether problems of ``width`` lie in the task's own (trained) range."""
        ...

    def at_width(self, width: int) -> Any:
        """This task at another width (length generalization)."""
        ...

    def same_but_width(self, other: Any) -> bool:
        """Whether ``other`` is this task at another width."""
        ...

    def answer_digit(self, k: Any) -> int:
        """Index of answer slot ``k`` (a name or an int), checked."""
        ...

    def answer_name(self, k: int) -> str:
        """Name of answer slot ``k`` (``units``, ``elem3``, ``char0``)."""
        ...

    def text_length(self, hint: bool = False) -> int:
        """Longest text a problem renders to (with ``hint``: its hint text, where it has one)."""
        ...

    def describe(self) -> str:
        """The name with the settings it leaves out (``add2-plain (unpadded)``)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, tagged with the family."""
        ...


@runtime_checkable
class ProblemSet(Protocol):
    """A batch of problems of one task, of any family (``Problems``, ``Sequences``,
    ``NumeracyProblems``)."""

    @property
    def task(self) -> Any:
        """The task spec (a :class:`TaskFamily`)."""
        ...

    def __len__(self) -> int: ...

    def __getitem__(self, idx: Any) -> Any: ...

    def keys(self) -> np.ndarray:
        """One hashable key per problem."""
        ...

    def to_record(self) -> dict:
        """JSON-ready task and problems (read back by ``tasks.problems_from_record``)."""
        ...


class FamilyDefaults:
    """What a spec gets from the seam itself: its :attr:`capabilities`, read from
    :data:`FAMILY_CAPABILITIES` by its ``family``, and no fixed layout unless it says so."""

    family: ClassVar[str] = ""

    @property
    def capabilities(self) -> frozenset[str]:
        """The analyses the family supports (keys of :data:`CAPABILITIES`)."""
        return FAMILY_CAPABILITIES[self.family]

    @property
    def fixed_layout(self) -> bool:
        """Whether every problem puts each role at one position (sorting and numeracy: lengths
        differ between problems, so no)."""
        return False

    def answer_digit(self, k: Any) -> int:
        """Index of answer slot ``k``: an index ``0..answer_width - 1`` or its
        :meth:`answer_name` (arithmetic overrides this with place names).

        Example:
            >>> from arithlens.tasks.sorting import SortSpec
            >>> SortSpec(max_len=4).answer_digit("elem2"), SortSpec(max_len=4).answer_digit(3)
            (2, 3)
        """
        width: int = self.answer_width  # type: ignore[attr-defined]
        names = [self.answer_name(i) for i in range(width)]  # type: ignore[attr-defined]
        if isinstance(k, str) and k in names:
            return names.index(k)
        if not isinstance(k, (bool, str)) and isinstance(k, (int, np.integer)) and 0 <= k < width:
            return int(k)
        raise ArithlensError(
            f"answer slot {k!r} is out of range: {self.name} answers have up to {width} "  # type: ignore[attr-defined]
            f"slots (0..{width - 1}, or names such as {names[0]!r})"
        )


def has(task: Any, capability: str) -> bool:
    """Whether ``task`` supports ``capability`` (a key of :data:`CAPABILITIES`).

    Example:
        >>> from arithlens.tasks import NumeracySpec
        >>> has(NumeracySpec(task="max"), "pairs"), has(NumeracySpec(task="max"), "carries")
        (True, False)
    """
    if capability not in CAPABILITIES:
        raise ArithlensError(
            f"capability {capability!r} is unknown: expected one of {sorted(CAPABILITIES)}"
        )
    return capability in getattr(task, "capabilities", frozenset())


def require(task: Any, capability: str, what: str) -> None:
    """Raise unless ``task`` supports ``capability``; ``what`` names the analysis asking.

    The error names the capability, the task and the families that have it.
    """
    if has(task, capability):
        return
    if not isinstance(task, TaskFamily):
        raise ArithlensError(
            f"{what} needs a task spec: got a {type(task).__name__} (expected TaskSpec, SortSpec "
            "or NumeracySpec)"
        )
    able = [f for f, caps in FAMILY_CAPABILITIES.items() if capability in caps]
    raise ArithlensError(
        f"{what} needs a task of family {' or '.join(able)} (capability {capability!r}: "
        f"{CAPABILITIES[capability]}); {task.name} is {task.family}"
    )
