"""Numeracy tasks posed to a pretrained LLM in words: one prompt template per task (the Number
Cookbook's questions; "how many r's in strawberry" for letter counting), optionally with
few-shot examples. Score them with :func:`arithlens.analyses.evaluation.prompt_exact`; see how a
tokenizer hides letters with :func:`arithlens.tokens.numbers.word_tokenization`.

Fields of a template: ``{a}``, ``{b}`` (the two numbers of a binary task), ``{x}`` (the number
or word of a unary task), ``{q}`` (the queried place, digit, letter or figure count).

Example:
    >>> from arithlens.tasks import NumeracySpec, NumeracyProblems
    >>> p = NumeracyProblems.from_strings(NumeracySpec(task="count_letter", repr="word", n_digits=10), [("strawberry", "r")])
    >>> numeracy_prompts(p)[0]
    'Q: How many times does the letter "r" appear in "strawberry"?\\nA:'
    >>> numeracy_answers(p)[0]
    ' 3'
"""

from __future__ import annotations

import numpy as np

from arithlens.errors import ArithlensError, check_int
from arithlens.tasks import require
from arithlens.tasks.numeracy import NumeracyProblems, answer, sample_numeracy

TEMPLATES: dict[str, str] = {
    "add": "Q: What is {a} + {b}?\nA:",
    "sub": "Q: What is {a} - {b}?\nA:",
    "floordiv": "Q: What is {a} divided by {b}, rounded down to a whole number?\nA:",
    "mod": "Q: What is the remainder of {a} divided by {b}?\nA:",
    "max": "Q: Which is larger, {a} or {b}?\nA:",
    "min": "Q: Which is smaller, {a} or {b}?\nA:",
    "get_digit": "Q: What is the digit at place {q} of {x}, counting from 0 at the units?\nA:",
    "length": "Q: How many digits does {x} have?\nA:",
    "count": "Q: How many times does the digit {q} appear in {x}?\nA:",
    "count_letter": 'Q: How many times does the letter "{q}" appear in "{x}"?\nA:',
    "sig_round": "Q: What is {x} rounded to {q} significant figures?\nA:",
    "to_sci": "Q: What is {x} in scientific notation?\nA:",
    "from_sci": "Q: What is {x} written without an exponent?\nA:",
}
"""The default question of every numeracy task."""


def _fields(task: str, operands: tuple[str, ...]) -> dict[str, str]:
    if task in ("add", "sub", "floordiv", "mod", "max", "min"):
        return {"a": operands[0], "b": operands[1]}
    return {"x": operands[0], "q": operands[1] if len(operands) > 1 else ""}


def _one(template: str, task: str, operands: tuple[str, ...]) -> str:
    try:
        return template.format(**_fields(task, operands))
    except (KeyError, IndexError) as e:
        raise ArithlensError(
            f"template {template!r} uses the field {e}: {task} prompts have "
            f"{sorted(_fields(task, operands))}"
        ) from None


def numeracy_prompts(
    problems: NumeracyProblems,
    template: str | None = None,
    *,
    shots: int = 0,
    seed: int = 0,
) -> list[str]:
    """Each problem's prompt: ``shots`` solved examples of the same task (drawn with ``seed``,
    one blank line apart), then the question (``template``, default :data:`TEMPLATES`)."""
    require(
        getattr(problems, "task", None),
        "decision",
        f"numeracy prompts (of a {type(problems).__name__})",
    )
    check_int("shots", shots, minimum=0, maximum=32)
    task = problems.task
    template = TEMPLATES[task.task] if template is None else template
    rng = np.random.default_rng(seed)
    out = []
    for ops in problems.operands:
        examples = sample_numeracy(task, shots, rng).operands if shots else []
        head = "".join(
            _one(template, task.task, e) + " " + answer(task, e) + "\n\n" for e in examples
        )
        out.append(head + _one(template, task.task, ops))
    return out


def numeracy_answers(problems: NumeracyProblems) -> list[str]:
    """Each problem's answer as the completion of its prompt (a space, then the exact answer)."""
    return [" " + answer(problems.task, o) for o in problems.operands]


__all__ = ["TEMPLATES", "numeracy_answers", "numeracy_prompts"]
