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
    >>> spec = NumeracySpec(task="max", repr="float", n_digits=1, decimals=2)
    >>> p = NumeracyProblems.from_strings(spec, [("9.11", "9.9")])
    >>> render_numeracy(p).texts[0], answers(p)[0]
    ('max(9.11,9.9)=9.9;', '9.9')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from arithlens._records import FamilyRecord
from arithlens.errors import ArithlensError, check_choice, check_float, check_int
from arithlens.tasks.formats import Rendered
from arithlens.tasks.protocol import capabilities_of

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
class NumeracySpec(FamilyRecord):
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

    @property
    def fixed_layout(self) -> bool:
        """Numbers differ in length, so roles move between problems."""
        return False

    @property
    def capabilities(self) -> frozenset[str]:
        """What numeracy supports (:data:`~arithlens.tasks.protocol.CAPABILITIES`)."""
        return capabilities_of(self.family)

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

    def answer_digit(self, k: str | int) -> int:
        """Index ``k`` of an answer character (0 = the first written), checked."""
        if (
            isinstance(k, bool)
            or not isinstance(k, (int, np.integer))
            or not 0 <= k < self.answer_width
        ):
            raise ArithlensError(
                f"answer character {k!r} is out of range: {self.name} answers have up to "
                f"{self.answer_width} characters"
            )
        return int(k)

    def text_length(self, hint: bool = False) -> int:
        """Longest text of the task."""
        return max_prompt_chars(self) + self.answer_width + 1


# ---------------------------------------------------------------- exact values and writing


def write_decimal(x: Decimal) -> str:
    """A decimal's canonical text: no exponent, no trailing zeros after the point, no
    trailing point, ``-`` for negatives, ``0`` for zero.

    Example:
        >>> write_decimal(Decimal("12.300")), write_decimal(Decimal("1.2E+3")), write_decimal(Decimal("-0.0"))
        ('12.3', '1200', '0')
    """
    if x == 0:
        return "0"
    sign, digits, exp = x.normalize().as_tuple()
    s = "".join(map(str, digits))
    assert isinstance(exp, int)
    if exp >= 0:
        s = s + "0" * exp
    else:
        s = s.rjust(-exp + 1, "0")
        s = s[:exp] + "." + s[exp:]
    return ("-" if sign else "") + s


def write_fraction(x: Fraction) -> str:
    """``p/q`` reduced, the sign on the numerator (``-1/6``), ``3/1`` for integers."""
    return f"{x.numerator}/{x.denominator}"


def write_sci(x: Decimal) -> str:
    """Scientific notation: mantissa ``d`` or ``d.ddd`` (no trailing zeros), ``e``, exponent.

    Example:
        >>> write_sci(Decimal("12300")), write_sci(Decimal("0.05")), write_sci(Decimal("7"))
        ('1.23e4', '5e-2', '7e0')
    """
    if x == 0:
        return "0e0"
    sign, digits, exp = x.normalize().as_tuple()
    assert isinstance(exp, int)
    e = exp + len(digits) - 1
    mant = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    return ("-" if sign else "") + f"{mant}e{e}"


def value(text: str) -> Fraction:
    """The exact value of a number written in any representation (``12``, ``9.11``, ``3/7``,
    ``1.23e4``)."""
    try:
        if "/" in text:
            p, q = text.split("/")
            return Fraction(int(p), int(q))
        return Fraction(Decimal(text))
    except (ValueError, ArithmeticError):
        raise ArithlensError(f"number {text!r} is not an int, float, fraction or sci") from None


def _dec(x: Fraction) -> Decimal:
    """A fraction with a finite decimal expansion as a Decimal (exact)."""
    with localcontext() as ctx:
        ctx.prec = 60
        d = Decimal(x.numerator) / Decimal(x.denominator)
    if Fraction(d) != x:
        raise ArithlensError(f"{x} has no finite decimal expansion")
    return d


