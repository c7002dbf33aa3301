"""Tasks: arithmetic (this namespace), numeracy (``al.tasks.numeracy``) and sorting
(``al.tasks.sorting``), told apart only through one protocol.

Every spec implements :class:`TaskFamily` (its width, what was trained, its answer slots, its
capabilities); what needs a family's sampler or renderer goes through one registry
(:func:`sample_problems`, :func:`render_problems`, :func:`family_pairs`, ...). This namespace
holds that seam and the arithmetic vocabulary: problems, answer formats, ground-truth labels,
samplers and minimal pairs.

Example:
    >>> from arithlens import tasks
    >>> spec = tasks.TaskSpec(op="add", n_digits=3, format="reversed")
    >>> p = tasks.sample(spec, 4, seed=0)
    >>> len(tasks.render(p).texts)
    4
    >>> tasks.sorting.SortSpec(max_len=10).width_name
    'length'
"""

from arithlens.tasks import arithmetic, numeracy, sorting
from arithlens.tasks.arithmetic.balanced import cascade_balanced, class_sizes, exact_cascade
from arithlens.tasks.arithmetic.formats import max_length, position_labels, render
from arithlens.tasks.arithmetic.labels import (
    CLASS_NAMES,
    answer_digits,
    carries,
    cascade_class,
    chain_length,
    digit_class,
    digit_flags,
    max_cascade,
    pair_kind,
)
from arithlens.tasks.arithmetic.minimal import broken_chains, carry_chains, false_cascades
from arithlens.tasks.arithmetic.pairs import corrupt_pairs
from arithlens.tasks.arithmetic.problems import Problems, from_digits, to_digits
from arithlens.tasks.arithmetic.samplers import cascade_chained, sample, split, uniform
from arithlens.tasks.arithmetic.spec import FORMATS, OPS, TaskSpec, place_index, place_name
from arithlens.tasks.common import Pairs, Rendered
from arithlens.tasks.families import (
    FAMILIES,
    AnyTask,
    TextProblems,
    TextTask,
    changes_for,
    family_of,
    family_pairs,
    problems_from_record,
    render_problems,
    role_labels,
    sample_problems,
    task_from_dict,
    typed_text,
)
from arithlens.tasks.parse import parse_problem
from arithlens.tasks.protocol import CAPABILITIES, ProblemSet, TaskFamily, has, require

__all__ = [
    # the seam: every family
    "AnyTask",
    "CAPABILITIES",
    "FAMILIES",
    "Pairs",
    "ProblemSet",
    "Rendered",
    "TaskFamily",
    "TextProblems",
    "TextTask",
    "changes_for",
    "family_of",
    "family_pairs",
    "has",
    "max_length",
    "parse_problem",
    "problems_from_record",
    "render_problems",
    "require",
    "role_labels",
    "sample_problems",
    "task_from_dict",
    "typed_text",
    # the families' namespaces
    "arithmetic",
    "numeracy",
    "sorting",
    # arithmetic
    "CLASS_NAMES",
    "FORMATS",
    "OPS",
    "Problems",
    "TaskSpec",
    "answer_digits",
    "broken_chains",
    "carries",
    "carry_chains",
    "cascade_balanced",
    "cascade_chained",
    "cascade_class",
    "chain_length",
    "class_sizes",
    "corrupt_pairs",
    "digit_class",
    "digit_flags",
    "exact_cascade",
    "false_cascades",
    "from_digits",
    "max_cascade",
    "pair_kind",
    "place_index",
    "place_name",
    "position_labels",
    "render",
    "sample",
    "split",
    "to_digits",
    "uniform",
]

MOVED = {
    "NUMERACY_TASKS": numeracy,
    "NumeracyProblems": numeracy,
    "NumeracySpec": numeracy,
    "answer_index": numeracy,
    "numeracy_pairs": numeracy,
    "render_numeracy": numeracy,
    "sample_numeracy": numeracy,
    "Sequences": sorting,
    "SortSpec": sorting,
    "render_sort": sorting,
    "sample_sequences": sorting,
    "sort_pairs": sorting,
}
"""Names that live in a family's namespace now (``al.tasks.numeracy.NumeracySpec``); the old
spelling ``al.tasks.NumeracySpec`` is still accepted."""


def __getattr__(name: str):
    if name in MOVED:
        return getattr(MOVED[name], name)
    if name == "sample_text":  # the text families' sampler, before sample_problems
        return sample_problems
    raise AttributeError(f"module 'arithlens.tasks' has no attribute {name!r}")
