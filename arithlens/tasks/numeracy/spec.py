"""Number understanding beyond integer + - x: the Number Cookbook's (NUPA; Yang et al. 2024)
tasks on integers, floats, fractions and scientific notation, with exact ground truth.

A :class:`NumeracySpec` names the task and the representation; a :class:`NumeracyProblems`
batch holds each problem's operands as their exact strings; :func:`render_numeracy` writes
``prompt=answer;`` texts (``;`` ends the answer: ``.`` is the decimal point here), recording
where every answer character sits. The ground truth is computed with Python's ``decimal`` and
``fractions`` (no floating point anywhere).

========== ========================= ====================================
task       representations           text
========== ========================= ====================================
add        float, frac               ``1.25+3.5=4.75;``  ``1/2+1/3=5/6;``
sub        float, frac               ``3.5-1.25=2.25;``  ``1/3-1/2=-1/6;``
floordiv   int                       ``17/5=3;``
mod        int                       ``17%5=2;``
max        int, float                ``max(9.11,9.9)=9.9;``
min        int, float                ``min(9.11,9.9)=9.11;``
get_digit  int                       ``digit(4827,2)=8;`` (place 2, 0 = units)
length     int                       ``len(4827)=4;``
count      int                       ``count(4,44827)=2;`` (the digit first)
sig_round  int, float                ``sig(12345,2)=12000;`` (round half up)
to_sci     int, float                ``sci(12300)=1.23e4;``
from_sci   sci                       ``num(1.23e4)=12300;``
count_letter word                    ``count(r,strawberry)=3;`` (LLM The Genius Paradox)
========== ========================= ====================================

Example:
    >>> from arithlens.tasks.numeracy import NumeracyProblems, answers, render_numeracy
    >>> spec = NumeracySpec(task="max", repr="float", n_digits=1, decimals=2)
    >>> p = NumeracyProblems.from_strings(spec, [("9.11", "9.9")])
    >>> render_numeracy(p).texts[0], answers(p)[0]
    ('max(9.11,9.9)=9.9;', '9.9')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from arithlens._records import FamilyRecord
from arithlens.errors import ArithlensError, check_choice, check_float, check_int
from arithlens.tasks.protocol import FamilyDefaults

SUPPORTED: dict[str, tuple[str, ...]] = {
    "add": ("float", "frac"),
    "sub": ("float", "frac"),
    "floordiv": ("int",),
    "mod": ("int",),
    "max": ("int", "float"),
    "min": ("int", "float"),
    "get_digit": ("int",),
    "length": ("int",),
    "count": ("int",),
    "sig_round": ("int", "float"),
    "to_sci": ("int", "float"),
    "from_sci": ("sci",),
    "count_letter": ("word",),
}
"""Each task's representations."""
NUMERACY_TASKS = tuple(SUPPORTED)
REPRS = ("int", "float", "frac", "sci", "word")
END = ";"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
NUMERACY_VOCAB = "0123456789.+-/%,()=;_abcdefghijklmnopqrstuvwxyz"
"""Characters of every numeracy text (words of the letter-counting task included), ``_`` the
padding token; digits keep ids 0-9."""
_FUNCTIONS = {
    "max": "max",
    "min": "min",
    "get_digit": "digit",
    "length": "len",
    "count": "count",
    "sig_round": "sig",
    "to_sci": "sci",
    "from_sci": "num",
    "count_letter": "count",
}
_INFIX = {"add": "+", "sub": "-", "floordiv": "/", "mod": "%"}
_QUERY_FIRST = ("count", "count_letter")
_ARITY = {
    "get_digit": 2,
    "count": 2,
    "count_letter": 2,
    "sig_round": 2,
    "length": 1,
    "to_sci": 1,
    "from_sci": 1,
}


