"""Numeracy tasks (the Number Cookbook), ``al.tasks.numeracy``, split by concern: the spec and
its constants (:mod:`.spec`), exact values (:mod:`.values`), problems and samplers
(:mod:`.problems`), ground truth (:mod:`.answers`), labels (:mod:`.labels`), texts
(:mod:`.render`) and minimal pairs (:mod:`arithlens.tasks.numeracy.pairs`).

Example:
    >>> from arithlens.tasks import numeracy
    >>> numeracy.answer(numeracy.NumeracySpec(task="max", repr="float"), ("9.11", "9.9"))
    '9.9'
"""

from arithlens.tasks.numeracy.answers import (
    answer,
    answers,
    number_start,
    prompt,
    written_order,
)
from arithlens.tasks.numeracy.labels import (
    comparison_labels,
    deciding_place,
    labels,
    point_labels,
    running_count,
)
from arithlens.tasks.numeracy.pairs import CHANGES, POSITIONS, answer_index, numeracy_pairs
from arithlens.tasks.numeracy.problems import (
    NumeracyProblems,
    sample_numeracy,
)
from arithlens.tasks.numeracy.render import (
    render_numeracy,
)
from arithlens.tasks.numeracy.spec import (
    END,
    LETTERS,
    NUMERACY_TASKS,
    NUMERACY_VOCAB,
    REPRS,
    SUPPORTED,
    NumeracySpec,
    max_answer_chars,
    max_prompt_chars,
)
from arithlens.tasks.numeracy.values import (
    round_sig,
    value,
    write_decimal,
    write_fraction,
    write_sci,
)

__all__ = [
    "CHANGES",
    "POSITIONS",
    "answer_index",
    "numeracy_pairs",
    "END",
    "LETTERS",
    "NUMERACY_TASKS",
    "NUMERACY_VOCAB",
    "NumeracyProblems",
    "NumeracySpec",
    "REPRS",
    "SUPPORTED",
    "answer",
    "answers",
    "comparison_labels",
    "deciding_place",
    "labels",
    "max_answer_chars",
    "max_prompt_chars",
    "number_start",
    "point_labels",
    "prompt",
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
