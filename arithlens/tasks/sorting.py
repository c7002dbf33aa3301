"""Sorting, the task of Awasthi & Gupta's task hinting (2023), with its successor hint.

A problem is a sequence of single-digit values (length varies); the answer is the sequence in
ascending order. Task hinting trains a model on the main task and, in the same batches, on an
auxiliary *hint* task; here the paper's successor task: for every input element, in input
order, the element and its successor.

- sort: ``S3172=1237.``
- successor hint: ``H3172=37127#23.`` (3 -> 7, 1 -> 2, 7 -> none ``#``, 2 -> 3)

The successor of ``x`` is the smallest value of the sequence strictly greater than ``x`` (``#``
if none): arithlens's value-based variant, well defined with repeated values (the paper's
sequences may repeat too; it defines the successor by sorted position). The successor is what
a sorting model needs at every output step: the next output is either the current value again
(it has copies left) or its successor.

Example:
    >>> task = SortSpec(max_len=4)
    >>> seqs = Sequences.from_lists(task, [[3, 1, 7, 2]])
    >>> render_sort(seqs).texts[0], render_sort(seqs, hint=True).texts[0]
    ('S3172=1237.', 'H3172=37127#23.')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from jaxtyping import Int

from arithlens._records import FamilyRecord
from arithlens.errors import ArithlensError, check_int
from arithlens.tasks.common import END, Pairs, Rendered
from arithlens.tasks.protocol import FamilyDefaults

SORT_MARK, HINT_MARK, NONE_MARK = "S", "H", "#"
"""First character of a sort and of a hint text; the hint's "no successor"."""
HINTS_FOR_SORT = ("successor",)
VALUE_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"
"""The character of each value: digits, then lowercase letters for values 10..35."""
MAX_LEN = 200


@dataclass(frozen=True, kw_only=True)
class SortSpec(FamilyDefaults, FamilyRecord):
    """A sorting task: sequences of ``min_len..max_len`` values in ``0..n_values-1``.

    Attributes:
        max_len: longest sequence (>= 1).
        min_len: shortest sequence; lengths are uniform on ``min_len..max_len``.
        n_values: values ``0..n_values-1`` (2..36), uniform and independent, one character
            each (:data:`VALUE_CHARS`: digits, then ``a`` = 10 ... ``z`` = 35).
    """

    max_len: int
    min_len: int = 1
    n_values: int = 10

    def __post_init__(self) -> None:
        check_int("max_len", self.max_len, minimum=1, maximum=MAX_LEN)
        check_int("min_len", self.min_len, minimum=1, maximum=self.max_len)
        check_int("n_values", self.n_values, minimum=2, maximum=len(VALUE_CHARS))

    family: ClassVar[str] = "sort"
    width_name: ClassVar[str] = "length"

    @property
    def format(self) -> str:
        """The vocabulary key (``tokens.vocab_for``): ``sort``, or ``sort36`` past ten values."""
        return "sort" if self.n_values <= 10 else f"sort{self.n_values}"

    @property
    def name(self) -> str:
        """``sort1to10``; ``sort1to10-v5`` for five values."""
        values = "" if self.n_values == 10 else f"-v{self.n_values}"
        return f"sort{self.min_len}to{self.max_len}{values}"

    @property
    def answer_width(self) -> int:
        """Most answer elements (the longest sequence)."""
        return self.max_len

    @property
    def mixed(self) -> bool:
        """Whether lengths vary."""
        return self.min_len != self.max_len

    @property
    def width(self) -> int:
        """The longest sequence."""
        return self.max_len

    def answer_name(self, k: int) -> str:
        """``elem<k>``: the k-th smallest element."""
        return f"elem{k}"

    def trained_at(self, width: int) -> bool:
        """Whether sequences of ``width`` elements are in ``min_len..max_len``."""
        return self.min_len <= width <= self.max_len

    def describe(self) -> str:
        """The name (it says everything)."""
        return self.name

    def at_width(self, length: int) -> SortSpec:
        """This task with sequences of exactly ``length`` elements.

        Example:
            >>> SortSpec(max_len=10).at_width(30).name
            'sort30to30'
        """
        check_int("length", length, minimum=1, maximum=MAX_LEN)
        return dataclasses.replace(self, min_len=length, max_len=length)

    def same_but_width(self, other: Any) -> bool:
        """Whether ``other`` is this task at other lengths."""
        return isinstance(other, SortSpec) and other.n_values == self.n_values

    def text_length(self, hint: bool = False) -> int:
        """Longest text: marker, elements, ``=``, the answer (two characters per element for
        the hint), ``.``."""
        return 1 + self.max_len + 1 + self.max_len * (2 if hint else 1) + 1


