"""Sub-tasks tested by strong interventions (Quirke & Barez's ``SubTaskBase``): a sub-task of
answer digit n names the nodes it may live in and a pair of questions — *store* and *clean* —
with the answer expected when a node's activation is taken from the store question into the
clean one. A node does the sub-task when that intervention gives the expected answer (every
answer token, teacher-forced on the expected answer) on at least ``threshold`` of the pairs.

Built in, for addition (digit n = the answer digit n places from the units, 0 = units):

- ``BA`` (base add): store and clean differ only in column n, neither makes a carry anywhere;
  expected: the clean answer with digit n from the store question (its column sum).
- ``MC`` (make carry, into digit n + 1 from column n): the store question's column n makes a
  carry, the clean one's does not, no other column carries in either (Quirke's example: store
  ``222222+666966``, clean ``333333+555555``); expected: the clean answer + 10^(n + 1).
- ``MS`` (make sum 9, column n >= 1): in both questions column n - 1 makes a carry; the store's
  column n sums to 9 (so the carry cascades on), the clean's to at most 7 (so it stops there);
  nothing else carries; expected: the clean answer + 10^(n + 1) (the cascade reaches digit
  n + 1).
- ``US`` (use sum 9, the cascade, column n >= 1): in both questions column n sums to 9; the
  store's column n - 1 makes a carry (so a carry cascades through column n into digit n + 1),
  the clean's does not; nothing else carries; expected: the clean answer + 10^(n + 1). A node
  that only makes a carry from column n (MC) or only sees the 9 (MS) cannot pass: column n is
  the same sum in both questions.
- ``UC`` (use carry, column n >= 1): a carry comes out of column n into digit n + 1 in the
  store question, made there (column n sums to 10 or more) in half the pairs and cascaded
  (column n sums to 9, column n - 1 carries) in the other half; the clean question never
  carries; expected: the clean answer + 10^(n + 1). A node passes when it holds "a carry
  arrives" whatever made it: MC-only or US-only nodes fail half the pairs.

Example:
    >>> res = search(model, "MC", 1, candidates, n=100)             # doctest: +SKIP
    >>> res["nodes"], res["success"]                                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import torch
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses.mechanism.nodes import Node
from arithlens.errors import ArithlensError
from arithlens.models import sites
from arithlens.models.contract import encoder_of, task_of
from arithlens.tasks.arithmetic.problems import Problems


@dataclass(frozen=True)
class SubTask:
    """A sub-task of one answer digit.

    Attributes:
        code: ``BA``, ``MC``, ``MS``, ``US`` or ``UC``; name: in words.
        op: the operation it belongs to.
        digit_offset: which answer digit its node predicts, relative to n (MC: n + 1).
        min_digit: the lowest column it is defined for (MS needs a column below it).
        make: ``(rng, n_digits, digit, count) -> (store a, store b, clean a, clean b,
            expected)`` digit arrays (least significant first) and expected answer ints.
    """

    code: str
    name: str
    op: str
    digit_offset: int
    make: Callable[..., tuple]
    min_digit: int = 0


def _no_carry_operands(rng: np.random.Generator, n_digits: int, count: int) -> tuple:
    """Operands whose every column sums to at most 8 (no carry, no sum 9)."""
    a = rng.integers(0, 9, size=(count, n_digits))
    b = np.array([[rng.integers(0, 9 - x) for x in row] for row in a])
    return a, b


def _make_ba(rng: np.random.Generator, n_digits: int, digit: int, count: int) -> tuple:
    ca, cb = _no_carry_operands(rng, n_digits, count)
    sa, sb = ca.copy(), cb.copy()
    for i in range(count):
        while (sa[i, digit], sb[i, digit]) == (ca[i, digit], cb[i, digit]) or (
            sa[i, digit] + sb[i, digit] == ca[i, digit] + cb[i, digit]
        ):
            sa[i, digit] = rng.integers(0, 9)
            sb[i, digit] = rng.integers(0, 9 - sa[i, digit])
    place = 10**digit
    expected = _value(ca) + _value(cb) + place * ((sa + sb)[:, digit] - (ca + cb)[:, digit])
    return sa, sb, ca, cb, expected


def _make_mc(rng: np.random.Generator, n_digits: int, digit: int, count: int) -> tuple:
    ca, cb = _no_carry_operands(rng, n_digits, count)
    sa, sb = _no_carry_operands(rng, n_digits, count)
    for i in range(count):
        sa[i, digit] = rng.integers(1, 10)
        sb[i, digit] = rng.integers(10 - sa[i, digit], 10)  # column sum >= 10: a carry
        if digit + 1 < n_digits:  # the store's next column must not pass it on as a cascade
            sa[i, digit + 1] = rng.integers(0, 9)
            sb[i, digit + 1] = rng.integers(0, 9 - sa[i, digit + 1])
    expected = _value(ca) + _value(cb) + 10 ** (digit + 1)
    return sa, sb, ca, cb, expected


def _two_sets(rng: np.random.Generator, n_digits: int, digit: int, count: int, code: str) -> tuple:
    """Clean and store operands without carries, for a sub-task that needs column n - 1."""
    if digit < 1:
        raise ArithlensError(f"sub-task {code} needs a column below it: expected digit >= 1")
    return (*_no_carry_operands(rng, n_digits, count), *_no_carry_operands(rng, n_digits, count))


def _make_ms(rng: np.random.Generator, n_digits: int, digit: int, count: int) -> tuple:
    ca, cb, sa, sb = _two_sets(rng, n_digits, digit, count, "MS")
    for a, b, top in ((ca, cb, 7), (sa, sb, 9)):
        for i in range(count):
            a[i, digit - 1] = rng.integers(1, 10)
            b[i, digit - 1] = rng.integers(10 - a[i, digit - 1], 10)  # column n - 1 carries
            a[i, digit] = rng.integers(0, top + 1)
            b[i, digit] = 9 - a[i, digit] if top == 9 else rng.integers(0, top - a[i, digit] + 1)
    expected = _value(ca) + _value(cb) + 10 ** (digit + 1)
    return sa, sb, ca, cb, expected


def _carry_into(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, col: int, i: int) -> None:
    """Column ``col`` of problem ``i`` sums to 10 or more."""
    a[i, col] = rng.integers(1, 10)
    b[i, col] = rng.integers(10 - a[i, col], 10)


def _make_us(rng: np.random.Generator, n_digits: int, digit: int, count: int) -> tuple:
    ca, cb, sa, sb = _two_sets(rng, n_digits, digit, count, "US")
    for i in range(count):
        _carry_into(rng, sa, sb, digit - 1, i)  # only the store's column n - 1 carries
        for a, b in ((ca, cb), (sa, sb)):
            a[i, digit] = rng.integers(0, 10)
            b[i, digit] = 9 - a[i, digit]
    expected = _value(ca) + _value(cb) + 10 ** (digit + 1)
    return sa, sb, ca, cb, expected


def _make_uc(rng: np.random.Generator, n_digits: int, digit: int, count: int) -> tuple:
    ca, cb, sa, sb = _two_sets(rng, n_digits, digit, count, "UC")
    for i in range(count):
        if i % 2 == 0:  # made in column n
            _carry_into(rng, sa, sb, digit, i)
        else:  # cascaded: column n - 1 carries, column n sums to 9
            _carry_into(rng, sa, sb, digit - 1, i)
            sa[i, digit] = rng.integers(0, 10)
            sb[i, digit] = 9 - sa[i, digit]
    expected = _value(ca) + _value(cb) + 10 ** (digit + 1)
    return sa, sb, ca, cb, expected


def _value(digits: np.ndarray) -> np.ndarray:
    return (digits * (10 ** np.arange(digits.shape[1]))).sum(1)


SUBTASKS = {
    "BA": SubTask("BA", "base add", "add", 0, _make_ba),
    "MC": SubTask("MC", "make carry", "add", 1, _make_mc),
    "MS": SubTask("MS", "make sum 9", "add", 1, _make_ms, min_digit=1),
    "US": SubTask("US", "use sum 9", "add", 1, _make_us, min_digit=1),
    "UC": SubTask("UC", "use carry", "add", 1, _make_uc, min_digit=1),
}


def subtask(code: str, model: TransformerBridge, digit: int) -> SubTask:
    """The built-in sub-task ``code``, checked against ``model``'s task and ``digit``."""
    if code not in SUBTASKS:
        raise ArithlensError(f"sub-task {code!r} is unknown: expected one of {list(SUBTASKS)}")
    st = SUBTASKS[code]
    task = task_of(model)
    if getattr(task, "op", None) != st.op:
        raise ArithlensError(
            f"sub-task {code} ({st.name}) is for op {st.op!r}; the model's task is {task.name}"
        )
    top = task.n_digits - 1
    if not st.min_digit <= digit <= top:
        raise ArithlensError(
            f"digit={digit} is invalid for {code} on {task.name}: expected {st.min_digit}..{top}"
        )
    return st


