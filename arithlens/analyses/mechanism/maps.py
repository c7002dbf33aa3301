"""Quirke & Barez's map of a model: the positions and the position-resolved nodes it needs, and
what each one does, as tags.

A position is *useful* when mean-ablating every head and MLP output at it makes more than
``min_fail`` of the problems fail; a node at a useful position is useful when ablating it alone
does. Per useful node (tags as in ``quanta_mech_interp``): ``fail`` (the share of problems that
were right and fail), ``impact`` (the answer digits that break, compacted like ``c3..c1``),
``attention`` (for a head: the positions its query at that position attends to with >= 10% of
its mean attention), ``classes`` (the cascade classes S0-S5 of the problems it fails, for
addition and subtraction). *Complement faithfulness*: exact match with every node *not* in the
useful list ablated (a complete map leaves the model working).

Example:
    >>> m = mechanism_map(al.load("add3-2L"), n=2000)              # doctest: +SKIP
    >>> m.to_frame().head(); m.complement_exact                    # doctest: +SKIP
    >>> print(m.document())                                        # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens._plotting import draw
from arithlens._saving import Saveable
from arithlens.analyses.mechanism.ablation import Runner, Scored, node_hooks
from arithlens.analyses.mechanism.nodes import Node, compact_digits, nodes_at, parse_node
from arithlens.errors import ArithlensError, check_int
from arithlens.models.contract import encoder_of, task_of
from arithlens.tasks import cascade_class, sample

ATTENTION_SHARE = 0.1
"""A head's attention to a position is tagged from this share of its mean attention on."""


