"""Numeracy texts: prompt, answer and end mark, with where every answer character sits."""

from __future__ import annotations

import numpy as np

from arithlens.tasks.common import Rendered
from arithlens.tasks.numeracy.answers import answer, number_start, prompt
from arithlens.tasks.numeracy.problems import NumeracyProblems
from arithlens.tasks.numeracy.spec import END, max_prompt_chars

# ---------------------------------------------------------------- texts


def render_numeracy(problems: NumeracyProblems) -> Rendered:
    """``prompt=answer;`` texts. ``answer_pos[:, k]``: answer character k (0 = the first
    written); -1 past the answer. ``operand_pos[:, 0, k]``: character k of the first number."""
    task = problems.task
    n, width = len(problems), task.answer_width
    answer_pos = np.full((n, width), -1, dtype=np.int64)
    operand_pos = np.full((n, 1, max_prompt_chars(task)), -1, dtype=np.int64)
    texts, prompt_len = [], np.zeros(n, dtype=np.int64)
    for r, ops in enumerate(problems.operands):
        p, a = prompt(task, ops), answer(task, ops)
        start = number_start(task, ops)
        operand_pos[r, 0, : len(ops[0])] = start + np.arange(len(ops[0]))
        answer_pos[r, : len(a)] = len(p) + np.arange(len(a))
        texts.append(p + a + END)
        prompt_len[r] = len(p)
    return Rendered(texts, prompt_len, answer_pos, operand_pos)
