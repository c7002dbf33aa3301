"""Position schemes for length generalization: which position id each token gets.

Every arithlens model has a learned table of position embeddings (``"standard"``) or rotary
queries and keys (``"rotary"``). The schemes here keep the learned table but choose the ids
it is read at, inside the model's forward (a pre-hook on the native model), so hooks,
``run_with_cache``, patching, probes and widgets see an ordinary ``TransformerBridge``:

- ``"nope"``: no position information (every token reads id 0, a learned constant that acts
  as a bias); the causal mask is the only source of order (Kazemnejad et al. 2023).
- ``"randomized"``: Ruoss et al. (2023). In training, each sequence reads an ordered random
  subset of ``0..n_ctx-1``; in eval mode, one fixed ordered subset per sequence length (seeded,
  so clean and corrupt runs share it) -- the variant arithlens implements, the paper samples
  at test time too.
- ``"abacus"``: McLeish et al. (2024), in the form of position coupling (Cho et al. 2024): a
  digit of place k (0 = units) reads id k + 2, in the operands and in the reversed answer
  alike, so digits of one place share an id (operands are written most significant digit
  first, so an operand digit's place + 1 is the number of digits from it to the end of its
  number); the ``=`` token reads 1 and every other token 0. In training the ids of digits and ``=`` are shifted by one random
  offset per sequence -- in half the rows uniform up to what fits ``position_range``, in the
  other half 0 as in evaluation (the arithlens variant: McLeish et al. draw every offset
  uniformly, which leaves the low ids rarely trained at the low places) -- so ids beyond the
  trained lengths are trained too. Needs the ``reversed`` format (a plain answer's place is
  not known while it is written).

Example:
    >>> from arithlens.tokens import CharTokenizer
    >>> tok = CharTokenizer()
    >>> ids = torch.tensor([tok.encode("123+45=861.")])
    >>> abacus_ids(ids, tok).tolist()
    [[4, 3, 2, 0, 3, 2, 1, 2, 3, 4, 0]]
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Int
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.tasks import AnyTask
from arithlens.tokens.tokenizer import CharTokenizer

SCHEMES = ("nope", "randomized", "abacus")
"""Position schemes read from the learned table at computed ids (see the module docstring)."""


def _run_length(digit: torch.Tensor) -> torch.Tensor:
    """For each token, how many digits end at it in its run of digits (0 for non-digits)."""
    count = torch.cumsum(digit.long(), dim=1)
    last_break = torch.cummax(torch.where(digit, 0, count), dim=1).values
    return torch.where(digit, count - last_break, 0)


def abacus_ids(
    tokens: Int[torch.Tensor, "batch pos"],
    tokenizer: CharTokenizer,
    offset: Int[torch.Tensor, " batch"] | None = None,
) -> Int[torch.Tensor, "batch pos"]:
    """Abacus / position-coupling ids of ``tokens`` (see the module docstring), each digit id
    and the ``=`` id shifted by ``offset`` (one per row; default 0)."""
    table = torch.tensor([c.isdigit() for c in tokenizer.vocab], device=tokens.device)
    digit = table[tokens.clamp(0, len(table) - 1)]
    is_eq = tokens == tokenizer.encode("=")[0]
    after = torch.cumsum(is_eq.long(), dim=1) > 0  # '=' and everything after it
    from_start = _run_length(digit)
    to_end = _run_length(digit.flip(1)).flip(1)
    ids = torch.where(after, from_start, to_end) + 1
    shift = 0 if offset is None else offset[:, None]
    return torch.where(digit | is_eq, ids + shift, 0)


def randomized_ids(
    batch: int, seq: int, n_ctx: int, generator: torch.Generator | None = None
) -> Int[torch.Tensor, "batch pos"]:
    """Ordered random subsets of ``0..n_ctx-1``, one per row (Ruoss et al. 2023)."""
    scores = torch.rand(batch, n_ctx, generator=generator)
    return torch.sort(torch.topk(scores, seq, dim=1).indices, dim=1).values


def position_ids(
    tokens: Int[torch.Tensor, "batch pos"],
    scheme: str,
    *,
    n_ctx: int,
    training: bool,
    tokenizer: CharTokenizer | None = None,
) -> Int[torch.Tensor, "batch pos"]:
    """The ids a model with position ``scheme`` reads its table at, below ``n_ctx`` (training
    draws random offsets or subsets from torch's global generator, so seeded training is
    reproducible)."""
    b, n = tokens.shape
    if scheme == "nope":
        return torch.zeros_like(tokens)
    if scheme == "randomized":
        if training:
            return randomized_ids(b, n, n_ctx).to(tokens.device)
        fixed = randomized_ids(1, n, n_ctx, torch.Generator().manual_seed(n))
        return fixed.expand(b, n).to(tokens.device)
    if scheme == "abacus":
        ids = abacus_ids(tokens, tokenizer or CharTokenizer())
        if training:  # half the rows at offset 0 (as evaluated), half uniform up to the room
            room = n_ctx - 1 - ids.max(dim=1).values  # the largest offset that still fits
            offset = (torch.rand(b, device=tokens.device) * (room + 1).clamp(min=1)).long()
            offset = torch.where(torch.rand(b, device=tokens.device) < 0.5, 0, offset)
            ids = torch.where(ids > 0, ids + offset[:, None], ids)  # digits and '=' only
        if int(ids.max()) >= n_ctx:
            raise ArithlensError(
                f"a number of {int(ids.max()) - 1} digits needs position id {int(ids.max())} but "
                f"the model's table has n_ctx={n_ctx} ids"
            )
        return ids
    raise ArithlensError(f"position scheme {scheme!r} is unknown: expected one of {SCHEMES}")


def check_scheme(scheme: str, task: AnyTask) -> None:
    """Raise if ``task`` cannot be read with position ``scheme``."""
    if scheme == "abacus" and task.format != "reversed":
        raise ArithlensError(
            f"positional='abacus' needs the reversed format (each answer digit's place known "
            f"as it is written) but task {task.name} has format {task.format!r}"
        )


def install(
    model: TransformerBridge,
    scheme: str,
    tokenizer: CharTokenizer | None = None,
    *,
    limit: int | None = None,
) -> None:
    """Make ``model`` (a native bridge with a learned position table) read its table at the
    ids of ``scheme`` on every forward, whatever calls it; random ids stay below ``limit``
    (default: the whole table, ``n_ctx``)."""
    if scheme not in SCHEMES:
        raise ArithlensError(f"position scheme {scheme!r} is unknown: expected one of {SCHEMES}")
    native = model.original_model
    n_ctx = int(limit or model.cfg.n_ctx)

    def pre(module: Any, args: Any, kwargs: Any):
        tokens = args[0] if args else kwargs.get("input_ids")
        if tokens is None:  # embeddings given directly: positions are the caller's
            return args, kwargs
        ids = position_ids(
            tokens, scheme, n_ctx=n_ctx, training=module.training, tokenizer=tokenizer
        )
        return args, {**kwargs, "position_ids": ids}

    native.register_forward_pre_hook(pre, with_kwargs=True)