@dataclass(frozen=True)
class MechanismMap(Saveable):
    """Useful positions and nodes of a model, with their tags.

    Attributes:
        model, task: what was mapped; n, seed: the problems (uniform samples of the task).
        min_fail: the share of failing problems above which a position or node is useful.
        base_exact: the unablated model's exact match on them.
        pos_labels: ``"pos:role"`` per position; digit_names: the answer digits' roles
            (index = digit, 0 = units).
        position_fail: the fail share of every position (all its nodes ablated).
        nodes: one dict per useful node: ``name``, ``role``, ``fail``, ``impact`` (digit names,
            high to low), ``attention`` (``{"pos:role": share}``), ``classes``
            (``{"S2": share of its failures}``).
        complement_exact: exact match with every node outside ``nodes`` ablated.
        subtasks: per tested sub-task and digit (``"MC.c1"``): ``code``, ``digit``, the nodes
            (or ``A+B`` pairs) whose intervention succeeded, the best successes.
        clauses: the hypothesis' clauses checked (:func:`~.clauses.check`).
        complement_large: the complement test on fresh problems at scale
            (:meth:`test_complement`): ``n``, ``model_exact``, ``complement_exact``.
    """

    SAVED_AS = "mechanism map"

    model: str
    task: str
    n: int
    seed: int
    min_fail: float
    base_exact: float
    pos_labels: tuple[str, ...]
    digit_names: tuple[str, ...]
    position_fail: list[float]
    nodes: list[dict]
    complement_exact: float | None
    subtasks: dict = field(default_factory=dict)
    clauses: list = field(default_factory=list)
    complement_large: dict = field(default_factory=dict)

    @property
    def useful_positions(self) -> list[int]:
        return [p for p, f in enumerate(self.position_fail) if f > self.min_fail]

    @property
    def useful_nodes(self) -> list[Node]:
        return [parse_node(d["name"]) for d in self.nodes]

    def search(
        self,
        model: TransformerBridge,
        codes: tuple[str, ...] = ("BA", "MC"),  # "MS" (make sum 9) too on request
        threshold: float = 0.9,
        n: int = 100,
        seed: int = 0,
        progress: bool = True,
    ) -> MechanismMap:
        """This map with sub-tasks searched among its useful nodes (:func:`.subtasks.search`):
        for each code and answer digit, the useful nodes that break the digit the sub-task
        feeds are tried alone, then in pairs."""
        from arithlens.analyses.mechanism.subtasks import SUBTASKS, search

        self._check_model(model)
        found: dict[str, dict] = {}
        last = len(self.digit_names) - 1
        todo = [
            (code, k)
            for code in codes
            for k in range(SUBTASKS[code].min_digit if code in SUBTASKS else 0, last)
        ]
        for code, k in tqdm(todo, desc="sub-tasks", disable=not progress):
            offset = SUBTASKS[code].digit_offset if code in SUBTASKS else 0
            target = self.digit_names[k + offset]
            cands = [parse_node(d["name"]) for d in self.nodes if target in d["impact"]]
            res = search(model, code, k, cands, threshold, n, seed)
            best = dict(sorted(res["success"].items(), key=lambda x: -x[1])[:5])
            found[f"{code}.{self.digit_names[k]}"] = dict(
                code=code, digit=k, target=target, nodes=res["nodes"], best=best, n=n
            )
        return replace(self, subtasks=found, clauses=[])

    def _check_model(self, model: TransformerBridge) -> None:
        if task_of(model).name != self.task:
            raise ArithlensError(
                f"the map is of a {self.task} model; this model's task is "
                f"{task_of(model).name}: expected the model it was made from"
            )

    def test(self, clauses: tuple | None = None) -> MechanismMap:
        """This map with a hypothesis' clauses checked against its sub-task tags (default:
        Quirke & Barez's account of addition, :data:`.clauses.QUIRKE_ADDITION`)."""
        from arithlens.analyses.mechanism.clauses import QUIRKE_ADDITION, check

        if not self.subtasks:
            raise ArithlensError("no sub-task searched yet: expected map.search(model) first")
        return replace(self, clauses=check(self.subtasks, self.nodes, clauses or QUIRKE_ADDITION))

    def test_complement(
        self, model: TransformerBridge, n: int = 100_000, seed: int = 1, progress: bool = True
    ) -> MechanismMap:
        """This map with the complement test run on ``n`` fresh problems
        (:func:`complement_test`)."""
        self._check_model(model)
        found = complement_test(model, list(self.useful_nodes), n=n, seed=seed, progress=progress)
        return replace(self, complement_large=found)

    def clause_summary(self) -> dict[str, Any]:
        """``held`` of ``total`` clauses, and the share of useful nodes a sub-task explains."""
        tagged = {n for s in self.subtasks.values() for k in s["nodes"] for n in k.split("+")}
        return dict(
            held=sum(c["holds"] for c in self.clauses),
            total=len(self.clauses),
            explained=len(tagged & {d["name"] for d in self.nodes}) / max(len(self.nodes), 1),
        )

    def tags(self) -> dict[str, list[str]]:
        """Quirke-style tags per node: ``["Fail:11", "Impact:c3..c1", "Attn:a1=45%",
        "Classes:S1 S2"]``."""
        out = {}
        for d in self.nodes:
            tags = [f"Fail:{100 * d['fail']:.0f}", f"Impact:{compact_digits(d['impact'])}"]
            tags += [
                f"Attn:{k.split(':', 1)[-1]}={100 * v:.0f}%" for k, v in d["attention"].items()
            ]
            if d["classes"]:
                tags.append("Classes:" + " ".join(d["classes"]))
            tags += [
                f"Algo:{key}"
                for key, s in self.subtasks.items()
                if any(d["name"] in k.split("+") for k in s["nodes"])
            ]
            out[d["name"]] = tags
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per useful node: name, role, layer, unit, fail, impact, attention,
        classes."""
        rows = []
        for d in self.nodes:
            node = parse_node(d["name"])
            rows.append(
                dict(
                    node=d["name"],
                    role=d["role"],
                    layer=node.layer,
                    unit=f"H{node.head}" if node.is_head else "MLP",
                    fail=d["fail"],
                    impact=compact_digits(d["impact"]),
                    attention=", ".join(
                        f"{k.split(':', 1)[-1]} {100 * v:.0f}%" for k, v in d["attention"].items()
                    ),
                    classes=" ".join(d["classes"]),
                )
            )
        return pd.DataFrame(rows)

    def plot(self, show: str = "fail") -> Any:
        """A heatmap of the useful nodes (rows: layer x head/MLP; columns: positions with their
        roles): ``fail`` share, or ``impact`` (the lowest answer digit that breaks)."""
        return draw(self, show=show)

    def document(self) -> str:
        """The mechanism document in Markdown, made from this map's saved fields only."""
        from arithlens.analyses.mechanism.document import render

        return render(self)


def mechanism_map(
    model: TransformerBridge,
    n: int = 1000,
    seed: int = 0,
    min_fail: float = 0.001,
    complement: bool = True,
    progress: bool = True,
    name: str = "model",
) -> MechanismMap:
    """Map ``model`` (called ``name`` in the map) by its useful positions and nodes on ``n``
    problems of its task.

    Example:
        >>> m = al.mechanism.mechanism_map(model, n=2000)            # doctest: +SKIP
    """
    check_int("n", n, minimum=1)
    if not 0 <= min_fail < 1:
        raise ArithlensError(f"min_fail={min_fail!r} is invalid: expected a number in [0, 1)")
    task = task_of(model)
    problems = sample(task, n, seed=seed)
    run = Runner(model, problems)
    L, H, P = run.shape
    position_fail = []
    for pos in tqdm(range(P), desc="positions", disable=not progress):
        position_fail.append(_fail(run.base, run.score(nodes_at(pos, L, H))))
    useful = [p for p, f in enumerate(position_fail) if f > min_fail]
    patterns = run.patterns
    classes = _classes(problems)
    digit_names = _digit_names(run)
    nodes = []
    todo = [node for pos in useful for node in nodes_at(pos, L, H)]
    for node in tqdm(todo, desc="nodes", disable=not progress):
        scored = run.score([node])
        fail = _fail(run.base, scored)
        if fail > min_fail:
            nodes.append(_tags(node, fail, run, scored, patterns, classes, digit_names))
    done = complement_exact(run, [parse_node(d["name"]) for d in nodes]) if complement else None
    return MechanismMap(
        model=name,
        task=task.name,
        n=n,
        seed=seed,
        min_fail=min_fail,
        base_exact=float(run.base.exact.mean()),
        pos_labels=tuple(run.labels),
        digit_names=tuple(digit_names),
        position_fail=[float(f) for f in position_fail],
        nodes=nodes,
        complement_exact=done,
    )


