"""Running a model: forward passes in chunks, teacher forcing, greedy decoding, and resuming
from a cached residual stream.

The one place that knows how to run a model; evaluation, probes, the lens, fine-tuning and
patching (the resume-from-layer fast path) use it, so no analysis imports another to run the
model.

Example:
    >>> logits = forward_chunked(model, tokens)              # doctest: +SKIP
    >>> digits, exact = teacher_forced(model, batch)         # doctest: +SKIP
    >>> greedy_complete(model, batch)[:2]                    # doctest: +SKIP
    ['975', '0601']
    >>> if can_resume(model):                                 # doctest: +SKIP
    ...     logits = run_from_layer(model, resid, layer=1)
"""

from __future__ import annotations

import re
import warnings
import weakref

import numpy as np
import torch
from jaxtyping import Float, Int
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError
from arithlens.models import sites
from arithlens.models.contract import check_task, is_native
from arithlens.tasks import max_length
from arithlens.tokens.encoders import CharEncoder
from arithlens.tokens.tokenizer import TokenBatch


@torch.no_grad()
def forward_chunked(
    model: TransformerBridge, tokens: Int[torch.Tensor, "batch pos"], chunk: int = 2048
) -> Float[torch.Tensor, "batch pos vocab"]:
    """Logits ``(batch, pos, d_vocab)`` computed ``chunk`` rows at a time."""
    return torch.cat([model(tokens[i : i + chunk]) for i in range(0, len(tokens), chunk)])


def check_fits(model: TransformerBridge, batch: TokenBatch) -> None:
    """Raise if ``batch`` is longer than the model's context."""
    n_ctx = model.cfg.n_ctx
    if batch.tokens.shape[1] > n_ctx:
        i = int(torch.argmax(batch.lengths))
        raise ArithlensError(
            f"problem {batch.texts[i]!r} has {int(batch.lengths[i])} tokens but the model's "
            f"context is n_ctx={n_ctx}: use fewer digits"
        )


def teacher_forced(
    model: TransformerBridge, batch: TokenBatch, *, any_width: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted answer digits ``(batch, digit)`` (read by the model's encoder; -1 where absent
    or not a digit) and exact match ``(batch,)`` (every completion token right), from one
    forward with the answers in context. ``batch`` must be of the model's task (with
    ``any_width``, at any operand width)."""
    encoder = check_task(model, batch.problems.task, "batch", any_width=any_width)
    check_fits(model, batch)
    logits = forward_chunked(model, batch.tokens)
    pred = logits[:, :-1].argmax(-1)
    mask = batch.target_mask()
    exact = ((pred == batch.tokens[:, 1:]) | ~mask).all(1)
    pos = batch.answer_pos.clamp(min=1) - 1
    return encoder.read_digits(batch, torch.gather(pred, 1, pos)), exact.numpy()


@torch.no_grad()
def greedy_complete(
    model: TransformerBridge, batch: TokenBatch, *, any_width: bool = False
) -> list[str]:
    """Greedy completions after each prompt, decoded by the model's own tokenizer: for
    arithlens models the text up to the end mark ``.``; for Hugging Face models the answer
    (sign and digits) at the start of the completion."""
    encoder = check_task(model, batch.problems.task, "batch", any_width=any_width)
    char = isinstance(encoder, CharEncoder)
    end_id = encoder.tokenizer.encode(".")[0] if char else -1
    out: list[str] = [""] * len(batch)
    for plen in torch.unique(batch.prompt_len).tolist():
        rows = torch.nonzero(batch.prompt_len == plen).flatten()
        if char:
            limit = max_length(batch.problems.task)
        else:  # as many tokens as the longest true completion, and one more
            limit = int((batch.lengths[rows] - plen).max()) + 1 + plen
        seq = batch.tokens[rows, :plen]
        done = torch.zeros(len(rows), dtype=torch.bool)
        while seq.shape[1] < min(limit, model.cfg.n_ctx) and not done.all():
            nxt = model(seq)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, end_id), nxt) if char else nxt
            seq = torch.cat([seq, nxt[:, None]], 1)
            done |= nxt == end_id
        for r, ids in zip(rows.tolist(), seq[:, plen:]):
            if char:
                out[r] = encoder.tokenizer.decode(ids.tolist()).split(".")[0]
            else:  # token by token: some decoders put spaces between tokens
                text = "".join(encoder.tokenizer.decode([i]) for i in ids.tolist())
                out[r] = re.match(r"\s*(-?\d*)", text).group(1)  # type: ignore[union-attr]  # matches any text
    return out


_RESUMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def can_resume(model: TransformerBridge) -> bool:
    """Whether blocks of ``model`` can be run one by one from a cached residual: native models
    always; a Hugging Face bridge when running its blocks from every layer's cached input
    reproduces its logits (checked once per model on a short input, to 1e-5 of the logits'
    scale). Rotary models (GPT-NeoX, Pythia, Llama, Qwen) get the rotary position embeddings
    and position ids their blocks need, as the Hugging Face model computes them outside the
    blocks."""
    if is_native(model):
        return True
    if model not in _RESUMES:
        _RESUMES[model] = _resumes_exactly(model)
    return _RESUMES[model]


@torch.no_grad()
def _resumes_exactly(model: TransformerBridge) -> bool:
    n = min(8, int(model.cfg.n_ctx))
    tokens = (torch.arange(n) % int(model.cfg.d_vocab))[None].to(model.cfg.device)
    names = set(sites.layers("resid_pre", model.cfg.n_layers))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a block run on its own may warn about what it lacks
            logits, cache = model.run_with_cache(tokens, names_filter=lambda x: x in names)
            scale = float(logits.abs().max()) or 1.0
            for layer in range(model.cfg.n_layers):
                out = run_from_layer(model, cache[sites.hook("resid_pre", layer)], layer)
                if float((out - logits).abs().max()) > 1e-5 * scale:
                    return False
    except Exception:  # a block that cannot be called on the residual alone
        return False
    return True


def run_from_layer(
    model: TransformerBridge, resid: Float[torch.Tensor, "batch pos d_model"], layer: int
) -> Float[torch.Tensor, "batch pos vocab"]:
    """Logits from the residual stream entering block ``layer`` (models where
    :func:`can_resume` holds)."""
    x = resid
    kwargs = _block_inputs(model, x)
    for block in list(model.blocks)[layer:]:
        out = block(x, **kwargs)
        x = out[0] if isinstance(out, tuple) else out
    return model.unembed(model.ln_final(x))


def _block_inputs(model: TransformerBridge, x: torch.Tensor) -> dict:
    """What a block needs besides the residual stream: nothing for native and GPT-2 blocks; for
    a Hugging Face model with rotary embeddings (a ``rotary_emb`` component) the ``(cos, sin)``
    position embeddings and the position ids of unpadded rows at positions ``0..pos-1`` (the
    bridge's attention applies the causal mask itself; :func:`can_resume` checks the result)."""
    rotary = getattr(model, "rotary_emb", None)
    if rotary is None or is_native(model):
        return {}
    b, n = x.shape[:2]
    pos = torch.arange(n, device=x.device)[None].expand(b, n)
    return {"position_embeddings": rotary(x, pos), "position_ids": pos}
