"""What an arithmetic task is: operation, operand width, answer format.

A :class:`TaskSpec` is pure data (it round-trips through JSON) and is attached to every model
arithlens trains or loads, so later code can ask a model which task it solves.

Example:
    >>> spec = TaskSpec(op="add", n_digits=3, format="reversed")
    >>> spec.answer_width
    4
    >>> spec.operand_digit("a.tens")
    ('a', 1)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from arithlens._records import from_dict
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.tasks.protocol import FamilyDefaults

OPS = ("add", "sub", "mul")
FORMATS = ("plain", "reversed", "scratchpad", "random_spaces", "index_hints")
HINTS = "abcdefghijklmnopqrstuvwxyz"
"""Index-hint markers: place k (0 = units) is marked ``HINTS[k]``."""
MAX_DIGITS = 64

PLACE_NAMES = (
    "units",
    "tens",
    "hundreds",
    "thousands",
    "ten_thousands",
    "hundred_thousands",
    "millions",
)


def place_name(k: int) -> str:
    """Name of place value ``k`` (0 = units): ``units``, ``tens``, ... then ``d7``, ``d8``.

    Example:
        >>> place_name(1), place_name(9)
        ('tens', 'd9')
    """
    return PLACE_NAMES[k] if k < len(PLACE_NAMES) else f"d{k}"


def place_index(name: str | int) -> int:
    """Inverse of :func:`place_name`; also accepts ``"d3"`` and plain integers.

    Example:
        >>> place_index("hundreds"), place_index("d4"), place_index(2)
        (2, 4, 2)
    """
    if isinstance(name, int) and not isinstance(name, bool):
        if name < 0:
            raise ArithlensError(f"digit {name!r} is invalid: expected a place index >= 0")
        return name
    if isinstance(name, str):
        if name in PLACE_NAMES:
            return PLACE_NAMES.index(name)
        m = re.fullmatch(r"d(\d+)", name)
        if m:
            return int(m.group(1))
    raise ArithlensError(
        f"digit name {name!r} is unknown: expected one of {list(PLACE_NAMES)}, 'd<k>' or an int"
    )


@dataclass(frozen=True, kw_only=True)
class TaskSpec(FamilyDefaults):
    """An arithmetic task.

    Attributes:
        op: ``"add"``, ``"sub"`` or ``"mul"``.
        n_digits: digits per operand (>= 1).
        format: answer format: ``"plain"`` (most significant digit first), ``"reversed"``
            (least significant first, Lee et al. 2023), ``"scratchpad"`` (per-column digit
            and carry, then the plain answer), or one of Shen et al.'s (2023) positional
            descriptions, answers written reversed: ``"random_spaces"`` (random spaces between
            the operands' digits) or ``"index_hints"`` (every digit preceded by the letter of
            its place, ``a`` for the units; Zhou et al. 2023).
        pad: zero-pad operands to ``n_digits`` and the answer to :attr:`answer_width`, so every
            problem has the same token layout (the default; analyses assume it).
        nonneg: subtraction only: sample ``a >= b`` so the result is never negative. When
            False the answer carries a sign character (``+`` or ``-``) before its digits.
        min_digits: mixed lengths (length generalization): each operand has between
            ``min_digits`` and ``n_digits`` digits, no leading zeros (needs ``pad=False``). The
            sampler draws each operand's length uniformly, then the number uniformly among
            those of that length. None (the default): operands of up to ``n_digits`` digits,
            uniform on ``[0, 10**n_digits)``.
    """

    op: str
    n_digits: int
    format: str = "reversed"
    pad: bool = True
    nonneg: bool = True
    min_digits: int | None = None

    family: ClassVar[str] = "arithmetic"
    width_name: ClassVar[str] = "n_digits"

    def __post_init__(self) -> None:
        check_choice("op", self.op, OPS)
        check_int("n_digits", self.n_digits, minimum=1, maximum=MAX_DIGITS)
        check_choice("format", self.format, FORMATS)
        if self.format == "index_hints" and self.answer_width > len(HINTS):
            raise ArithlensError(
                f"format='index_hints' marks places with {len(HINTS)} letters but a {self.op} "
                f"of {self.n_digits} digits has {self.answer_width} answer places"
            )
        if not isinstance(self.pad, bool) or not isinstance(self.nonneg, bool):
            raise ArithlensError(f"pad={self.pad!r}, nonneg={self.nonneg!r}: expected booleans")
        if self.min_digits is not None:
            check_int("min_digits", self.min_digits, minimum=1, maximum=self.n_digits)
            if self.pad:
                raise ArithlensError(
                    f"min_digits={self.min_digits} needs pad=False: operands of mixed lengths "
                    "are written without leading zeros"
                )

    @property
    def answer_width(self) -> int:
        """Number of answer digits (padded width): n+1 for add, n for sub, 2n for mul."""
        return {"add": self.n_digits + 1, "sub": self.n_digits, "mul": 2 * self.n_digits}[self.op]

    @property
    def answer_reversed(self) -> bool:
        """Whether the answer is written least significant digit first."""
        return self.format in ("reversed", "random_spaces", "index_hints")

    @property
    def signed(self) -> bool:
        """Whether answers carry a sign character."""
        return self.op == "sub" and not self.nonneg

    @property
    def mixed(self) -> bool:
        """Whether operand lengths vary from ``min_digits`` to ``n_digits`` (see ``min_digits``)."""
        return self.min_digits is not None

    @property
    def name(self) -> str:
        """Short name, e.g. ``add3-reversed``; ``add1to8-reversed`` for mixed lengths."""
        width = f"{self.min_digits}to{self.n_digits}" if self.mixed else str(self.n_digits)
        return f"{self.op}{width}-{self.format}"

    @property
    def width(self) -> int:
        """Digits per operand (the largest, for mixed lengths)."""
        return self.n_digits

    @property
    def fixed_layout(self) -> bool:
        """Padded, and no random spaces: each role at one position in every problem."""
        return self.pad and self.format != "random_spaces"

    def answer_name(self, k: int) -> str:
        """The place of answer digit ``k`` (``units``, ``tens``, ...)."""
        return place_name(k)

    def trained_at(self, width: int) -> bool:
        """Whether operands of ``width`` digits are in the trained range (``min_digits`` to
        ``n_digits`` for mixed lengths, else exactly ``n_digits``).

        Example:
            >>> TaskSpec(op="add", n_digits=8, min_digits=1, pad=False).trained_at(9)
            False
        """
        lo = self.min_digits if self.min_digits is not None else self.n_digits
        return lo <= width <= self.n_digits

    def text_length(self, hint: bool = False) -> int:
        """Longest text any problem renders to (``hint`` is for sorting; arithmetic has none).

        Example:
            >>> TaskSpec(op="add", n_digits=3).text_length()   # 123+456=9750.
            13
        """
        n, w = self.n_digits, self.answer_width
        answer = w + (1 if self.signed else 0)
        if self.format == "random_spaces":
            return 2 * (2 * n - 1) + 2 + answer + 1
        if self.format == "index_hints":
            return 2 * (2 * n) + 2 + answer + w + 1
        if self.format == "scratchpad":
            carry_chars = len(str(9 * 9 * n)) if self.op == "mul" else 1
            answer += w * (4 + carry_chars) + 1
        return 2 * n + 2 + answer + 1

    def describe(self) -> str:
        """The name with the settings it leaves out (``add2-plain (unpadded)``,
        ``sub3-reversed (signed)``)."""
        notes = [("unpadded", not self.pad), ("signed", self.signed)]
        extra = ", ".join(n for n, on in notes if on)
        return f"{self.name} ({extra})" if extra else self.name

    def at_width(self, n_digits: int) -> TaskSpec:
        """This task with operands of exactly ``n_digits`` digits (unpadded, as mixed-length
        models are trained), or, for a fixed-width task, of ``n_digits`` digits in its layout:
        the task of a longer-than-trained evaluation.

        Example:
            >>> TaskSpec(op="add", n_digits=8, min_digits=1, pad=False).at_width(12).name
            'add12to12-reversed'
        """
        check_int("n_digits", n_digits, minimum=1, maximum=MAX_DIGITS)
        lo = n_digits if self.mixed else None
        return dataclasses.replace(self, n_digits=n_digits, min_digits=lo)

    def same_but_width(self, other: Any) -> bool:
        """Whether ``other`` is this task at another operand width (see :meth:`at_width`)."""
        if not isinstance(other, TaskSpec):
            return False
        mine = dataclasses.replace(self, n_digits=1, min_digits=None)
        return mine == dataclasses.replace(other, n_digits=1, min_digits=None)

    def operand_digit(self, name: str) -> tuple[str, int]:
        """Parse ``"a.units"`` / ``"b.d3"`` into ``(operand, place)``, checking the range.

        Example:
            >>> TaskSpec(op="add", n_digits=3).operand_digit("b.hundreds")
            ('b', 2)
        """
        if not isinstance(name, str) or "." not in name:
            raise ArithlensError(
                f"operand digit {name!r} is invalid: expected '<a|b>.<place>', e.g. 'a.units'"
            )
        operand, place = name.split(".", 1)
        if operand not in ("a", "b"):
            raise ArithlensError(f"operand {operand!r} in {name!r} is unknown: expected 'a' or 'b'")
        k = place_index(place)
        if k >= self.n_digits:
            raise ArithlensError(
                f"operand digit {name!r} is out of range: the task has {self.n_digits} digits "
                f"per operand (places 0..{self.n_digits - 1})"
            )
        return operand, k

    def answer_digit(self, name: str | int) -> int:
        """Index of answer digit ``name`` (``"units"``, ``"d4"`` or an int), checked.

        Example:
            >>> TaskSpec(op="add", n_digits=3).answer_digit("thousands")
            3
        """
        k = place_index(name)
        if k >= self.answer_width:
            raise ArithlensError(
                f"answer digit {name!r} is out of range: the answer has {self.answer_width} "
                f"digits (places 0..{self.answer_width - 1})"
            )
        return k

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; inverse of :meth:`from_dict`."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskSpec:
        """Build from :meth:`to_dict` output, naming unknown keys."""
        return from_dict(cls, d, "task spec")
