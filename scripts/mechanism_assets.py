"""Rebuild the committed mechanism maps under ``assets/mechanisms/MODEL/``: the map of 2000
problems, every built-in sub-task searched on addition (100 pairs each), Quirke & Barez's
clauses, the complement test on 100,000 fresh problems, and the generated document.

    .venv/bin/python scripts/mechanism_assets.py [MODEL ...]     # ~25 min for the four
"""

from __future__ import annotations

import sys
from pathlib import Path

import arithlens as al
from arithlens._atomic import write_text
from arithlens.analyses.mechanism.subtasks import SUBTASKS
from arithlens.models.contract import task_of

MODELS = ("add3-2L", "add5-2L", "add5-plain-2L", "mul2-3L")
ROOT = Path(__file__).resolve().parents[1] / "assets" / "mechanisms"


def build(name: str) -> None:
    model = al.load(name)
    m = al.mechanism.mechanism_map(model, n=2000, seed=0, name=name)
    if getattr(task_of(model), "op", None) == "add":
        m = m.search(model, codes=tuple(SUBTASKS), n=100, seed=0).test()
    m = m.test_complement(model, n=100_000, seed=1)
    m.save(ROOT / name / "map")
    write_text(ROOT / name / "mechanism.md", m.document())
    print(name, len(m.nodes), m.complement_exact, m.complement_large, m.clause_summary())


if __name__ == "__main__":
    for name in sys.argv[1:] or MODELS:
        build(name)
