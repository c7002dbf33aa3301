"""What every task family shares: rendered texts (:class:`Rendered`, ending in :data:`END`) and
clean/corrupt pairs (:class:`Pairs`) of any family's problems.

Example:
    >>> from arithlens.tasks import SortSpec, family_pairs
    >>> pairs = family_pairs(SortSpec(max_len=4), 3, change="elem.1", seed=0)
    >>> len(pairs), pairs.change, len(pairs[:2])
    (3, 'elem.1', 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from jaxtyping import Int

from arithlens.tasks.protocol import ProblemSet

END = "."
"""The last character of every arithmetic and sorting text (numeracy ends with ``;``)."""


@dataclass(frozen=True)
class Rendered:
    """Texts of a batch and where their parts are.

    Attributes:
        texts: one string per problem (prompt + completion).
        prompt_len: ``(batch,)`` characters up to and including ``=``.
        answer_pos: ``(batch, digit)`` index of answer digit k (0 = units) in the text;
            -1 where an unpadded answer has no such digit.
        operand_pos: ``(batch, 2, place)`` index of operand a's (row 0) and b's (row 1) digit
            of place k (0 = units) in the text; -1 where an unpadded operand is shorter. For
            sorting ``(batch, 1, element)``: input element k.
    """

    texts: list[str]
    prompt_len: Int[np.ndarray, " batch"]
    answer_pos: Int[np.ndarray, "batch digit"]
    operand_pos: Int[np.ndarray, "batch operand place"]


@dataclass(frozen=True)
class Pairs:
    """Clean problems and their corrupted twins (row i of each belongs together).

    Attributes:
        clean: the clean problems, of any family (arithmetic; numeracy: see
            :func:`~arithlens.tasks.numeracy.pairs.numeracy_pairs`; sorting: see
            :func:`~arithlens.tasks.sorting.sort_pairs`).
        corrupt: the corrupted problems (their task differs only for an operator change).
        change: what was changed, e.g. ``"a.units"``.
    """

    clean: ProblemSet
    corrupt: ProblemSet
    change: str

    def __len__(self) -> int:
        return len(self.clean)

    def __getitem__(self, idx: Any) -> Pairs:
        return Pairs(self.clean[idx], self.corrupt[idx], self.change)
