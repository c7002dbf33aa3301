"""A mechanism hypothesis as clauses checked against a map's sub-task tags (Quirke & Barez's
``test_algo_clause``): "for each answer digit n, the make-carry into digit n + 1 is done by a
head at the position that predicts it, attending to a{n} and b{n}". A clause holds for a digit
when some node (or pair) tagged with its sub-task matches every condition; the result says N of
M clauses held and which nodes are the evidence.

Example:
    >>> m = tag_subtasks(model, mechanism_map(model))                     # doctest: +SKIP
    >>> m = m.test(QUIRKE_ADDITION); m.clause_summary()                   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

from arithlens.analyses.mechanism.nodes import parse_node
from arithlens.errors import ArithlensError


@dataclass(frozen=True)
class Clause:
    """One testable sentence of a mechanism.

    Attributes:
        code: the sub-task (``BA``, ``MC``).
        unit: ``"head"``, ``"mlp"`` or None (either).
        layer: the node's layer, or None (any).
        head: the head's index, or None (any).
        attends: roles the head must attend to (``{n}`` is the digit: ``("a{n}", "b{n}")``).
        single: the sub-task must sit in one node (not a pair).
        apart_from: sub-task codes whose nodes for the same answer digit (the same position)
            must not be the node that does this one (Quirke & Barez: base add, make carry and make sum 9 "in
            separate heads").
    """

    code: str
    unit: str | None = None
    layer: int | None = None
    head: int | None = None
    attends: tuple[str, ...] = ()
    single: bool = True
    apart_from: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.unit not in (None, "head", "mlp"):
            raise ArithlensError(f"unit={self.unit!r} is invalid: expected 'head', 'mlp' or None")

    def text(self, digit: int) -> str:
        where = {"head": "a head", "mlp": "an MLP", None: "a node"}[self.unit]
        if self.layer is not None:
            where += f" of layer {self.layer}"
        if self.head is not None:
            where += f" (head {self.head})"
        reads = [r.format(n=digit) for r in self.attends]
        att = f" attending to {' and '.join(reads)}" if reads else ""
        alone = " alone" if self.single else ""
        apart = f", not by a node of {' or '.join(self.apart_from)}" if self.apart_from else ""
        return f"{self.code} of digit {digit} is done by {where}{att}{alone}{apart}"

    def matches(self, key: str, digit: int, attention: dict[str, dict]) -> bool:
        """Whether the tagged node (or ``A+B`` pair) ``key`` satisfies the clause."""
        names = key.split("+")
        if self.single and len(names) > 1:
            return False
        return any(self._node_ok(name, digit, attention.get(name, {})) for name in names)

    def _node_ok(self, name: str, digit: int, attends: dict) -> bool:
        node = parse_node(name)
        if self.unit == "head" and not node.is_head or self.unit == "mlp" and node.is_head:
            return False
        if self.layer is not None and node.layer != self.layer:
            return False
        if self.head is not None and node.head != self.head:
            return False
        roles = {k.split(":", 1)[-1] for k in attends}
        return all(r.format(n=digit) in roles for r in self.attends)


QUIRKE_ADDITION = (
    Clause("BA", unit="head", attends=("a{n}", "b{n}")),
    Clause("MC", unit="head", attends=("a{n}", "b{n}")),
    Clause("BA", unit=None, single=False),
    Clause("MC", unit="head", apart_from=("BA", "MS")),
    Clause("MS", unit="head", attends=("a{n}", "b{n}"), apart_from=("MC",)),
    Clause("US", unit="mlp", single=False),
    Clause("UC", unit=None, single=False),
)
"""Quirke & Barez's account of addition, as clauses: base add and make carry each in a head at
the answer position, reading the column's two digits; base add done somewhere (a node or a
pair); make carry and make sum 9 in heads of their own; the cascade (use sum 9) resolved with
an MLP; the carry used somewhere. A clause is checked only for the sub-tasks searched
(``map.search(codes=...)``)."""


def check(subtasks: dict, nodes: list[dict], clauses: tuple[Clause, ...]) -> list[dict]:
    """Each clause for each digit that has its sub-task tested: ``{"clause", "code", "digit",
    "holds", "evidence"}``."""
    attention = {d["name"]: d["attention"] for d in nodes}
    tagged = {(f["code"], f["target"]): set(f["nodes"]) for f in subtasks.values()}
    out = []
    for clause in clauses:
        for found in subtasks.values():
            if found["code"] != clause.code:
                continue
            digit = found["digit"]
            others = set().union(
                *(tagged.get((c, found["target"]), set()) for c in clause.apart_from)
            )
            evidence = [
                k
                for k in found["nodes"]
                if clause.matches(k, digit, attention) and not set(k.split("+")) & others
            ]
            out.append(
                dict(
                    clause=clause.text(digit),
                    code=clause.code,
                    digit=digit,
                    holds=bool(evidence),
                    evidence=evidence,
                )
            )
    return out