@dataclass(frozen=True, eq=False)
class Sequences:
    """A batch of sequences of one sorting task.

    Attributes:
        task: the task.
        values: ``(batch, task.max_len)`` int8 values in input order; -1 past each length.
    """

    task: SortSpec
    values: Int[np.ndarray, "batch elem"]

    def __post_init__(self) -> None:
        v = self.values
        if v.ndim != 2 or v.shape[1] != self.task.max_len:
            raise ArithlensError(
                f"sequence array has shape {v.shape}: expected (batch, {self.task.max_len})"
            )
        present = v >= 0
        lengths = present.sum(1)
        if (present[:, 1:] & ~present[:, :-1]).any() or (v >= self.task.n_values).any():
            raise ArithlensError(
                f"sequence values must be 0..{self.task.n_values - 1}, then -1 padding"
            )
        if len(v) and (lengths.min() < self.task.min_len):
            raise ArithlensError(
                f"a sequence has {int(lengths.min())} elements: task {self.task.name} expects "
                f"{self.task.min_len}..{self.task.max_len}"
            )

    @classmethod
    def from_lists(cls, task: SortSpec, seqs: Iterable[Iterable[int]]) -> Sequences:
        """Build from Python lists of values."""
        rows = [list(map(int, s)) for s in seqs]
        out = np.full((len(rows), task.max_len), -1, dtype=np.int8)
        for r, s in enumerate(rows):
            if not task.min_len <= len(s) <= task.max_len:
                raise ArithlensError(
                    f"sequence {s} has {len(s)} elements: task {task.name} expects "
                    f"{task.min_len}..{task.max_len}"
                )
            if any(not 0 <= x < task.n_values for x in s):
                raise ArithlensError(f"sequence {s}: values must be 0..{task.n_values - 1}")
            out[r, : len(s)] = s
        return cls(task, out)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __getitem__(self, idx: int | slice | np.ndarray) -> Sequences:
        if isinstance(idx, (int, np.integer)):
            idx = slice(int(idx), int(idx) + 1)
        return Sequences(self.task, self.values[idx])

    @property
    def lengths(self) -> Int[np.ndarray, " batch"]:
        """Elements per sequence."""
        return (self.values >= 0).sum(1)

    def lists(self) -> list[list[int]]:
        """The sequences as Python lists."""
        return [[int(x) for x in row if x >= 0] for row in self.values]

    def sorted(self) -> Int[np.ndarray, "batch elem"]:
        """The answers: each sequence ascending, -1 past its length."""
        big = np.where(self.values >= 0, self.values, 127)
        out = np.sort(big, axis=1)
        return np.where(out == 127, -1, out).astype(np.int8)

    def successors(self) -> Int[np.ndarray, "batch elem"]:
        """Per input element, the smallest value of its sequence greater than it;
        ``n_values`` where none is (the hint's ``#``); -1 past the length."""
        v = self.values.astype(np.int16)
        nv = self.task.n_values
        greater = (v[:, None, :] > v[:, :, None]) & (v[:, None, :] >= 0)
        cand = np.where(greater, v[:, None, :], nv)
        return np.where(v >= 0, cand.min(2), -1).astype(np.int8)

    def to_record(self) -> dict:
        """JSON-ready: the task and the values (inverse: ``tasks.problems_from_record``)."""
        return {"task": self.task.to_dict(), "values": self.values.tolist()}

    @classmethod
    def from_record(cls, task: SortSpec, d: dict) -> Sequences:
        """Sequences of ``task`` from :meth:`to_record`'s values."""
        return cls(task, np.asarray(d["values"], dtype=np.int8).reshape(-1, task.max_len))

    def keys(self) -> np.ndarray:
        """One hashable key per sequence."""
        return np.array([row.tobytes() for row in self.values], dtype=object)

    @staticmethod
    def concat(parts: list[Sequences]) -> Sequences:
        """Concatenate batches of one task."""
        if not parts or any(p.task != parts[0].task for p in parts):
            raise ArithlensError("cannot concatenate: expected one or more batches of one task")
        return Sequences(parts[0].task, np.concatenate([p.values for p in parts]))


