"""Answer formats: how a problem becomes text, and where each answer digit sits in it.

- ``plain``:      ``123+456=0579.``  (answer most significant digit first)
- ``reversed``:   ``123+456=9750.``  (least significant first; Lee et al. 2023)
- ``scratchpad``: ``123+456=A9C0,A7C0,A5C0,A0C0,>0579.`` (per column: the answer digit ``A``
  and the carry out ``C``, least significant column first; then ``>`` and the plain answer;
  Lee et al.'s simplified scratchpad)
- ``random_spaces``: ``1 23+4 5 6=9750.`` (Shen et al. 2023: a space after each operand digit
  but the last with probability 1/2, drawn from the problem itself so a problem always reads
  the same; answer reversed)
- ``index_hints``: ``c1b2a3+c4b5a6=a9b7c5d0.`` (Zhou et al. 2023; Shen et al. 2023: every digit
  preceded by the letter of its place, ``a`` for the units; answer reversed)

Every text ends with ``.`` (end of answer). Signed subtraction puts ``+`` or ``-`` first in the
answer. Each format records the character index of every answer digit, so later code asks
for "answer digit k" by name and never counts characters.

Example:
    >>> from arithlens.tasks import Problems, TaskSpec
    >>> r = render(Problems.from_ints(TaskSpec(op="add", n_digits=3), [(123, 456)]))
    >>> r.texts[0], int(r.prompt_len[0]), r.answer_pos[0].tolist()
    ('123+456=9750.', 8, [8, 9, 10, 11])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from arithlens.errors import ArithlensError
from arithlens.tasks.arithmetic.labels import columns
from arithlens.tasks.arithmetic.ops import SYMBOLS, ColumnResult
from arithlens.tasks.arithmetic.problems import Problems
from arithlens.tasks.arithmetic.spec import HINTS, TaskSpec
from arithlens.tasks.common import END, Rendered
from arithlens.tasks.protocol import TaskFamily


def _operand(
    task: TaskSpec, digits: np.ndarray, rng: np.random.Generator | None
) -> tuple[str, list[int]]:
    """An operand's text (most significant digit first) and the index of its digit of each
    place (0 = units) in it."""
    s = "".join(str(d) for d in digits[::-1])
    s = s if task.pad else (s.lstrip("0") or "0")
    if task.format == "index_hints":
        n = len(s)
        return "".join(HINTS[n - 1 - i] + c for i, c in enumerate(s)), [
            2 * (n - 1 - k) + 1 for k in range(n)
        ]
    if task.format == "random_spaces" and rng is not None:
        gaps = rng.random(len(s) - 1) < 0.5 if len(s) > 1 else np.zeros(0, dtype=bool)
        text, pos = "", []
        for i, c in enumerate(s):
            pos.append(len(text))
            text += c + (" " if i < len(s) - 1 and gaps[i] else "")
        return text, pos[::-1]
    return s, [len(s) - 1 - k for k in range(len(s))]


def _spaces_rng(a: np.ndarray, b: np.ndarray) -> np.random.Generator:
    """The random spaces of a problem are a function of the problem (the same text each time
    it is rendered, on any machine)."""
    digest = hashlib.blake2b(a.tobytes() + b"|" + b.tobytes(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def _shown_digits(task: TaskSpec, digits: np.ndarray) -> int:
    """How many answer digits are written (all when padded, else without leading zeros)."""
    if task.pad:
        return len(digits)
    nz = np.nonzero(digits)[0]
    return int(nz[-1]) + 1 if len(nz) else 1


def _sign(task: TaskSpec, negative: bool) -> str:
    return ("-" if negative else "+") if task.signed else ""


# A format writer gets the prompt length and one row of column arithmetic and returns the
# completion text and the completion-relative index of each written answer digit.
Writer = Callable[[TaskSpec, int, np.ndarray, np.ndarray, bool], tuple[str, list[int]]]


def _plain(
    task: TaskSpec, m: int, digits: np.ndarray, carry: np.ndarray, neg: bool
) -> tuple[str, list[int]]:
    sign = _sign(task, neg)
    text = sign + "".join(str(d) for d in digits[:m][::-1])
    return text, [len(sign) + m - 1 - k for k in range(m)]


def _reversed(
    task: TaskSpec, m: int, digits: np.ndarray, carry: np.ndarray, neg: bool
) -> tuple[str, list[int]]:
    sign = _sign(task, neg)
    return sign + "".join(str(d) for d in digits[:m]), [len(sign) + k for k in range(m)]


def _scratchpad(
    task: TaskSpec, m: int, digits: np.ndarray, carry: np.ndarray, neg: bool
) -> tuple[str, list[int]]:
    carry_out = list(carry[1:]) + [0]
    steps = "".join(f"A{digits[k]}C{carry_out[k]}," for k in range(m)) + ">"
    final, pos = _plain(task, m, digits, carry, neg)
    return steps + final, [len(steps) + p for p in pos]


def _hinted(
    task: TaskSpec, m: int, digits: np.ndarray, carry: np.ndarray, neg: bool
) -> tuple[str, list[int]]:
    sign = _sign(task, neg)
    text = sign + "".join(HINTS[k] + str(digits[k]) for k in range(m))
    return text, [len(sign) + 2 * k + 1 for k in range(m)]


FORMATS: dict[str, Writer] = {
    "plain": _plain,
    "reversed": _reversed,
    "scratchpad": _scratchpad,
    "random_spaces": _reversed,
    "index_hints": _hinted,
}


def render(problems: Problems, col: ColumnResult | None = None) -> Rendered:
    """Write every problem of the batch in its task's format."""
    task = problems.task
    col = columns(problems) if col is None else col
    writer = FORMATS[task.format]
    texts, prompt_len = [], []
    answer_pos = np.full((len(problems), task.answer_width), -1, dtype=np.int64)
    operand_pos = np.full((len(problems), 2, task.n_digits), -1, dtype=np.int64)
    sym = SYMBOLS[task.op]
    spaced = task.format == "random_spaces"
    for i in range(len(problems)):
        rng = _spaces_rng(problems.a[i], problems.b[i]) if spaced else None
        (a, a_pos), (b, b_pos) = (_operand(task, x[i], rng) for x in (problems.a, problems.b))
        prompt = a + sym + b + "="
        operand_pos[i, 0, : len(a_pos)] = a_pos
        operand_pos[i, 1, : len(b_pos)] = len(a) + len(sym) + np.asarray(b_pos)
        m = _shown_digits(task, col.digits[i])
        completion, pos = writer(task, m, col.digits[i], col.carry_in[i], bool(col.negative[i]))
        texts.append(prompt + completion + END)
        prompt_len.append(len(prompt))
        answer_pos[i, :m] = len(prompt) + np.asarray(pos)
    return Rendered(texts, np.asarray(prompt_len, dtype=np.int64), answer_pos, operand_pos)