@dataclass(frozen=True, kw_only=True)
class NumeracySpec(FamilyDefaults, FamilyRecord):
    """A numeracy task: ``task`` on numbers written as ``repr``.

    Attributes:
        task: one of :data:`NUMERACY_TASKS`.
        repr: ``"int"``, ``"float"``, ``"frac"``, ``"sci"``, or ``"word"`` (lowercase letters,
            for counting letters) (:data:`SUPPORTED` lists each task's).
        n_digits: most digits of an integer, of a float's integer part, of a fraction's
            numerator and denominator, of a mantissa, most letters of a word (each length
            uniform on 1..n_digits).
        decimals: floats: most digits after the point (the count uniform on 1..decimals, the
            last one non-zero, so every float is written one way).
        close: max / min only: the share of problems whose second number agrees with the
            first up to a digit drawn uniformly among the first's digits (see
            :func:`sample_numeracy`), so that every place decides equally often -- the 9.11 vs
            9.9 kind, rare among independent numbers (0: independent numbers only).
    """

    task: str
    repr: str = "int"
    n_digits: int = 3
    decimals: int = 2
    close: float = 0.0

    family: ClassVar[str] = "numeracy"
    width_name: ClassVar[str] = "n_digits"

    def __post_init__(self) -> None:
        check_choice("task", self.task, NUMERACY_TASKS)
        check_choice("repr", self.repr, REPRS)
        if self.repr not in SUPPORTED[self.task]:
            pairs = ", ".join(f"{t}/{r}" for t, rs in SUPPORTED.items() for r in rs)
            raise ArithlensError(
                f"task {self.task!r} on repr {self.repr!r} is not supported: expected one of {pairs}"
            )
        check_int("n_digits", self.n_digits, minimum=1, maximum=12)
        check_int("decimals", self.decimals, minimum=1, maximum=8)
        check_float("close", self.close, minimum=0.0, maximum=1.0)
        if self.close and self.task not in ("max", "min"):
            raise ArithlensError(
                f"close={self.close!r} is for max / min: {self.task} problems have no second number"
            )

    @property
    def format(self) -> str:
        """The vocabulary key (``tokens.vocab_for``)."""
        return "numeracy"

    @property
    def name(self) -> str:
        """``max-float1.2`` (integer digits . decimals for floats), ``count-int5``."""
        width = f"{self.n_digits}.{self.decimals}" if self.repr == "float" else str(self.n_digits)
        return f"{self.task}-{self.repr}{width}" + (f"-close{self.close:g}" if self.close else "")

    @property
    def answer_width(self) -> int:
        """Most answer characters."""
        return max_answer_chars(self)

    def same_but_width(self, other: Any) -> bool:
        # ``close`` only changes which problems are drawn, not what a problem means
        return isinstance(other, NumeracySpec) and (other.task, other.repr) == (
            self.task,
            self.repr,
        )

    @property
    def width(self) -> int:
        """Most digits of a number."""
        return self.n_digits

    @property
    def mixed(self) -> bool:
        """Numbers have 1..n_digits digits, so texts vary in length."""
        return True

    def answer_name(self, k: int) -> str:
        """``char<k>``: the k-th answer character as written."""
        return f"char{k}"

    def trained_at(self, width: int) -> bool:
        """Whether numbers of up to ``width`` digits are drawn by the task itself."""
        return width <= self.n_digits

    def describe(self) -> str:
        """The name (it says everything)."""
        return self.name

    def at_width(self, n_digits: int) -> NumeracySpec:
        """This task with numbers of up to ``n_digits`` digits."""
        return dataclasses.replace(self, n_digits=n_digits)

    def text_length(self, hint: bool = False) -> int:
        """Longest text of the task."""
        return max_prompt_chars(self) + self.answer_width + 1


def max_prompt_chars(task: NumeracySpec) -> int:
    """Longest prompt."""
    n, d = task.n_digits, task.decimals
    number = {
        "int": n,
        "word": n,
        "float": n + 1 + d,
        "frac": 2 * n + 1,
        "sci": n + 1 + 2 + len(str(n)),
    }[task.repr]
    if task.task in _INFIX:
        return 2 * number + 2
    extra = {
        "get_digit": 3,
        "count": 2,
        "count_letter": 2,
        "sig_round": 3,
        "max": 1 + number,
        "min": 1 + number,
    }
    more = extra.get(task.task, 0)
    return len(_FUNCTIONS[task.task]) + 2 + number + more + 1


def max_answer_chars(task: NumeracySpec) -> int:
    """Longest answer."""
    n, d = task.n_digits, task.decimals
    t = task.task
    if t in ("add", "sub"):
        if task.repr == "frac":
            return 1 + (2 * n + 1) + 1 + 2 * n  # sign, numerator < 2 * 10^2n, "/", denominator
        return 1 + (n + 1) + 1 + d
    if t in ("floordiv", "mod", "length", "count", "count_letter"):
        return n
    if t in ("max", "min"):
        return n + (1 + d if task.repr == "float" else 0)
    if t == "get_digit":
        return 1
    if t == "sig_round":
        return n + 1 + (d if task.repr == "float" else 0) + 1
    if t == "to_sci":
        return 1 + 1 + (n + d) + 2 + 1
    return n + 1 + n + 2  # from_sci: up to n digits shifted by up to n places
