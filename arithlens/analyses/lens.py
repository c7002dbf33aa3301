"""Look inside one problem: the model's answer token by token, the logit lens, attention.

:func:`trace` decodes greedily (each answer token predicted from the model's own earlier answer
tokens), then runs the completed sequence once with a cache and reads off

- the probability of each predicted token and of the correct one;
- the logit lens: the final layer norm and unembedding applied to the residual stream after the
  embeddings and after every block, at each answer-predicting position (nostalgebraist 2020);
- every head's attention pattern.

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")                              # doctest: +SKIP
    >>> t = al.lens.trace(model, "123+456")                     # doctest: +SKIP
    >>> t.answer, t.prob.round(3)                               # doctest: +SKIP
    ('9750', array([1., 1., 1., 1.]))
    >>> t.lens_prob.shape                                       # doctest: +SKIP
    (3, 4)                                                      # (stream, answer token)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from transformer_lens.model_bridge import TransformerBridge

from arithlens._saving import Saveable
from arithlens.analyses import attention
from arithlens.errors import ArithlensError
from arithlens.models import sites
from arithlens.models.contract import check_task, encoder_of
from arithlens.models.run import check_fits
from arithlens.tasks import ProblemSet, parse_problem
from arithlens.tokens.encoders import Encoder


@torch.no_grad()
def logit_lens(
    model: TransformerBridge, resid: Float[torch.Tensor, "... d_model"]
) -> Float[torch.Tensor, "... d_vocab"]:
    """Log-probabilities the model would output if ``resid`` were the final residual stream
    (final layer norm, then unembedding)."""
    return model.unembed(model.ln_final(resid)).log_softmax(-1)


@dataclass(frozen=True)
class Trace(Saveable):
    """What the model does on one problem.

    Attributes:
        problem: the problem (one row).
        tokens: token strings of the completed sequence (the model's own answer in it).
        answer_pos: positions of the answer tokens, in generation order.
        answer_names: the answer digit(s) each of those tokens holds (``"units"``,
            ``"tens+hundreds"`` when a tokenizer merges digits; ``"char0"``, ``"char1"``, ...
            for numeracy answers, in writing order).
        predicted, correct: the model's and the true token at each answer position.
        prob, prob_correct: ``(answer,)`` probability of the predicted and of the true token.
        layer_labels: residual streams of the logit lens (``emb``, ``L0``, ...).
        lens_prob: ``(stream, answer)`` probability of the finally predicted token at each
            stream (logit lens).
        lens_top: ``(stream, answer)`` the lens's top token at each stream.
        pattern: ``(layer, head, query, key)`` attention patterns.
    """

    problem: ProblemSet
    tokens: list[str]
    answer_pos: list[int]
    answer_names: list[str]
    predicted: list[str]
    correct: list[str]
    prob: np.ndarray
    prob_correct: np.ndarray
    layer_labels: list[str]
    lens_prob: np.ndarray
    lens_top: list[list[str]]
    pattern: np.ndarray

    @property
    def answer(self) -> str:
        """The model's answer tokens joined, in the order they are written."""
        return "".join(self.predicted)

    @property
    def is_correct(self) -> bool:
        return self.predicted == self.correct

    @property
    def token_labels(self) -> list[str]:
        """``"pos:token"`` labels, unique even when a token repeats."""
        return [f"{i}:{t}" for i, t in enumerate(self.tokens)]


def _char_name(problem: ProblemSet, k: int) -> str:
    """Answer slot k's name: its place for arithmetic, its index for numeracy answers."""
    return problem.task.answer_name(k)


def _token_strings(encoder: Encoder, ids: list[int]) -> list[str]:
    tok = getattr(encoder, "tokenizer", None)
    return [tok.decode([i]) for i in ids] if tok is not None else [str(i) for i in ids]


@torch.no_grad()
def trace(model: TransformerBridge, problem: str | ProblemSet) -> Trace:
    """Decode ``problem`` (text like ``"123+456"`` or ``"max(9.11,9.9)"``, or a one-row
    batch of problems) greedily and record probabilities, the logit lens and attention patterns
    (see the module doc)."""
    encoder = encoder_of(model)
    if isinstance(problem, str):
        problem = parse_problem(encoder.task, problem)  # type: ignore[arg-type]  # checked there
    elif not isinstance(problem, ProblemSet):
        raise ArithlensError(
            f"problem is a {type(problem).__name__}: expected text like '123+456' or Problems"
        )
    check_task(model, problem.task, "the problem")
    if len(problem) == 0:
        raise ArithlensError("problem is an empty Problems: expected one problem")
    batch = encoder.encode(problem[:1])  # type: ignore[arg-type]  # a CharEncoder's, for numeracy
    check_fits(model, batch)
    truth = batch.tokens[0].clone()
    seq = truth.clone()
    start, end = int(batch.prompt_len[0]), int(batch.lengths[0])
    digit_pos = batch.answer_pos[0].tolist()
    pos = sorted({int(p) for p in digit_pos if p >= 0})
    for t in range(start, end):  # greedy: each completion token from the model's own prefix
        seq[t] = model(seq[None, :t])[0, -1].argmax()
    streams = sites.stream(model.cfg.n_layers)
    names = {h for _, h in streams}
    logits, cache = model.run_with_cache(seq[None], names_filter=lambda n: n in names)
    logp = logits[0].log_softmax(-1)
    read = torch.tensor(pos) - 1
    pred_ids, true_ids = seq[pos], truth[pos]
    prob = logp[read, pred_ids].exp()
    prob_correct = logp[read, true_ids].exp()
    resid = torch.stack([cache[h][0, read] for _, h in streams])  # (stream, answer, d)
    lens = logit_lens(model, resid)
    lens_prob = lens.gather(-1, pred_ids[None, :, None].expand(len(streams), -1, 1))[..., 0].exp()
    top = lens.argmax(-1)
    pattern = attention.patterns(model, seq[None])[:, 0]  # (layer, head, query, key)
    n = end
    return Trace(
        problem=problem[:1],
        tokens=_token_strings(encoder, seq[:n].tolist()),
        answer_pos=pos,
        answer_names=[
            "+".join(_char_name(problem, k) for k, q in enumerate(digit_pos) if q == p) for p in pos
        ],
        predicted=_token_strings(encoder, pred_ids.tolist()),
        correct=_token_strings(encoder, true_ids.tolist()),
        prob=prob.float().numpy(),
        prob_correct=prob_correct.float().numpy(),
        layer_labels=[label for label, _ in streams],
        lens_prob=lens_prob.float().numpy(),
        lens_top=[_token_strings(encoder, row.tolist()) for row in top],
        pattern=pattern[:, :, :n, :n].float().numpy(),
    )