def max_length(task: TaskFamily) -> int:
    """Longest text any problem of ``task`` can render to (for the model's context size); for
    a sorting task, its sort text (hint texts are longer: ``SortSpec.text_length(hint=True)``)."""
    return task.text_length()


def fixed_layout(task: TaskFamily) -> bool:
    """Whether every problem of ``task`` puts each role at the same position (padded
    arithmetic without random spaces; see ``TaskFamily.fixed_layout``)."""
    return task.fixed_layout


def position_labels(task: TaskSpec) -> list[str]:
    """One label per token position of a padded task: ``"<pos>:<role>"``.

    Roles: ``a<k>`` / ``b<k>`` operand digit of place k (0 = units), ``c<k>`` answer digit of
    place k, ``h<k>`` the index hint of place k, the symbol itself for ``+ - * = .`` and
    scratchpad markers, ``s`` for scratchpad step digits.

    Example:
        >>> position_labels(TaskSpec(op="add", n_digits=2))
        ['0:a1', '1:a0', '2:+', '3:b1', '4:b0', '5:=', '6:c0', '7:c1', '8:c2', '9:.']
    """
    if not fixed_layout(task):
        why = "unpadded" if not task.pad else "written with random spaces"
        raise ArithlensError(
            f"task {task.name} is {why}: positions differ between problems, so they have no "
            "common labels; use pad=True (and another format)"
        )
    r = render(Problems.from_ints(task, [(0, 0)]))
    roles = [
        "s" if ch.isdigit() else f"h{HINTS.index(ch)}" if ch in HINTS else ch for ch in r.texts[0]
    ]
    for j, name in enumerate("ab"):
        for k, p in enumerate(r.operand_pos[0, j]):
            roles[int(p)] = f"{name}{k}"
    for k, p in enumerate(r.answer_pos[0]):
        roles[int(p)] = f"c{k}"
    return [f"{i}:{role}" for i, role in enumerate(roles)]


def parse_answer(task: TaskSpec, completion: str) -> list[int]:
    """Answer digits (least significant first) written in ``completion``; [] if unreadable."""
    text = completion.split(">")[-1] if task.format == "scratchpad" else completion
    if task.signed:
        text = text[1:]
    if task.format == "index_hints":  # a0b1c2: the letters mark places, the digits answer
        text = text[1::2] if text[::2] == HINTS[: len(text[::2])] else ""
    if not text.isdigit():
        return []
    digits = [int(c) for c in text]
    return digits if task.answer_reversed else digits[::-1]