def sample_sequences(task: SortSpec, n: int, seed: int | np.random.Generator = 0) -> Sequences:
    """``n`` sequences: length uniform on ``min_len..max_len``, values uniform, independent.

    Example:
        >>> sample_sequences(SortSpec(min_len=3, max_len=3, n_values=5), 2, seed=1).lists()
        [[2, 2, 3], [4, 0, 0]]
    """
    check_int("n", n, minimum=0)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    lengths = rng.integers(task.min_len, task.max_len + 1, size=n)
    values = rng.integers(0, task.n_values, size=(n, task.max_len)).astype(np.int8)
    values[np.arange(task.max_len)[None, :] >= lengths[:, None]] = -1
    return Sequences(task, values)


def render_sort(seqs: Sequences, *, hint: bool = False) -> Rendered:
    """Texts of the sort task (or of its successor hint, ``hint=True``) and where things are.

    ``answer_pos[:, k]``: the sort answer's element k (k-th smallest) or, for the hint, the
    successor of input element k; -1 past the length. ``operand_pos[:, 0, k]``: input element k.
    """
    lists = seqs.lists()
    succ = seqs.successors()
    n, width = len(seqs), seqs.task.max_len
    answer_pos = np.full((n, width), -1, dtype=np.int64)
    operand_pos = np.full((n, 1, width), -1, dtype=np.int64)
    texts, prompt_len = [], np.zeros(n, dtype=np.int64)
    for r, s in enumerate(lists):
        L = len(s)
        prompt = (HINT_MARK if hint else SORT_MARK) + "".join(VALUE_CHARS[x] for x in s) + "="
        if hint:
            marks = [
                NONE_MARK if int(x) == seqs.task.n_values else VALUE_CHARS[x] for x in succ[r, :L]
            ]
            body = "".join(VALUE_CHARS[x] + m for x, m in zip(s, marks))
            answer_pos[r, :L] = len(prompt) + 1 + 2 * np.arange(L)
        else:
            body = "".join(VALUE_CHARS[x] for x in sorted(s))
            answer_pos[r, :L] = len(prompt) + np.arange(L)
        operand_pos[r, 0, :L] = 1 + np.arange(L)
        texts.append(prompt + body + END)
        prompt_len[r] = len(prompt)
    return Rendered(texts, prompt_len, answer_pos, operand_pos)


# ---------------------------------------------------------------- minimal pairs

SORT_CHANGES = ("elem.<k>", "elem.last")
"""The sorting pairs' changes: input element k replaced by a different value, uniform over the
others, both sides of one length (see :func:`sort_pairs`)."""


def _element(change: str, length: int) -> int:
    if not isinstance(change, str) or not change.startswith("elem."):
        raise ArithlensError(
            f"change {change!r} is unknown for sorting: expected 'elem.<k>' (k = 0..{length - 1}) "
            "or 'elem.last'"
        )
    k = change.split(".", 1)[1]
    if k == "last":
        return length - 1
    if not k.isdigit() or int(k) >= length:
        raise ArithlensError(
            f"change {change!r} is out of range: sequences of {length} elements have elements "
            f"0..{length - 1}"
        )
    return int(k)


def sort_pairs(
    task: SortSpec, n: int, *, change: str = "elem.0", seed: int = 0, length: int | None = None
) -> Pairs:
    """``n`` sequences of ``length`` elements (default ``task.max_len``) and their twins with
    one input element changed (see the module doc); both sides are of ``task.at_width(length)``.
    """
    check_int("n", n, minimum=1)
    length = task.max_len if length is None else check_int("length", length, minimum=1)
    k = _element(change, length)
    fixed = task.at_width(length)
    rng = np.random.default_rng(seed)
    clean = sample_sequences(fixed, n, rng)
    values = clean.values.copy()
    shift = rng.integers(1, task.n_values, size=n)
    values[:, k] = (values[:, k] + shift) % task.n_values
    return Pairs(clean, Sequences(fixed, values), change)


__all__ = [
    "HINTS_FOR_SORT",
    "HINT_MARK",
    "NONE_MARK",
    "SORT_MARK",
    "Sequences",
    "SortSpec",
    "render_sort",
    "sort_pairs",
    "sample_sequences",
]
