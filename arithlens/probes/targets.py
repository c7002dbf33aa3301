"""Probe targets: what a probe should read off the activations, computed from the problems.

A target is a function of the problems (one label per problem) plus its *support*: the operand
digits it depends on, and where it exists the *column statistic* it depends on (the sums
``a_i + b_i`` of its columns for addition, the differences ``a_i - b_i`` for subtraction: a carry
or a sum digit is a function of those alone). These define the Hewitt & Liang control task: each
distinct *type* gets a fixed random label drawn from the target's label distribution, where a
type is a combination of the column statistics (``control_types="sums"``, the default) or of
the support digits (``"digits"``). The control keeps the target's inputs and class balance but
none of its structure, so ``selectivity = accuracy - control accuracy`` says how much of a
probe's accuracy is the representation rather than the probe's capacity to memorize a function
of the inputs. A control can only be learned for types seen in training: with 8000 training
problems of 3-digit addition, 55% of test problems have a hundreds-carry digit type seen in
training and none a thousands-carry one, against 100% and 79% for column-sum types. The share of
test problems whose type was seen in training (the *coverage*) is reported with every control
score, and selectivity is not given where it is below :data:`MIN_COVERAGE`.

Names (``resolve``): ``"carry"`` (carry or borrow into every answer digit above the units),
``"digit_class"`` (Quirke & Barez class of every answer digit), ``"answer"``, ``"a"``, ``"b"``
(every digit), ``"pair_sum"`` (``a_k + b_k``, a scalar fitted with ridge), ``"cascade"`` (S0-S5),
one member such as ``"carry.tens"`` or ``"a.units"``, a :class:`Target`, or any function
``Problems -> (batch,)`` array (a float array is a scalar target).

Example:
    >>> from arithlens.tasks import TaskSpec
    >>> [t.name for t in resolve(TaskSpec(op="add", n_digits=3), "carry")]
    ['carry.tens', 'carry.hundreds', 'carry.thousands']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from arithlens.choices import ControlTypes
from arithlens.errors import ArithlensError
from arithlens.tasks import Problems, TaskSpec, place_name
from arithlens.tasks.arithmetic import labels
from arithlens.tasks.arithmetic.spec import place_index

KINDS = ("class", "scalar")
CONTROL_TYPES = ("sums", "digits")
MIN_COVERAGE = 0.9
"""Selectivity is reported only where at least this share of test problems has a control type
seen in training (below it the control cannot be learned, and the difference measures the
split, not the model)."""
FAMILIES = ("carry", "digit_class", "answer", "a", "b", "pair_sum", "cascade")


@dataclass(frozen=True)
class Target:
    """A named probe target.

    Attributes:
        name: e.g. ``"carry.tens"``.
        fn: ``Problems -> (batch,)`` labels (ints for classes, floats for scalars).
        kind: ``"class"`` (logistic probe) or ``"scalar"`` (ridge probe).
        support: ``Problems -> (batch, m)`` operand digits the target depends on; ``None``
            means all operand digits.
        stats: ``Problems -> (batch, m)`` the column sums (differences for subtraction) the
            target is a function of, where it is one; ``None``: types fall back to the support.
    """

    name: str
    fn: Callable[[Problems], np.ndarray]
    kind: str = "class"
    support: Callable[[Problems], np.ndarray] | None = None
    stats: Callable[[Problems], np.ndarray] | None = None

    def values(self, problems: Problems) -> np.ndarray:
        """Labels ``(batch,)``, checked for shape."""
        v = np.asarray(self.fn(problems))
        if v.shape != (len(problems),):
            raise ArithlensError(
                f"target {self.name!r} returned shape {v.shape}: expected ({len(problems)},), "
                "one label per problem"
            )
        return v

    def key(self, problems: Problems, types: str = "digits") -> np.ndarray:
        """One integer per problem identifying its control-task type: its support digits
        (``types="digits"``) or its column statistics (``"sums"``, where the target has them)."""
        if types == "sums" and self.stats is not None:
            s = self.stats(problems)
        elif self.support:
            s = self.support(problems)
        else:
            s = np.concatenate([problems.a, problems.b], 1)
        return np.unique(np.asarray(s).reshape(len(problems), -1), axis=0, return_inverse=True)[
            1
        ].reshape(-1)


def _columns(lo: int, hi: int) -> Callable[[Problems], np.ndarray]:
    """Support: the digits of both operands in columns ``lo..hi-1`` (clipped to the operands)."""

    def f(p: Problems) -> np.ndarray:
        return np.concatenate([p.a[:, lo:hi], p.b[:, lo:hi]], axis=1)

    return f


def _stats(task: TaskSpec, lo: int, hi: int) -> Callable[[Problems], np.ndarray] | None:
    """Column statistic of columns ``lo..hi-1``: sums for addition, differences for subtraction
    (what carries, borrows and sum digits depend on); None for multiplication."""
    if task.op == "mul":
        return None
    sign = 1 if task.op == "add" else -1

    def f(p: Problems) -> np.ndarray:
        return p.a[:, lo:hi].astype(np.int64) + sign * p.b[:, lo:hi].astype(np.int64)

    return f


def _member(task: TaskSpec, family: str, k: int) -> Target:
    """Member ``k`` (a digit place) of a target family."""
    name = f"{family}.{place_name(k)}"
    col = lambda f: lambda p: f(p)[:, k]  # noqa: E731
    if family == "carry":
        return Target(name, col(labels.carries), "class", _columns(0, k), _stats(task, 0, k))
    if family == "digit_class":
        return Target(
            name, col(labels.digit_class), "class", _columns(0, k + 1), _stats(task, 0, k + 1)
        )
    if family == "answer":
        hi = task.n_digits if task.op == "mul" else k + 1
        return Target(
            name, col(labels.answer_digits), "class", _columns(0, hi), _stats(task, 0, hi)
        )
    if family == "pair_sum":
        return Target(
            name,
            lambda p: (p.a[:, k] + p.b[:, k]).astype(np.float64),
            "scalar",
            _columns(k, k + 1),
            _stats(task, k, k + 1) if task.op == "add" else None,
        )
    # operand digit
    return Target(
        name,
        lambda p: getattr(p, family)[:, k],
        "class",
        lambda p: getattr(p, family)[:, k : k + 1],
    )


def _family_places(task: TaskSpec, family: str) -> range:
    if family in ("a", "b", "pair_sum"):
        return range(task.n_digits)
    if family == "carry":
        return range(1, task.answer_width)  # nothing carries into the units digit
    if family == "digit_class" and task.op == "mul":
        raise ArithlensError("target 'digit_class' is defined for op 'add' and 'sub', not 'mul'")
    return range(task.answer_width)


def _named(task: TaskSpec, name: str) -> list[Target]:
    if name == "cascade":
        labels.max_cascade(task)  # raises for mul
        return [Target("cascade", labels.cascade_class, "class", None)]
    family, _, place = name.partition(".")
    if family not in FAMILIES or family == "cascade":
        raise ArithlensError(
            f"target {name!r} is unknown: expected one of {list(FAMILIES)}, a member such as "
            "'carry.tens' or 'a.units', a Target, or a function of the problems"
        )
    places = _family_places(task, family)
    if not place:
        return [_member(task, family, k) for k in places]
    k = place_index(place)
    if k not in places:
        raise ArithlensError(
            f"target {name!r} is out of range for {task.name}: places "
            f"{[place_name(i) for i in places]} exist"
        )
    return [_member(task, family, k)]


def _from_function(fn: Callable[[Problems], np.ndarray]) -> Target:
    name = getattr(fn, "__name__", "custom")
    return Target("custom" if name == "<lambda>" else name, fn, "class", None)


def resolve(task: TaskSpec, spec: str | Target | Callable | Sequence) -> list[Target]:
    """The list of :class:`Target` named by ``spec`` (a name, Target, function or a list)."""
    if isinstance(spec, Target):
        if spec.kind not in KINDS:
            raise ArithlensError(f"target kind {spec.kind!r} is unknown: expected one of {KINDS}")
        return [spec]
    if isinstance(spec, str):
        return _named(task, spec)
    if callable(spec):
        return [_from_function(spec)]
    if isinstance(spec, Sequence) and len(spec) > 0:
        out = [t for s in spec for t in resolve(task, s)]
        names = [t.name for t in out]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ArithlensError(f"targets {dup} are named twice: give each target once")
        return out
    raise ArithlensError(
        f"target {spec!r} is invalid: expected a name, a Target, a function or a non-empty list"
    )


@dataclass(frozen=True)
class Encoded:
    """Targets evaluated on problems, ready for fitting.

    Attributes:
        names: target names.
        kinds: ``"class"`` or ``"scalar"`` per target.
        y: ``(target, batch)`` float: class codes ``0..C-1``, or the values of scalar targets.
        classes: per target, the original label of each class code (empty for scalars).
        control: ``(target, batch)`` Hewitt & Liang control labels (same coding).
        types: ``(target, batch)`` the control type of each problem.
    """

    names: list[str]
    kinds: list[str]
    y: np.ndarray
    classes: list[list]
    control: np.ndarray
    types: np.ndarray

    def coverage(self, train: slice, test: slice) -> np.ndarray:
        """``(target,)`` share of the ``test`` problems whose control type occurs in ``train``.

        Example:
            >>> e = Encoded([], [], np.zeros((1, 4)), [], np.zeros((1, 4)), np.array([[0, 1, 0, 2]]))
            >>> e.coverage(slice(0, 2), slice(2, 4)).tolist()
            [0.5]
        """
        return np.array([np.isin(t[test], t[train]).mean() for t in self.types])


def encode_targets(
    targets: list[Target],
    problems: Problems,
    *,
    min_per_class: int,
    seed: int,
    control_types: ControlTypes = "sums",
) -> Encoded:
    """Evaluate ``targets`` on ``problems``, code classes, and draw the control labels (one
    random label per control type: see the module docstring).

    Raises :class:`ArithlensError` for a constant target or a class with fewer than
    ``min_per_class`` examples.
    """
    if control_types not in CONTROL_TYPES:
        raise ArithlensError(
            f"control_types={control_types!r} is unknown: expected one of {CONTROL_TYPES}"
        )
    rng = np.random.default_rng(seed)
    ys: list[np.ndarray] = []
    classes: list[list] = []
    controls: list[np.ndarray] = []
    types: list[np.ndarray] = []
    for t in targets:
        v = t.values(problems)
        uniq, codes, counts = np.unique(v, return_inverse=True, return_counts=True)
        if len(uniq) < 2:
            raise ArithlensError(
                f"target {t.name!r} is constant ({uniq[0] if len(uniq) else 'empty'}) on these "
                f"{len(problems)} problems: a probe cannot be fitted; drop it or sample problems "
                "where it varies"
            )
        key = t.key(problems, control_types)
        types.append(key)
        if t.kind == "scalar":
            ys.append(v.astype(np.float64))
            classes.append([])
            controls.append(rng.choice(v, key.max() + 1)[key].astype(np.float64))
            continue
        if counts.min() < min_per_class:
            c = int(np.argmin(counts))
            raise ArithlensError(
                f"target {t.name!r} has {counts[c]} example(s) of class {uniq[c].item()!r}, fewer than "
                f"min_per_class={min_per_class}: use more problems, a balanced sampler, or a "
                "lower min_per_class"
            )
        ys.append(codes.reshape(-1))
        classes.append(uniq.tolist())
        per_key = rng.choice(len(uniq), size=key.max() + 1, p=counts / counts.sum())
        controls.append(per_key[key])
    return Encoded(
        [t.name for t in targets],
        [t.kind for t in targets],
        np.stack(ys).astype(np.float64),
        classes,
        np.stack(controls).astype(np.float64),
        np.stack(types),
    )
