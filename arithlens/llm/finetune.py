"""Precise fine-tuning (Zhang et al. 2024): train only chosen heads and MLPs on arithmetic.

Which weights belong to a head is found the same way on every architecture: a backward pass
in which only that head's output reaches the loss marks the attention weights it uses (its
query, key, value and output slices; under grouped-query attention the key/value slices it
shares with its group). Entries every head uses (such as the output bias) are left frozen.
Gradients outside the masks are zeroed and there is no weight decay, so every other weight
stays exactly as it was. :func:`compare_finetuning` runs precise and full fine-tuning from the
same start and reports arithmetic accuracy and how far each moved the model's predictions on
control text (KL divergence from the original model).

Example:
    >>> res = compare_finetuning(model, ["L1.H0", "L1.H3", "mlp.L1"], steps=100)  # doctest: +SKIP
    >>> res                                                                   # doctest: +SKIP
"""

from __future__ import annotations

import copy
import re

import pandas as pd
import torch
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens.encoders import encoder_of
from arithlens.errors import ArithlensError, check_int
from arithlens.evaluation import teacher_forced
from arithlens.llm.circuits import check_heads
from arithlens.models.train import completion_loss
from arithlens.tokenizer import TokenBatch


def _parse(
    model: TransformerBridge, components: list[str]
) -> tuple[list[tuple[int, int]], list[int]]:
    heads, mlps = [], []
    for c in components:
        m = re.fullmatch(r"L(\d+)\.H(\d+)", str(c))
        if m:
            heads.append((int(m.group(1)), int(m.group(2))))
            continue
        m = re.fullmatch(r"mlp\.L(\d+)", str(c))
        if m and 0 <= int(m.group(1)) < model.cfg.n_layers:
            mlps.append(int(m.group(1)))
            continue
        raise ArithlensError(
            f"component {c!r} is invalid: expected 'L<layer>.H<head>' or 'mlp.L<layer>' with "
            f"layers 0..{model.cfg.n_layers - 1}"
        )
    return check_heads(model, heads), mlps


def component_masks(
    model: TransformerBridge, components: list[str], tokens: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Boolean mask per trainable parameter (by name) for ``components``."""
    heads, mlps = _parse(model, components)
    name_of = {id(p): n for n, p in model.named_parameters()}  # bridges rename sub-modules
    masks: dict[str, torch.Tensor] = {}
    for layer in sorted({h[0] for h in heads}):
        attn = {
            name_of[id(p)]: p for p in model.blocks[layer].attn.parameters() if id(p) in name_of
        }
        used = {}
        for h in range(model.cfg.n_heads):
            used[h] = _used_by_head(model, layer, h, tokens, attn)
        shared = {n: torch.stack([used[h][n] for h in used]).all(0) for n in attn}
        for lh, h in heads:
            if lh == layer:
                for n in attn:
                    m = used[h][n] & ~shared[n]
                    masks[n] = masks.get(n, torch.zeros_like(m)) | m
    for layer in mlps:
        for p in model.blocks[layer].mlp.parameters():
            if id(p) in name_of:
                masks[name_of[id(p)]] = torch.ones_like(p, dtype=torch.bool)
    return {n: m for n, m in masks.items() if m.any()}


def _used_by_head(
    model, layer: int, head: int, tokens: torch.Tensor, params: dict
) -> dict[str, torch.Tensor]:
    """Entries of ``params`` with a nonzero gradient when only ``head``'s output matters."""
    for p in params.values():
        p.grad = None
    keep = torch.zeros(model.cfg.n_heads)
    keep[head] = 1.0

    def only(z, hook=None):
        return z * keep[None, None, :, None]

    g = torch.Generator().manual_seed(head)
    with torch.enable_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=[(f"blocks.{layer}.attn.hook_z", only)])
        (logits * torch.randn(logits.shape, generator=g)).sum().backward()
    out = {
        n: (p.grad != 0) if p.grad is not None else torch.zeros_like(p, dtype=torch.bool)
        for n, p in params.items()
    }
    model.zero_grad(set_to_none=True)
    return out


def accuracy(model: TransformerBridge, batch: TokenBatch) -> float:
    """Teacher-forced exact match: every answer token predicted correctly."""
    return float(teacher_forced(model, batch)[1].mean())


@torch.no_grad()
def _kl(model: TransformerBridge, tokens: torch.Tensor, ref_logp: torch.Tensor) -> float:
    logp = model(tokens).log_softmax(-1)
    return float((ref_logp.exp() * (ref_logp - logp)).sum(-1).mean())


def finetune(
    model: TransformerBridge,
    components: list[str] | None,
    *,
    steps: int = 100,
    lr: float = 1e-3,
    batch_size: int = 64,
    n_train: int = 2000,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, float]:
    """Fine-tune ``model`` in place on its task's completions: only ``components`` (precise),
    or every weight when ``components`` is None. Returns the number of trained weights and the
    final loss."""
    check_int("steps", steps, minimum=1)
    enc = encoder_of(model)
    train = enc.encode(enc.sample(n_train, seed))
    params = dict(model.named_parameters())
    if components is None:
        masks = {n: None for n in params}
    else:
        masks = component_masks(model, components, train.tokens[:16])
    for n, p in params.items():
        p.requires_grad_(n in masks)
    trainable = [params[n] for n in masks]
    handles = [
        params[n].register_hook(lambda g, m=m: g * m) for n, m in masks.items() if m is not None
    ]
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    model.train()
    loss = torch.tensor(float("nan"))
    try:
        for _ in tqdm(range(steps), desc="fine-tune", disable=not progress):
            idx = torch.randint(len(train), (batch_size,), generator=g)
            batch = train[idx]
            loss = completion_loss(model(batch.tokens), batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        model.eval()
        for h in handles:
            h.remove()
        for p in params.values():
            p.requires_grad_(True)
    n_weights = sum(int(m.sum()) if m is not None else params[n].numel() for n, m in masks.items())
    return {"trained_weights": n_weights, "final_loss": loss.item()}


def compare_finetuning(
    model: TransformerBridge,
    components: list[str],
    *,
    steps: int = 100,
    lr: float = 1e-3,
    n_test: int = 500,
    control: torch.Tensor | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Precise vs full fine-tuning from copies of ``model``: held-out arithmetic accuracy before
    and after, and KL(original || tuned) on ``control`` tokens (default: 64 random token
    sequences of length 24)."""
    enc = encoder_of(model)
    test = enc.encode(enc.sample(n_test, seed + 1))
    if control is None:
        g = torch.Generator().manual_seed(seed + 2)
        control = torch.randint(model.cfg.d_vocab, (64, 24), generator=g)
    with torch.no_grad():
        ref = model(control).log_softmax(-1)
    before = accuracy(model, test)
    rows = []
    for name, comps in (("precise", components), ("full", None)):
        tuned = copy.deepcopy(model)
        info = finetune(tuned, comps, steps=steps, lr=lr, seed=seed, progress=progress)
        rows.append(
            {
                "method": name,
                "trained_weights": info["trained_weights"],
                "accuracy_before": before,
                "accuracy_after": accuracy(tuned, test),
                "control_kl": _kl(tuned, control, ref),
                "final_loss": info["final_loss"],
            }
        )
    return pd.DataFrame(rows)