def complement_exact(run: Runner, keep: list[Node | str]) -> float:
    """Exact match with every head and MLP node (at every position) outside ``keep``
    mean-ablated."""
    return float(run.score(_outside(run, keep)).exact.mean())


def _outside(run: Runner, keep: Sequence[Node | str]) -> list[Node]:
    """Every head and MLP node at every position that is not in ``keep``."""
    kept = set(run.check(list(keep)))
    L, H, P = run.shape
    return [node for pos in range(P) for node in nodes_at(pos, L, H) if node not in kept]


def complement_test(
    model: TransformerBridge,
    keep: Sequence[Node | str],
    n: int = 100_000,
    seed: int = 1,
    batch: int = 5000,
    progress: bool = True,
) -> dict[str, float]:
    """The complement test at scale (Quirke & Barez propose a 1M-question test): exact match of
    ``model`` on ``n`` fresh problems with every node outside ``keep`` mean-ablated, the means
    taken over the same ``n`` problems (one pass in batches for the means, one to score).

    Example:
        >>> m = al.mechanism.mechanism_map(model, n=2000)                   # doctest: +SKIP
        >>> complement_test(model, m.useful_nodes, n=100_000)               # doctest: +SKIP
        {'n': 100000, 'model_exact': 1.0, 'complement_exact': 0.9993}
    """
    check_int("n", n, minimum=1)
    check_int("batch", batch, minimum=1)
    problems = sample(task_of(model), n, seed=seed)
    enc = encoder_of(model)
    names = node_hooks(model)
    parts = [problems[i : i + batch] for i in range(0, n, batch)]
    sums: dict[str, Tensor] = {}
    for part in tqdm(parts, desc="means", disable=not progress):
        with torch.no_grad():
            _, cache = model.run_with_cache(
                enc.encode(part).tokens, names_filter=lambda x: x in names
            )
        for k in names:
            s = cache[k].double().sum(0)
            sums[k] = sums[k] + s if k in sums else s
    means = {k: (v / n).to(cache[k].dtype) for k, v in sums.items()}
    right = [0, 0]
    for part in tqdm(parts, desc="complement", disable=not progress):
        run = Runner(model, part, means=means)
        right[0] += int(run.base.exact.sum())
        right[1] += int(run.score(_outside(run, keep)).exact.sum())
    return dict(n=n, model_exact=right[0] / n, complement_exact=right[1] / n)


def _fail(base: Scored, ablated: Scored) -> float:
    """The share of problems right before and wrong after."""
    return float((base.exact & ~ablated.exact).mean())


def _classes(problems: Any) -> np.ndarray | None:
    """Cascade class per problem (addition and subtraction), else None."""
    try:
        return cascade_class(problems)
    except (ArithlensError, AttributeError):
        return None


def _digit_names(run: Runner) -> list[str]:
    """The role of each answer digit's position (digit 0 = units)."""
    pos = run.batch.answer_pos[0].tolist()
    return [run.labels[p].split(":", 1)[-1] if p >= 0 else f"d{k}" for k, p in enumerate(pos)]


def _tags(
    node: Node,
    fail: float,
    run: Runner,
    scored: Scored,
    patterns: np.ndarray,
    classes: np.ndarray | None,
    digit_names: list[str],
) -> dict:
    broke = (run.base.digit_ok & ~scored.digit_ok).mean(0)  # (digit,)
    impact = [digit_names[k] for k in reversed(range(len(broke))) if broke[k] > 0]
    att: dict[str, float] = {}
    if node.is_head:
        row = patterns[node.layer, node.head, node.pos]
        att = {
            run.labels[k]: round(float(row[k]), 4)
            for k in np.argsort(-row)
            if row[k] >= ATTENTION_SHARE
        }
    failed = run.base.exact & ~scored.exact
    cls: list[str] = []
    if classes is not None and failed.any():
        cls = [f"S{c}" for c in sorted(set(classes[failed].tolist()))]
    return dict(
        name=node.name,
        role=run.labels[node.pos].split(":", 1)[-1],
        fail=round(fail, 6),
        impact=impact,
        attention=att,
        classes=cls,
    )
