"""Evaluate a model on its task: exact match, per-digit accuracy, and accuracy by carry.

For ``plain`` and ``reversed`` the answer is read teacher-forced from one forward pass: the
argmax at every completion position. Exact match this way equals greedy decoding exactly (if
every argmax is right given a right prefix, greedy writes the same tokens). Per-digit accuracy
is the accuracy of each answer digit given the correct digits before it, which is what
interpretability work patches and probes. For ``scratchpad`` the model decodes greedily, so it
is scored on its own intermediate steps, never on ours.

Every model is scored through its own encoder: arithlens models with the character tokenizer
(the end mark ``.`` is part of the completion, so stopping is scored), Hugging Face models with
their prompt builder and tokenizer (the answer tokens after the prompt; the text after the
answer is not scored, and a predicted token is read digit by digit against the correct one).

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")              # doctest: +SKIP
    >>> res = evaluate(model, n=2000)               # doctest: +SKIP
    >>> res.exact_match, res.by_cascade()           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np
import pandas as pd
import torch
from jaxtyping import Bool, Int
from transformer_lens.model_bridge import TransformerBridge

from arithlens._plotting import draw
from arithlens._saving import Saveable
from arithlens.choices import Strategy
from arithlens.errors import ArithlensError, check_choice, check_int
from arithlens.models.contract import any_task_of, arithmetic_encoder, check_task, task_of
from arithlens.models.run import check_fits, forward_chunked, greedy_complete, teacher_forced
from arithlens.tasks import (
    CLASS_NAMES,
    AnyTask,
    Problems,
    TaskSpec,
    TextProblems,
    TextTask,
    answer_digits,
    carries,
    cascade_class,
    digit_class,
    false_cascades,
    has,
    max_length,
    place_name,
    require,
    sample,
    sample_problems,
)
from arithlens.tasks.arithmetic.formats import parse_answer
from arithlens.tasks.numeracy import labels as numeracy_labels
from arithlens.tokens.encoders import CharEncoder
from arithlens.tokens.tokenizer import TokenBatch, encode


def _greedy(
    model: TransformerBridge, batch: TokenBatch, truth: np.ndarray, any_width: bool
) -> tuple[np.ndarray, np.ndarray]:
    task = batch.problems.task
    require(task, "digits", "greedy decoding")
    completions = greedy_complete(model, batch, any_width=any_width)
    texts = [t[int(p) :].rstrip(".") for t, p in zip(batch.texts, batch.prompt_len)]
    digits = np.full(truth.shape, -1, dtype=np.int64)
    for i, c in enumerate(completions):
        d = parse_answer(task, c)[: truth.shape[1]]
        digits[i, : len(d)] = d
    exact = np.array([c.split(">")[-1] == t.split(">")[-1] for c, t in zip(completions, texts)])
    return digits, exact


@dataclass(frozen=True)
class EvalResult(Saveable):
    """Outcome of :func:`evaluate`.

    Attributes:
        problems: the problems scored.
        pred_digits: ``(batch, digit)`` predicted answer digits (-1 where none).
        true_digits: ``(batch, digit)`` correct answer digits; -1 where an unpadded answer
            has no such digit (such digits count neither as right nor as wrong).
        exact: ``(batch,)`` whole answer right.
        mode: ``"teacher_forced"`` or ``"greedy"``.
    """

    problems: Problems
    pred_digits: Int[np.ndarray, "batch digit"]
    true_digits: Int[np.ndarray, "batch digit"]
    exact: Bool[np.ndarray, " batch"]
    mode: str

    SAVED_AS: ClassVar[str] = "evaluation"

    @property
    def exact_match(self) -> float:
        """Share of problems answered exactly."""
        return float(self.exact.mean())

    @property
    def digit_correct(self) -> Bool[np.ndarray, "batch digit"]:
        return self.pred_digits == self.true_digits

    @property
    def digit_present(self) -> Bool[np.ndarray, "batch digit"]:
        """Where the answer has the digit (all True for padded tasks)."""
        return self.true_digits >= 0

    def per_digit(self) -> pd.Series:
        """Accuracy of each answer digit over the problems whose answer has it, indexed by
        digit name (units first); NaN for a digit no answer has."""
        present = self.digit_present
        with np.errstate(invalid="ignore", divide="ignore"):
            acc = (self.digit_correct & present).sum(0) / present.sum(0)
        return pd.Series(acc, index=[place_name(k) for k in range(len(acc))], name="accuracy")

    def by_carry(self) -> pd.DataFrame:
        """Digit accuracy by the carry (borrow, column carry) coming into the digit."""
        c = carries(self.problems)
        rows = []
        for k in range(c.shape[1]):
            for v in np.unique(c[:, k]):
                sel = (c[:, k] == v) & self.digit_present[:, k]
                if not sel.any():
                    continue
                rows.append(
                    dict(
                        digit=place_name(k),
                        carry_in=int(v),
                        accuracy=float(self.digit_correct[sel, k].mean()),
                        count=int(sel.sum()),
                    )
                )
        return pd.DataFrame(rows)

    def by_class(self) -> pd.DataFrame:
        """Digit accuracy by Quirke & Barez class (BA, MC, MS, UC, US); add/sub only."""
        cls = digit_class(self.problems)
        rows = []
        for code, name in enumerate(CLASS_NAMES):
            sel = (cls == code) & self.digit_present
            if sel.any():
                rows.append(
                    dict(
                        digit_class=name,
                        accuracy=float(self.digit_correct[sel].mean()),
                        count=int(sel.sum()),
                    )
                )
        return pd.DataFrame(rows)

    def by_cascade(self) -> pd.DataFrame:
        """Exact match by cascade class S0..S5; add/sub only."""
        cas = cascade_class(self.problems)
        rows = [
            dict(
                cascade=f"S{s}",
                exact_match=float(self.exact[cas == s].mean()),
                count=int((cas == s).sum()),
            )
            for s in np.unique(cas)
        ]
        return pd.DataFrame(rows)

    def summary(self) -> dict:
        """JSON-ready numbers: exact match, per digit, and (add/sub) by class and cascade."""
        out = {
            "n": len(self.problems),
            "mode": self.mode,
            "exact_match": self.exact_match,
            "per_digit": self.per_digit().to_dict(),
        }
        if self.problems.task.op != "mul":
            out["by_cascade"] = self.by_cascade().set_index("cascade").to_dict("index")
            out["by_class"] = self.by_class().set_index("digit_class").to_dict("index")
        return out

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (metric, group) with value and count."""
        n = len(self.problems)
        digits, bc = self.per_digit(), self.by_carry()
        parts = [
            ("exact_match", ["all"], [self.exact_match], n),
            ("digit_accuracy", digits.index, digits.values, n),
            (
                "digit_accuracy_by_carry",
                bc.digit + ":carry=" + bc.carry_in.astype(str),
                bc.accuracy,
                bc["count"],
            ),
        ]
        if self.problems.task.op != "mul":
            cl, ca = self.by_class(), self.by_cascade()
            parts.append(("digit_accuracy_by_class", cl.digit_class, cl.accuracy, cl["count"]))
            parts.append(("exact_match_by_cascade", ca.cascade, ca.exact_match, ca["count"]))
        frames = [
            pd.DataFrame(dict(metric=metric, group=list(group), value=list(value), count=count))
            for metric, group, value, count in parts
        ]
        return pd.concat(frames, ignore_index=True)

    def plot(self, title: str | None = None):
        """Plotly figure: per-digit accuracy, accuracy by carry, and by cascade class."""
        return draw(self, title=title)