def round_sig(x: Decimal, k: int) -> Decimal:
    """``x`` rounded to ``k`` significant digits, half up (schoolbook rounding).

    Example:
        >>> write_decimal(round_sig(Decimal("12345"), 2)), write_decimal(round_sig(Decimal("0.04567"), 2))
        ('12000', '0.046')
    """
    if x == 0:
        return x
    e = x.adjusted() - k + 1
    return x.quantize(Decimal(1).scaleb(e), rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- problems


@dataclass(frozen=True, eq=False)
class NumeracyProblems:
    """A batch of numeracy problems.

    Attributes:
        task: the task.
        operands: per problem, the operands' exact texts (the number(s), then the place,
            digit or significant-figure count where the task has one).
    """

    task: NumeracySpec
    operands: list[tuple[str, ...]]

    def __post_init__(self) -> None:
        arity = _ARITY.get(self.task.task, 2)
        bad = [o for o in self.operands if len(o) != arity]
        if bad:
            raise ArithlensError(
                f"problem {bad[0]!r} has {len(bad[0])} operands: {self.task.task} takes {arity}"
            )

    @classmethod
    def from_strings(
        cls, task: NumeracySpec, operands: Iterable[Iterable[str]]
    ) -> NumeracyProblems:
        """Build from operand texts; each number is checked against the task's repr and size."""
        rows = [tuple(str(x) for x in o) for o in operands]
        out = cls(task, rows)
        for row in rows:
            for i, text in enumerate(row):
                _check_operand(task, i, text, row)
        return out

    def __len__(self) -> int:
        return len(self.operands)

    def __getitem__(self, idx: int | slice | np.ndarray) -> NumeracyProblems:
        if isinstance(idx, (int, np.integer)):
            idx = slice(int(idx), int(idx) + 1)
        if isinstance(idx, slice):
            return NumeracyProblems(self.task, self.operands[idx])
        return NumeracyProblems(self.task, [self.operands[int(i)] for i in np.asarray(idx)])

    def to_record(self) -> dict:
        """JSON-ready: the task and the operands (inverse: ``tasks.problems_from_record``)."""
        return {"task": self.task.to_dict(), "operands": [list(o) for o in self.operands]}

    @classmethod
    def from_record(cls, task: NumeracySpec, d: dict) -> NumeracyProblems:
        """Problems of ``task`` from :meth:`to_record`'s operands."""
        return cls(task, [tuple(o) for o in d["operands"]])

    def keys(self) -> np.ndarray:
        """One hashable key per problem."""
        return np.array([",".join(o) for o in self.operands], dtype=object)

    @staticmethod
    def concat(parts: list[NumeracyProblems]) -> NumeracyProblems:
        if not parts or any(p.task != parts[0].task for p in parts):
            raise ArithlensError("cannot concatenate: expected batches of one numeracy task")
        return NumeracyProblems(parts[0].task, [o for p in parts for o in p.operands])


def _is_number(task: NumeracySpec, i: int) -> bool:
    """Whether operand ``i`` is a number in the task's repr (else a small integer argument)."""
    return i == 0 or task.task not in _ARITY or _ARITY[task.task] == 1


def _check_operand(task: NumeracySpec, i: int, text: str, row: tuple[str, ...]) -> None:
    n = task.n_digits
    if task.task == "count_letter" and i == 1:
        if not (len(text) == 1 and "a" <= text <= "z"):
            raise ArithlensError(f"argument {text!r} of {row!r} is not one lowercase letter")
        return
    if not _is_number(task, i):
        k = int(text) if text.isdigit() else -1
        hi = {
            "get_digit": len(row[0]) - 1,
            "count": 9,
            "sig_round": len(row[0].replace(".", "").lstrip("0")),
        }
        lo = 1 if task.task == "sig_round" else 0
        if not lo <= k <= max(hi[task.task], lo):
            raise ArithlensError(f"argument {text!r} of {row!r} is out of range for {task.task}")
        return
    r = task.repr
    ok = False
    if r == "int":
        ok = text.isdigit() and len(text) <= n and (text == "0" or text[0] != "0")
    elif r == "float":
        whole, _, frac = text.partition(".")
        ok = (
            whole.isdigit()
            and len(whole) <= n
            and (whole == "0" or whole[0] != "0")
            and frac.isdigit()
            and 1 <= len(frac) <= task.decimals
            and frac[-1] != "0"
        )
    elif r == "frac":
        p, _, q = text.partition("/")
        ok = p.isdigit() and q.isdigit() and len(p) <= n and len(q) <= n and int(q) > 0
    elif r == "word":
        ok = 1 <= len(text) <= n and all("a" <= c <= "z" for c in text)
    elif r == "sci":
        m, _, e = text.partition("e")
        ok = (
            bool(m)
            and m[0] in "123456789"
            and e.lstrip("-").isdigit()
            and write_sci(Decimal(text)) == text
        )
        ok = ok and len(m.replace(".", "")) <= n
    if not ok:
        raise ArithlensError(f"operand {text!r} is not a {r} of task {task.name}")


def _draw_int(rng: np.random.Generator, n: int) -> str:
    length = int(rng.integers(1, n + 1))
    if length == 1:
        return str(int(rng.integers(0, 10)))
    return str(int(rng.integers(1, 10))) + "".join(
        str(int(d)) for d in rng.integers(0, 10, length - 1)
    )


def _draw_float(rng: np.random.Generator, n: int, decimals: int) -> str:
    k = int(rng.integers(1, decimals + 1))
    frac = "".join(str(int(d)) for d in rng.integers(0, 10, k - 1)) + str(int(rng.integers(1, 10)))
    return _draw_int(rng, n) + "." + frac


def _draw_number(task: NumeracySpec, rng: np.random.Generator) -> str:
    n = task.n_digits
    if task.repr == "int":
        return _draw_int(rng, n)
    if task.repr == "float":
        return _draw_float(rng, n, task.decimals)
    if task.repr == "word":
        return "".join(LETTERS[int(i)] for i in rng.integers(0, 26, int(rng.integers(1, n + 1))))
    if task.repr == "frac":
        q = _draw_int(rng, n)
        while q == "0":
            q = _draw_int(rng, n)
        return f"{_draw_int(rng, n)}/{q}"
    mant = Decimal(_draw_int(rng, n))  # sci: an integer mantissa's digits, shifted
    while mant == 0:
        mant = Decimal(_draw_int(rng, n))
    return write_sci(mant.scaleb(int(rng.integers(0, n + 1)) - len(str(mant)) + 1))


def sample_numeracy(
    task: NumeracySpec, n: int, seed: int | np.random.Generator = 0
) -> NumeracyProblems:
    """``n`` problems. Numbers: each length uniform on 1..n_digits, then digits uniform (no
    leading zero; floats' decimal count uniform on 1..decimals, the last non-zero; fractions:
    numerator and denominator drawn alike, a zero denominator redrawn). Divisors of floordiv / mod are
    >= 1; get_digit's place is uniform over the number's places; count's digit is one of the
    number's digits half the time, else uniform on 0-9; sig_round's count is uniform on
    1..the number's significant digits; to_sci redraws zero (it has no normalized mantissa);
    max / min with ``task.close``: that share of problems pairs the first number with a close
    one (equal up to a uniformly drawn digit, then uniform; which of the two comes first is a
    coin flip).

    Example:
        >>> sample_numeracy(NumeracySpec(task="count", n_digits=5), 2, seed=0).operands
        [('65230', '0'), ('6', '9')]
    """
    check_int("n", n, minimum=0)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows: list[tuple[str, ...]] = []
    for _ in range(n):
        x = _draw_number(task, rng)
        t = task.task
        while t == "to_sci" and value(x) == 0:  # zero has no normalized mantissa
            x = _draw_number(task, rng)
        if t in ("floordiv", "mod"):
            y = _draw_int(rng, task.n_digits)
            while y == "0":
                y = _draw_int(rng, task.n_digits)
            rows.append((x, y))
        elif t == "get_digit":
            rows.append((x, str(int(rng.integers(0, len(x))))))
        elif t in ("count", "count_letter"):
            letter = t == "count_letter"
            other = LETTERS[int(rng.integers(0, 26))] if letter else str(int(rng.integers(0, 10)))
            rows.append((x, x[int(rng.integers(0, len(x)))] if rng.random() < 0.5 else other))
        elif t == "sig_round":
            sig = len(x.replace(".", "").lstrip("0")) or 1
            rows.append((x, str(int(rng.integers(1, sig + 1)))))
        elif t in ("length", "to_sci", "from_sci"):
            rows.append((x,))
        elif task.close and rng.random() < task.close:
            y = _close_to(x, task, rng)
            rows.append((x, y) if rng.random() < 0.5 else (y, x))
        else:
            rows.append((x, _draw_number(task, rng)))
    return NumeracyProblems(task, rows)


def _close_to(x: str, task: NumeracySpec, rng: np.random.Generator) -> str:
    """A number equal to ``x`` up to a digit index drawn uniformly among ``x``'s digits and
    different there; after it, the rest of a number of the task drawn uniformly (the integer
    part keeps ``x``'s length; a float's decimal count is uniform among those that reach past
    the differing digit; no leading zero, the last decimal non-zero)."""
    whole, _, frac = x.partition(".")
    digits = [i for i, c in enumerate(x) if c != "."]
    p = digits[int(rng.integers(0, len(digits)))]

    def pick(options: str) -> str:
        return options[int(rng.integers(0, len(options)))]

    if p < len(whole):  # differ in the integer part
        lead = "123456789" if p == 0 and len(whole) > 1 else "0123456789"
        out = whole[:p] + pick(lead.replace(whole[p], ""))
        out += "".join(pick("0123456789") for _ in range(len(whole) - p - 1))
        if task.repr == "float":
            k = int(rng.integers(1, task.decimals + 1))
            out += "." + "".join(pick("0123456789") for _ in range(k - 1)) + pick("123456789")
        return out
    j = p - len(whole) - 1  # differ at decimal j
    k = int(rng.integers(j + 1, task.decimals + 1))  # the new decimal count
    last = "123456789" if k == j + 1 else "0123456789"
    out = whole + "." + frac[:j] + pick(last.replace(frac[j], ""))
    if k > j + 1:
        out += "".join(pick("0123456789") for _ in range(k - j - 2)) + pick("123456789")
    return out


# ---------------------------------------------------------------- ground truth


def answer(task: NumeracySpec, operands: tuple[str, ...]) -> str:
    """The exact answer text of one problem.

    Example:
        >>> answer(NumeracySpec(task="sub", repr="frac"), ("1/3", "1/2"))
        '-1/6'
    """
    t = task.task
    x = operands[0]
    if t in ("add", "sub"):
        a, b = value(x), value(operands[1])
        r = a + b if t == "add" else a - b
        return write_fraction(r) if task.repr == "frac" else write_decimal(_dec(r))
    if t == "floordiv":
        return str(int(x) // int(operands[1]))
    if t == "mod":
        return str(int(x) % int(operands[1]))
    if t in ("max", "min"):
        a, b = value(x), value(operands[1])
        pick = (a >= b) if t == "max" else (a <= b)
        return x if pick else operands[1]
    if t == "get_digit":
        return x[len(x) - 1 - int(operands[1])]
    if t == "length":
        return str(len(x))
    if t in ("count", "count_letter"):
        return str(x.count(operands[1]))
    if t == "sig_round":
        return write_decimal(round_sig(Decimal(x), int(operands[1])))
    if t == "to_sci":
        return write_sci(Decimal(x))
    return write_decimal(Decimal(x))  # from_sci


def answers(problems: NumeracyProblems) -> list[str]:
    """Every problem's answer text."""
    return [answer(problems.task, o) for o in problems.operands]


def prompt(task: NumeracySpec, operands: tuple[str, ...]) -> str:
    """The prompt, ``=`` included."""
    if task.task in _INFIX:
        return operands[0] + _INFIX[task.task] + operands[1] + "="
    return f"{_FUNCTIONS[task.task]}({','.join(written_order(task, operands))})="


def written_order(task: NumeracySpec, operands: tuple[str, ...]) -> tuple[str, ...]:
    """The operands in the order the prompt writes them: counting names the digit (letter)
    first, as "how many r's in strawberry" does, so that a running count can be kept causally
    while the number is read."""
    return operands[::-1] if task.task in _QUERY_FIRST else operands


def number_start(task: NumeracySpec, operands: tuple[str, ...]) -> int:
    """Position of the first number's first character in the prompt."""
    if task.task in _INFIX:
        return 0
    before = written_order(task, operands)
    i = len(before) - 1 if task.task in _QUERY_FIRST else 0  # the number is written last
    return len(_FUNCTIONS[task.task]) + 1 + sum(len(x) + 1 for x in before[:i])


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


# ---------------------------------------------------------------- labels for interpretability


def comparison_labels(problems: NumeracyProblems) -> dict[str, np.ndarray]:
    """For max / min: ``place`` of the first differing digit, aligned at the point (0 = units,
    -1 = tenths, ...; the units of a longer integer part when the lengths differ; a large
    negative number when the values are equal), and ``winner``: 0 when ``a`` is larger, 1 when
    ``b`` is, 2 when equal.

    Example:
        >>> p = NumeracyProblems.from_strings(NumeracySpec(task="max", repr="float", n_digits=2), [("9.11", "9.9"), ("12.5", "9.75")])
        >>> {k: v.tolist() for k, v in comparison_labels(p).items()}
        {'place': [-1, 1], 'winner': [1, 0]}
    """
    if problems.task.task not in ("max", "min"):
        raise ArithlensError(f"comparison labels are for max / min, not {problems.task.task}")
    place, winner = [], []
    for a, b in problems.operands:
        va, vb = value(a), value(b)
        winner.append(0 if va > vb else 1 if vb > va else 2)
        place.append(deciding_place(a, b))
    return {"place": np.array(place), "winner": np.array(winner)}


def deciding_place(a: str, b: str) -> int:
    """The place of the first digit where ``a`` and ``b`` differ, aligned at the point (0 =
    units, -1 = tenths; the leading place of the longer integer part when their integer parts
    differ in length; ``-10**6`` when the values are equal).

    Example:
        >>> deciding_place("9.11", "9.9"), deciding_place("12.5", "9.75")
        (-1, 1)
    """
    (ai, _, af), (bi, _, bf) = a.partition("."), b.partition(".")
    if len(ai) != len(bi):
        return max(len(ai), len(bi)) - 1
    width = max(len(af), len(bf))
    da, db = ai + af.ljust(width, "0"), bi + bf.ljust(width, "0")
    first = next((i for i, (x, y) in enumerate(zip(da, db)) if x != y), None)
    return -(10**6) if first is None else len(ai) - 1 - first


def running_count(problems: NumeracyProblems) -> list[list[int]]:
    """For count and count_letter: after each character of the number (word), how many times
    the digit (letter) has occurred so far (the probe target at each position)."""
    if problems.task.task not in ("count", "count_letter"):
        raise ArithlensError(f"running counts are for count, not {problems.task.task}")
    return [np.cumsum([c == d for c in x]).tolist() for x, d in problems.operands]


def point_labels(problems: NumeracyProblems) -> dict[str, np.ndarray]:
    """For float add / sub: each operand's decimal count and ``carry``: whether the column
    after the point carries (add) or borrows (sub) into the units, computed exactly.

    Example:
        >>> p = NumeracyProblems.from_strings(NumeracySpec(task="add", repr="float"), [("1.75", "2.5"), ("1.2", "3.3")])
        >>> point_labels(p)["carry"].tolist()
        [True, False]
    """
    if problems.task.task not in ("add", "sub") or problems.task.repr != "float":
        raise ArithlensError("decimal-point labels are for float add / sub")
    da, db, carry = [], [], []
    for a, b in problems.operands:
        fa, fb = a.partition(".")[2], b.partition(".")[2]
        da.append(len(fa))
        db.append(len(fb))
        x, y = value("0." + fa), value("0." + fb)
        carry.append(x + y >= 1 if problems.task.task == "add" else x < y)
    return {"decimals_a": np.array(da), "decimals_b": np.array(db), "carry": np.array(carry)}


def labels(problems: NumeracyProblems) -> dict[str, np.ndarray]:
    """Every per-problem label of the task (probe targets): ``answer`` (the first answer
    character) for all; max / min: ``winner``, ``place`` (:func:`comparison_labels`); float
    add / sub: ``carry`` (:func:`point_labels`); get_digit: ``place`` (the queried place);
    count / count_letter: ``count``.

    Example:
        >>> p = NumeracyProblems.from_strings(NumeracySpec(task="count"), [("121", "1")])
        >>> {k: v.tolist() for k, v in labels(p).items()}
        {'answer': ['2'], 'count': [2]}
    """
    t = problems.task
    out: dict[str, np.ndarray] = {"answer": np.array([a[0] for a in answers(problems)])}
    if t.task in ("max", "min"):
        out.update(comparison_labels(problems))
    elif t.task in ("add", "sub") and t.repr == "float":
        out["carry"] = point_labels(problems)["carry"]
    elif t.task == "get_digit":
        out["place"] = np.array([int(o[1]) for o in problems.operands])
    elif t.task in ("count", "count_letter"):
        out["count"] = np.array([x.count(q) for x, q in problems.operands])
    return out


# ---------------------------------------------------------------- texts


def render_numeracy(problems: NumeracyProblems) -> Rendered:
    """``prompt=answer;`` texts. ``answer_pos[:, k]``: answer character k (0 = the first
    written); -1 past the answer. ``operand_pos[:, 0, k]``: character k of the first number."""
    task = problems.task
    n, width = len(problems), task.answer_width
    answer_pos = np.full((n, width), -1, dtype=np.int64)
    operand_pos = np.full((n, 1, max_prompt_chars(task)), -1, dtype=np.int64)
    texts, prompt_len = [], np.zeros(n, dtype=np.int64)
    for r, ops in enumerate(problems.operands):
        p, a = prompt(task, ops), answer(task, ops)
        start = number_start(task, ops)
        operand_pos[r, 0, : len(ops[0])] = start + np.arange(len(ops[0]))
        answer_pos[r, : len(a)] = len(p) + np.arange(len(a))
        texts.append(p + a + END)
        prompt_len[r] = len(p)
    return Rendered(texts, prompt_len, answer_pos, operand_pos)


__all__ = [
    "NUMERACY_TASKS",
    "NUMERACY_VOCAB",
    "REPRS",
    "SUPPORTED",
    "NumeracyProblems",
    "NumeracySpec",
    "answer",
    "answers",
    "comparison_labels",
    "deciding_place",
    "labels",
    "number_start",
    "point_labels",
    "render_numeracy",
    "round_sig",
    "running_count",
    "sample_numeracy",
    "value",
    "write_decimal",
    "write_fraction",
    "write_sci",
    "written_order",
]
