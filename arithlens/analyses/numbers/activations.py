"""Activations per number: what a site holds at a number's token, one row per number.

Two kinds of model:

- a pretrained-LLM-style model (``model.encoder`` a :class:`~arithlens.tokens.prompts.PromptBuilder`)
  whose numbers are single tokens: the number is operand ``a`` of the model's prompt, and the
  row is the activation at its token (mean over ``n_context`` values of ``b``; with ``a`` first
  in the template the row cannot depend on ``b``). Every number is checked to be one token
  there; the ones that are not are named, with the valid range.
- a digit-level arithlens model: the numbers are the digit values 0..9 of operand ``a`` at one
  place (``place=0``: units), and the row is the mean activation at that digit's position over
  ``n_context`` problems with that digit.

Sites: ``embed`` (the token embedding row, no position), ``resid_pre``, ``resid_mid``,
``resid_post``, ``attn_out``, ``mlp_out`` of a layer.

Example:
    >>> acts = number_activations(al.load("add2-gpt2"), "resid_post", 0)   # doctest: +SKIP
    >>> acts.values.shape                                                  # doctest: +SKIP
    (199, 128)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from jaxtyping import Float
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError, check_int
from arithlens.models import sites
from arithlens.models.contract import encoder_of, task_of
from arithlens.tasks import sample
from arithlens.tasks.arithmetic.problems import Problems

SITES = ("embed", "resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out")


@dataclass(frozen=True)
class NumberActivations:
    """One activation per number.

    Attributes:
        numbers: ``(N,)`` the numbers; values: ``(N, d)`` their activations.
        site, layer: where they were read; where: the token (``"a"`` or ``"a0"``).
        positions: the token position read (``(N,)``; -1 for ``embed``).
    """

    numbers: np.ndarray
    values: Float[np.ndarray, "number d"]
    site: str
    layer: int | None
    where: str
    positions: np.ndarray

    @property
    def label(self) -> str:
        at = "" if self.site == "embed" else f" L{self.layer}"
        return f"{self.site}{at} at {self.where}"


def is_prompted(model: TransformerBridge) -> bool:
    """Whether ``model`` reads prompts through a Hugging Face tokenizer (numbers as tokens)."""
    return hasattr(encoder_of(model), "template")


def single_token_numbers(model: TransformerBridge, upto: int = 1000) -> list[int]:
    """The operands ``0 .. upto - 1`` (within the task's digits) that the model's tokenizer
    writes as one token where ``a`` stands in its prompt (the valid range, never assumed)."""
    if not is_prompted(model):
        return list(range(10))
    nums = list(range(min(upto, 10 ** task_of(model).n_digits)))
    ids, _ = _prompt_tokens(model, nums, 0, check=False)
    return [x for x, i in zip(nums, ids) if i is not None]


def number_token_ids(model: TransformerBridge, numbers: list[int]) -> torch.Tensor:
    """The token id of each number (a digit-level model: the digit's id); an
    :class:`ArithlensError` names the numbers that are not single tokens."""
    if not is_prompted(model):
        _check_digits(numbers)
        digit_ids = encoder_of(model).digit_token_ids()
        if digit_ids is None:
            raise ArithlensError("the model's tokenizer has no single digit tokens")
        return digit_ids[torch.tensor(numbers)]
    ids, _ = _prompt_tokens(model, numbers, 0, check=True)
    return torch.tensor(ids)


def number_activations(
    model: TransformerBridge,
    site: str = "resid_post",
    layer: int = 0,
    numbers: list[int] | range | None = None,
    place: int = 0,
    n_context: int = 16,
    seed: int = 0,
) -> NumberActivations:
    """The activation of ``site`` (block ``layer``) at each number's token (module docstring).

    Example:
        >>> acts = number_activations(model, "resid_post", 0, numbers=range(100))  # doctest: +SKIP
    """
    if site not in SITES:
        raise ArithlensError(f"site={site!r} is not a number site: expected one of {SITES}")
    check_int("n_context", n_context, minimum=1)
    if site != "embed":
        check_int("layer", layer, minimum=0)
        if layer >= model.cfg.n_layers:
            raise ArithlensError(
                f"layer={layer} is not in the model: expected 0..{model.cfg.n_layers - 1}"
            )
    prompted = is_prompted(model)
    if numbers is None:
        numbers = single_token_numbers(model) if prompted else list(range(10))
    nums = [int(x) for x in numbers]
    if len(nums) < 2:
        raise ArithlensError(f"{len(nums)} numbers are too few: expected at least 2")
    if site == "embed":
        ids = number_token_ids(model, nums)
        values = model.W_E[ids].detach().double().numpy()
        return NumberActivations(
            np.array(nums), values, site, None, "token", np.full(len(nums), -1)
        )
    hook = sites.site(site).at(layer)
    rng = np.random.default_rng(seed)
    if prompted:
        values, positions, where = _prompted_rows(model, hook, nums, n_context, rng)
    else:
        values, positions, where = _digit_rows(model, hook, nums, place, n_context, rng)
    return NumberActivations(np.array(nums), values, site, layer, where, positions)


def _prompted_rows(
    model: TransformerBridge, hook: str, nums: list[int], n_context: int, rng: Any
) -> tuple[np.ndarray, np.ndarray, str]:
    """Rows at a's token of ``a op b``, mean over ``n_context`` single-token ``b``."""
    pool = single_token_numbers(model, 200)
    acts = []
    for b in rng.choice(pool, size=n_context).tolist():
        batch = _prompt_batch(model, nums, b)
        acts.append(_read(model, hook, batch.tokens, batch.positions))
    return torch.stack(acts).mean(0).numpy(), batch.positions.numpy(), "a"


def _digit_rows(
    model: TransformerBridge, hook: str, nums: list[int], place: int, n_context: int, rng: Any
) -> tuple[np.ndarray, np.ndarray, str]:
    """Rows at a's digit ``place``, mean over ``n_context`` problems with that digit."""
    _check_digits(nums)
    task = task_of(model)
    if not 0 <= place < task.n_digits:
        raise ArithlensError(
            f"place={place} is not in {task.name}: expected 0..{task.n_digits - 1}"
        )
    enc: Any = encoder_of(model)
    rows, positions = [], []
    for v in nums:
        p = sample(task, n_context, seed=int(rng.integers(1 << 30)))
        a = p.a.copy()
        a[:, place] = v
        tb = enc.encode(Problems(task, a, p.b))
        if tb.operand_pos is None:
            raise ArithlensError(f"{task.name}: the encoder does not know operand positions")
        pos_t = tb.operand_pos[:, 0, place]
        rows.append(_read(model, hook, tb.tokens, pos_t).mean(0))
        positions.append(int(pos_t[0]))
    return torch.stack(rows).numpy(), np.asarray(positions), f"a{place}"


def _read(
    model: TransformerBridge, hook: str, tokens: torch.Tensor, pos: torch.Tensor
) -> torch.Tensor:
    """``(batch, d)`` the hook's activation at ``pos`` of each row, in float64."""
    with torch.no_grad():
        _, cache = model.run_with_cache(tokens, names_filter=lambda n: n == hook)
    act = cache[hook]
    return act[torch.arange(len(tokens)), pos].double()


def _check_digits(nums: list[int]) -> None:
    bad = [x for x in nums if not 0 <= x <= 9]
    if bad:
        raise ArithlensError(
            f"numbers {bad[:5]} are not digits: a digit-level model holds numbers 0..9 per token"
        )


@dataclass(frozen=True)
class PromptBatch:
    """Prompts (no answer) of one length: ``tokens`` ``(batch, pos)``, ``positions`` of a."""

    tokens: torch.Tensor
    positions: torch.Tensor
    texts: list[str]


def _prompt_tokens(
    model: TransformerBridge, nums: list[int], b: int, check: bool
) -> tuple[list[Any], list[int]]:
    """Per number: the id of its token as operand ``a`` of the prompt ``a op b`` (None where
    it is not one token) and that token's position."""
    enc: Any = encoder_of(model)
    task = task_of(model)
    top = 10**task.n_digits
    bad = [x for x in [*nums, b] if not 0 <= x < top]
    if bad:
        raise ArithlensError(
            f"numbers {bad[:5]} are not operands of {task.name}: expected 0..{top - 1}"
        )
    texts = enc.prompts(Problems.from_ints(task, [(x, b) for x in nums]))
    one, two = enc.prompts(Problems.from_ints(task, [(1, b), (2, b)]))
    start = next(i for i, (x, y) in enumerate(zip(one, two)) if x != y)  # where a is written
    out = enc.tokenizer(texts, return_offsets_mapping=True, add_special_tokens=False)
    ids, pos = [], []
    for x, toks, offs in zip(nums, out["input_ids"], out["offset_mapping"]):
        hit = [j for j, (s, e) in enumerate(offs) if s <= start < e]
        j = hit[0] if hit else -1
        ok = j >= 0 and offs[j] == (start, start + len(str(x)))
        ids.append(toks[j] if ok else None)
        pos.append(j)
    if check:
        bad = [x for x, i in zip(nums, ids) if i is None]
        if bad:
            valid = single_token_numbers(model)
            raise ArithlensError(
                f"numbers {bad[:5]} are not single tokens where a stands in "
                f"{enc.template!r}: expected numbers of the single-token range "
                f"{_ranges(valid)}"
            )
    return ids, pos


def _prompt_batch(model: TransformerBridge, nums: list[int], b: int) -> PromptBatch:
    enc: Any = encoder_of(model)
    task = task_of(model)
    texts = enc.prompts(Problems.from_ints(task, [(x, b) for x in nums]))
    _, pos = _prompt_tokens(model, nums, b, check=True)
    out = enc.tokenizer(texts, add_special_tokens=False)["input_ids"]
    if len({len(t) for t in out}) != 1:
        raise ArithlensError(
            f"the prompts {texts[0]!r} ... tokenize to different lengths: expected one length "
            "(numbers and b of single tokens)"
        )
    return PromptBatch(torch.tensor(out), torch.tensor(pos), texts)


def _ranges(values: list[int]) -> str:
    """``0-198, 300`` for a sorted list of ints."""
    if not values:
        return "(none)"
    parts, lo, prev = [], values[0], values[0]
    for v in values[1:] + [None]:  # type: ignore[list-item]
        if v is not None and v == prev + 1:
            prev = v
            continue
        parts.append(f"{lo}-{prev}" if prev > lo else f"{lo}")
        if v is not None:
            lo = prev = v
    return ", ".join(parts)