class Intervention:
    """Store / clean questions of one sub-task and digit, encoded, with the expected answers
    in the clean context; :meth:`success` patches nodes from the store run."""

    def __init__(
        self, model: TransformerBridge, code: str, digit: int, n: int = 100, seed: int = 0
    ) -> None:
        self.model, self.code, self.digit = model, code, digit
        st = subtask(code, model, digit)
        task = task_of(model)
        rng = np.random.default_rng(seed)
        sa, sb, ca, cb, expected = st.make(rng, task.n_digits, digit, n)
        enc = encoder_of(model)
        as_u8 = lambda x: np.asarray(x, dtype=np.uint8)  # noqa: E731
        self.store = enc.encode(Problems(task, as_u8(sa), as_u8(sb)))
        clean = enc.encode(Problems(task, as_u8(ca), as_u8(cb)))
        self.tokens = clean.tokens.clone()
        self.answer_pos = clean.answer_pos
        ids = enc.digit_token_ids()
        if ids is None:
            raise ArithlensError(f"{task.name}: the model's tokenizer has no single digit tokens")
        for k in range(clean.answer_pos.shape[1]):
            pos = clean.answer_pos[:, k]
            want = torch.from_numpy((expected // 10**k) % 10)
            rows = pos >= 0
            self.tokens[rows, pos[rows]] = ids[want[rows]]
        self.digit_name = digit + st.digit_offset
        names = [
            sites.hook(k, layer) for layer in range(model.cfg.n_layers) for k in ("z", "mlp_out")
        ]
        with torch.no_grad():
            _, cache = model.run_with_cache(self.store.tokens, names_filter=lambda x: x in names)
        self.cache = {k: cache[k] for k in names}

    def success(self, nodes: list[Node]) -> float:
        """The share of pairs whose every answer token is the expected one with ``nodes``
        taken from the store run."""
        hooks: sites.Hooks = []
        for node in nodes:
            name = sites.hook("z" if node.is_head else "mlp_out", node.layer)
            src = self.cache[name]

            def hook(act: Tensor, hook: Any = None, node: Node = node, src: Tensor = src):
                act = act.clone()
                if node.is_head:
                    act[:, node.pos, node.head] = src[:, node.pos, node.head]
                else:
                    act[:, node.pos] = src[:, node.pos]
                return act

            hooks.append((name, hook))
        with torch.no_grad():
            logits = self.model.run_with_hooks(self.tokens, fwd_hooks=hooks)
        pos = self.answer_pos
        safe = pos.clamp(min=1)
        pred = torch.gather(logits.argmax(-1), 1, safe - 1)
        right = (pred == torch.gather(self.tokens, 1, safe)) | (pos < 0)
        return float(right.all(1).double().mean())


def search(
    model: TransformerBridge,
    code: str,
    digit: int,
    candidates: list[Node],
    threshold: float = 0.9,
    n: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """Single candidate nodes first, then pairs of the best six, tagged with sub-task ``code``
    of ``digit`` when their intervention succeeds on at least ``threshold`` of ``n`` pairs.
    Returns ``{"nodes": [names or "A+B"], "success": {name: share}}``."""
    if not 0 < threshold <= 1:
        raise ArithlensError(f"threshold={threshold!r} is invalid: expected a number in (0, 1]")
    run = Intervention(model, code, digit, n, seed)
    success = {node.name: run.success([node]) for node in candidates}
    found = [name for name, s in success.items() if s >= threshold]
    if not found:
        best = sorted(candidates, key=lambda x: -success[x.name])[:6]
        for a, b in combinations(best, 2):
            key = f"{a.name}+{b.name}"
            success[key] = run.success([a, b])
            if success[key] >= threshold:
                found.append(key)
    return {"nodes": found, "success": {k: round(v, 4) for k, v in success.items()}}