def evaluate(
    model: TransformerBridge,
    problems: Problems | None = None,
    *,
    n: int = 2000,
    seed: int = 0,
    strategy: Strategy = "uniform",
    any_width: bool = False,
) -> EvalResult:
    """Score ``model`` on ``problems`` (default: ``n`` fresh problems of its task), encoded by
    the model's own encoder (a Hugging Face model's prompts and tokenizer).

    Args:
        model: a model with a task (from the zoo, training, a checkpoint or ``al.load``).
        problems: problems to score; must be of the model's task (an
            :class:`~arithlens.ArithlensError` names both otherwise) and fit its context.
        n: number of problems to draw when ``problems`` is None.
        seed: sampling seed.
        strategy: ``"uniform"`` or ``"cascade"`` (balanced over carry cascades).
        any_width: accept problems of the model's task at another operand width (length
            generalization).
    """
    encoder = arithmetic_encoder(model)
    if problems is None:
        check_int("n", n, minimum=1)
        if isinstance(encoder, CharEncoder):  # i.i.d. problems (repeats allowed, as in training)
            problems = sample(encoder.task, n, seed, strategy=strategy)
        else:  # a pretrained model's prompts must share one token layout
            problems = encoder.sample(n, seed, strategy=strategy)
    if not isinstance(problems, Problems):
        raise ArithlensError(
            f"problems is a {type(problems).__name__}: expected arithlens.tasks.Problems"
        )
    if len(problems) == 0:
        raise ArithlensError("problems is empty: expected at least one problem")
    check_task(model, problems.task, any_width=any_width)
    batch = encoder.encode(problems)
    check_fits(model, batch)
    truth = np.where(batch.answer_pos.numpy() >= 0, answer_digits(problems), -1)
    was_training = model.training
    model.eval()
    try:
        if problems.task.format == "scratchpad":
            digits, exact = _greedy(model, batch, truth, any_width)
            mode = "greedy"
        else:
            digits, exact = teacher_forced(model, batch, any_width=any_width)
            mode = "teacher_forced"
    finally:
        model.train(was_training)
    return EvalResult(problems, digits, truth, exact, mode)


