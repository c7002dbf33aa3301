"""Position-resolved node names, as Quirke & Barez address them: ``P{pos}L{layer}H{head}`` for a
head's output at one position, ``P{pos}L{layer}M`` for an MLP's (``P9L0M0`` is read too). One
parser and one formatter; the position's role (``a1``, ``=``, ``c2``) is shown beside the name.

Example:
    >>> node = parse_node("P8L1H2")
    >>> node.name, node.is_head, parse_node("P9L0M0").name
    ('P8L1H2', True, 'P9L0M')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from arithlens.errors import ArithlensError

_NODE = re.compile(r"^P(\d+)L(\d+)(?:H(\d+)|M\d*)$")


@dataclass(frozen=True, order=True)
class Node:
    """A head's or an MLP's output at one position.

    Attributes:
        pos: the token position.
        layer: the block.
        head: the head, or None for the block's MLP.
    """

    pos: int
    layer: int
    head: int | None = None

    @property
    def is_head(self) -> bool:
        return self.head is not None

    @property
    def name(self) -> str:
        """``P8L1H2`` or ``P8L1M``."""
        unit = f"H{self.head}" if self.head is not None else "M"
        return f"P{self.pos}L{self.layer}{unit}"

    def with_role(self, labels: list[str]) -> str:
        """``P8L1H2 (c0)``: the name and the role of its position (from ``"pos:role"`` labels)."""
        return f"{self.name} ({labels[self.pos].split(':', 1)[-1]})"

    def __str__(self) -> str:
        return self.name


def parse_node(text: str) -> Node:
    """The node a name like ``P8L1H2`` / ``P8L1M`` addresses."""
    m = _NODE.match(str(text).strip())
    if m is None:
        raise ArithlensError(
            f"node {text!r} does not parse: expected P<pos>L<layer>H<head> or P<pos>L<layer>M "
            "(e.g. 'P8L1H2', 'P9L0M')"
        )
    pos, layer, head = m.groups()
    return Node(int(pos), int(layer), None if head is None else int(head))


def check_node(node: Node | str, n_layers: int, n_heads: int, n_pos: int) -> Node:
    """``node`` parsed and checked against a model of ``n_layers`` x ``n_heads`` on prompts of
    ``n_pos`` positions."""
    node = parse_node(node) if isinstance(node, str) else node
    bad = (
        not 0 <= node.pos < n_pos
        or not 0 <= node.layer < n_layers
        or (node.head is not None and not 0 <= node.head < n_heads)
    )
    if bad:
        raise ArithlensError(
            f"node {node.name} is not in the model: expected positions 0..{n_pos - 1}, layers "
            f"0..{n_layers - 1}, heads 0..{n_heads - 1}"
        )
    return node


def nodes_at(pos: int, n_layers: int, n_heads: int) -> list[Node]:
    """Every head and MLP node at position ``pos``, layer by layer."""
    out = []
    for layer in range(n_layers):
        out += [Node(pos, layer, h) for h in range(n_heads)] + [Node(pos, layer, None)]
    return out


def compact_digits(names: list[str]) -> str:
    """Answer-digit names compacted as Quirke writes them: ``c3..c1`` for a run, else joined
    (``c3 c1``); empty for none.

    Example:
        >>> compact_digits(["c3", "c2", "c1"]), compact_digits(["c3", "c1"]), compact_digits([])
        ('c3..c1', 'c3 c1', '')
    """
    if len(names) >= 3:
        idx = [int(re.sub(r"\D", "", n) or -1) for n in names]
        if all(a - b == 1 for a, b in zip(idx, idx[1:])):
            return f"{names[0]}..{names[-1]}"
    return " ".join(names)
