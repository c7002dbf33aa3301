"""Arithmetic tasks (and sorting): problems, answer formats, ground-truth labels, samplers.

Example:
    >>> from arithlens import tasks
    >>> spec = tasks.TaskSpec(op="add", n_digits=3, format="reversed")
    >>> p = tasks.sample(spec, 4, seed=0)
    >>> len(tasks.render(p).texts)
    4
"""

from arithlens.tasks.balanced import cascade_balanced, class_sizes, exact_cascade
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
    sample_text,
    task_from_dict,
    typed_text,
)
from arithlens.tasks.formats import Rendered, max_length, position_labels, render
from arithlens.tasks.labels import (
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
from arithlens.tasks.minimal import broken_chains, carry_chains, false_cascades
from arithlens.tasks.numeracy import (
    NUMERACY_TASKS,
    NumeracyProblems,
    NumeracySpec,
    render_numeracy,
    sample_numeracy,
)
from arithlens.tasks.numeracy_pairs import answer_index, numeracy_pairs
from arithlens.tasks.pairs import Pairs, corrupt_pairs
from arithlens.tasks.parse import parse_problem
from arithlens.tasks.problems import Problems, from_digits, to_digits
from arithlens.tasks.protocol import CAPABILITIES, ProblemSet, TaskFamily, has, require
from arithlens.tasks.samplers import cascade_chained, sample, split, uniform
from arithlens.tasks.sorting import Sequences, SortSpec, render_sort, sample_sequences
from arithlens.tasks.sorting_pairs import sort_pairs
from arithlens.tasks.spec import FORMATS, OPS, TaskSpec, place_index, place_name

__all__ = [
    "AnyTask",
    "CAPABILITIES",
    "FAMILIES",
    "ProblemSet",
    "TaskFamily",
    "sample_problems",
    "changes_for",
    "family_of",
    "family_pairs",
    "has",
    "problems_from_record",
    "render_problems",
    "require",
    "role_labels",
    "sort_pairs",
    "CLASS_NAMES",
    "FORMATS",
    "OPS",
    "Pairs",
    "Problems",
    "Rendered",
    "NUMERACY_TASKS",
    "NumeracyProblems",
    "NumeracySpec",
    "Sequences",
    "SortSpec",
    "TaskSpec",
    "TextProblems",
    "TextTask",
    "answer_digits",
    "answer_index",
    "broken_chains",
    "carry_chains",
    "carries",
    "cascade_balanced",
    "cascade_chained",
    "class_sizes",
    "exact_cascade",
    "cascade_class",
    "chain_length",
    "corrupt_pairs",
    "digit_class",
    "digit_flags",
    "false_cascades",
    "from_digits",
    "max_cascade",
    "max_length",
    "numeracy_pairs",
    "pair_kind",
    "parse_problem",
    "place_index",
    "position_labels",
    "place_name",
    "render",
    "render_numeracy",
    "render_sort",
    "sample",
    "sample_numeracy",
    "sample_sequences",
    "sample_text",
    "split",
    "task_from_dict",
    "to_digits",
    "typed_text",
    "uniform",
]