def length_generalization(
    model: TransformerBridge, digits: list[int], *, n: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Exact match and per-digit accuracy on the model's task at other operand widths (each
    must fit the context: build the model with a longer ``n_ctx`` to pose wider problems). At
    width ``d`` the problems are ``model.task.at_width(d)``: for a mixed-length model both
    operands have exactly ``d`` digits (as the papers evaluate), for a fixed-width model
    ``d``-digit operands in its layout. For a sorting model ``digits`` are sequence lengths
    (see :func:`text_scores`).

    Returns a frame with one row per width: ``n_digits``, ``exact_match``, ``digit_accuracy``
    (mean over the answer digits present), ``trained`` (whether the width lies in the trained
    range), and one column per answer digit name (``units``, ``tens``, ...; NaN where the width
    has no such digit); for sorting ``length``, ``exact_match``, ``element_accuracy``,
    ``trained``.

    Example:
        >>> length_generalization(model, [4, 8, 12], n=500)[["n_digits", "exact_match"]]  # doctest: +SKIP
    """
    task = any_task_of(model)
    key = task.width_name
    score: Callable[..., tuple[dict, dict]] = _digit_row if has(task, "digits") else _text_row
    rows = []
    for d in digits:
        other = task.at_width(check_int(key, d, minimum=1))
        _check_context(model, other, f"{key}={d}")
        main, extra = score(model, other, n, seed)
        rows.append({key: d, **main, "trained": task.trained_at(d), **extra})
    return pd.DataFrame(rows)


def _digit_row(model: TransformerBridge, task: TaskSpec, n: int, seed: int) -> tuple[dict, dict]:
    """Exact match and digit accuracy (and per-digit accuracy) by greedy decoding."""
    res = evaluate(model, sample(task, n, seed), any_width=True)
    per = res.per_digit()
    return dict(exact_match=res.exact_match, digit_accuracy=float(per.mean())), per.to_dict()


def _text_row(model: TransformerBridge, task: TextTask, n: int, seed: int) -> tuple[dict, dict]:
    """Exact match and element accuracy of texts (sorting: sequences of exactly the width;
    numeracy: numbers of up to the width)."""
    problems = sample_problems(task, n, seed)
    correct, exact = text_scores(model, problems)
    present = (encode(problems).answer_pos >= 0).numpy()
    return dict(
        exact_match=float(exact.mean()), element_accuracy=float(correct[present].mean())
    ), {}


def _check_context(model: TransformerBridge, task: AnyTask, what: str) -> None:
    need = max_length(task)
    if need > model.cfg.n_ctx:
        raise ArithlensError(
            f"{what} needs {need} tokens but the model's context is n_ctx={model.cfg.n_ctx}: "
            f"build it with n_ctx >= {need}"
        )


@torch.no_grad()
def text_scores(
    model: TransformerBridge, seqs: TextProblems
) -> tuple[Bool[np.ndarray, "batch elem"], Bool[np.ndarray, " batch"]]:
    """For a sorting or numeracy model: per answer element (character, for numeracy), whether
    the model predicts it given the right ones before it (False past the answer), and per
    problem exact match (every completion token right, the end mark included: equal to greedy
    decoding, see the module text). ``seqs`` must be of the model's task, at any length.

    Example:
        >>> from arithlens.tasks import sample_sequences
        >>> correct, exact = text_scores(model, sample_sequences(model.task.at_width(20), 500))  # doctest: +SKIP
    """
    task = any_task_of(model)
    require(task, "texts", "text_scores")
    if not task.same_but_width(seqs.task):
        raise ArithlensError(
            f"problems of {seqs.task.name} do not match the model's task {task.name}: expected "
            "a sorting or numeracy model of the same task (any length)"
        )
    batch = encode(seqs)
    check_fits(model, batch)
    was_training = model.training
    model.eval()
    try:
        pred = forward_chunked(model, batch.tokens)[:, :-1].argmax(-1)
    finally:
        model.train(was_training)
    mask = batch.target_mask()
    exact = ((pred == batch.tokens[:, 1:]) | ~mask).all(1)
    present = batch.answer_pos >= 0
    got = torch.gather(pred, 1, (batch.answer_pos - 1).clamp(min=0))
    correct = (got == batch.answer_tokens()) & present
    return correct.numpy(), exact.numpy()


def false_cascade_accuracy(
    model: TransformerBridge, n: int, *, seed: int = 0
) -> tuple[dict[str, float], dict[str, float]]:
    """Exact match on real carry chains from the units of every length ``1..n_digits`` and on
    their false-cascade twins (:func:`arithlens.tasks.false_cascades`), ``n`` pairs per length,
    keyed by the length as text.

    Example:
        >>> chains, twins = false_cascade_accuracy(al.load("add5-plain-1L"), 300)  # doctest: +SKIP
        >>> twins["5"]                                                                # doctest: +SKIP
        0.0
    """
    task = task_of(model)
    chains, twins = {}, {}
    for length in range(1, task.n_digits + 1):
        pairs = false_cascades(task, n, start=0, length=length, seed=seed + length)
        clean, twin = cast(Problems, pairs.clean), cast(Problems, pairs.corrupt)
        chains[str(length)] = float(evaluate(model, clean).exact_match)
        twins[str(length)] = float(evaluate(model, twin).exact_match)
    return chains, twins


@torch.no_grad()
def prompt_exact(
    model: TransformerBridge,
    prompts: list[str],
    answers: list[str],
    tokenizer: Any = None,
) -> Bool[np.ndarray, " batch"]:
    """For a Hugging Face model: whether it writes each answer after its prompt, teacher-forced
    (each answer token predicted from the prompt and the right tokens before it, and, when the
    answer ends in a digit, a next token that does not continue the number: all right is the
    same as greedy decoding writing the answer and then something else). The prompt and the
    answer are tokenized apart and joined, so the answer's tokens do not depend on the prompt's
    last characters. ``tokenizer``: default the model's own (``model.tokenizer``).

    Example:
        >>> from arithlens.tokens.numeracy_prompts import numeracy_answers, numeracy_prompts
        >>> exact = prompt_exact(llm, numeracy_prompts(p, shots=3), numeracy_answers(p))   # doctest: +SKIP
    """
    tok = tokenizer if tokenizer is not None else getattr(model, "tokenizer", None)
    if tok is None or not callable(tok):
        raise ArithlensError(
            "prompt_exact needs a Hugging Face tokenizer: the model has none (pass tokenizer=)"
        )
    if len(prompts) != len(answers) or not prompts:
        raise ArithlensError(
            f"{len(prompts)} prompts and {len(answers)} answers: expected equal, non-empty lists"
        )
    rows, starts = [], []
    for p, a in zip(prompts, answers):
        head = tok(p)["input_ids"]  # the model's BOS, if it adds one
        tail = tok(a, add_special_tokens=False)["input_ids"]
        if not tail:
            raise ArithlensError(f"answer {a!r} tokenizes to nothing")
        rows.append(head + tail)
        starts.append(len(head))
    width = max(len(r) for r in rows)
    if width > model.cfg.n_ctx:
        raise ArithlensError(
            f"a prompt and its answer take {width} tokens: the model's context is {model.cfg.n_ctx}"
        )
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    tokens = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    pred = forward_chunked(model, tokens).argmax(-1)
    out = []
    for i, (r, s, a) in enumerate(zip(rows, starts, answers)):
        right = bool((pred[i, s - 1 : len(r) - 1] == torch.tensor(r[s:])).all())
        if right and a[-1:].isdigit():  # "46" then "7" writes 467, not 46
            right = not tok.decode([int(pred[i, len(r) - 1])])[:1].isdigit()
        out.append(right)
    return np.array(out)


def accuracy_by_label(
    model: TransformerBridge,
    label: str,
    *,
    n: int = 2000,
    seed: int = 0,
    problems: Any = None,
) -> pd.DataFrame:
    """For a numeracy model: exact match grouped by one of its task's labels
    (:func:`arithlens.tasks.numeracy.labels`; e.g. ``"place"``, where a comparison is decided),
    on ``problems`` or ``n`` drawn from its task. One row per label value: ``label``, ``value``,
    ``exact_match``, ``n``.

    Example:
        >>> accuracy_by_label(al.load("max-float3.3-2L"), "place")   # doctest: +SKIP
    """
    task = any_task_of(model)
    require(task, "decision", "accuracy by label (arithmetic: evaluate(...).by_carry)")
    if problems is None:
        problems = sample_problems(task, check_int("n", n, minimum=1), seed)
    every = numeracy_labels(problems)
    check_choice("label", label, tuple(every))
    _, exact = text_scores(model, problems)
    values = every[label]
    return pd.DataFrame(
        [
            dict(
                label=label,
                value=v.item() if hasattr(v, "item") else v,
                exact_match=float(exact[values == v].mean()),
                n=int((values == v).sum()),
            )
            for v in np.unique(values)
        ]
    )


@torch.no_grad()
def choice_changes(model: TransformerBridge, pairs: Any) -> float:
    """For numeracy minimal pairs (:func:`arithlens.tasks.numeracy.pairs`): the share of pairs
    whose decision character (:func:`arithlens.tasks.answer_index`) the model writes differently
    on the clean and the corrupt side (greedy, the answer before it given). ``deciding`` pairs
    should change it, ``later`` pairs must not.

    Example:
        >>> choice_changes(model, numeracy_pairs(model.task, 300, change="later"))   # doctest: +SKIP
    """
    from arithlens.tasks.numeracy import answer_index
    from arithlens.tokens.tokenizer import encode_pairs

    require(pairs.clean.task, "decision", "choice_changes (numeracy_pairs)")
    check_task(model, pairs.clean.task, "pairs", any_width=True)
    batch = encode_pairs(pairs)
    idx = torch.from_numpy(answer_index(pairs.clean, "decision"))
    rows = torch.arange(len(batch))
    pos = batch.clean.answer_pos[rows, idx] - 1
    a = model(batch.clean.tokens)[rows, pos].argmax(-1)
    b = model(batch.corrupt.tokens)[rows, pos].argmax(-1)
    return float((a != b).float().mean())
