"""Precise fine-tuning (Zhang et al. 2024): train only chosen heads and MLPs on arithmetic.

Which weights belong to a head is found the same way on every architecture: a float64 backward
pass in which only that head's output reaches the loss marks the weight lines it uses (its
query, key, value and output slices, with their biases; under grouped-query attention the
key/value slices it shares with its group). Entries every head uses (such as the output bias)
are left frozen. The masks are whole lines, so they are the same on every CPU.
Gradients outside the masks are zeroed and there is no weight decay, so every other weight
stays exactly as it was. :func:`compare_finetuning` runs precise and full fine-tuning from the
same start, on training problems disjoint from the test problems, and reports held-out
arithmetic accuracy, accuracy on other tasks the model can do (``others``: e.g. other prompt
templates for an LLM) before and after, and how far each moved the model's predictions on
control text (KL divergence from the original model).

Example:
    >>> res = compare_finetuning(model, ["L1.H0", "L1.H3", "mlp.L1"], steps=100)  # doctest: +SKIP
    >>> res                                                                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses.circuits import check_heads
from arithlens.errors import ArithlensError, check_int
from arithlens.models import sites
from arithlens.models.contract import arithmetic_encoder, check_task, encoder_of
from arithlens.models.run import teacher_forced
from arithlens.models.train import completion_loss
from arithlens.tasks import Problems
from arithlens.tokens.tokenizer import TokenBatch


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
    """Boolean mask per trainable parameter (by name) for ``components``.

    A head's mask is its slices of the attention weights: whole output lines of the query, key
    and value projections (with their bias entries) and whole input lines of the output
    projection. Which lines are the head's is found once per layer by a float64 backward pass on
    a copy of the model (see :func:`head_lines`), so the masks are the same on every CPU.
    Lines every head uses (the output bias) are frozen. MLPs are trained whole.
    """
    heads, mlps = _parse(model, components)
    name_of = {id(p): n for n, p in model.named_parameters()}  # bridges rename sub-modules
    masks: dict[str, torch.Tensor] = {}
    double = float64_copy(model) if heads else None  # one copy serves every layer
    for layer in sorted({h[0] for h in heads}):
        lines = head_lines(model, layer, tokens, double=double)
        for lh, h in heads:
            if lh == layer:
                for n, m in lines[h].items():
                    masks[n] = masks.get(n, torch.zeros_like(m)) | m
    for layer in mlps:
        for p in model.blocks[layer].mlp.parameters():
            if id(p) in name_of:
                masks[name_of[id(p)]] = torch.ones_like(p, dtype=torch.bool)
    return {n: m for n, m in masks.items() if m.any()}


def _linears(model: TransformerBridge, layer: int) -> list[tuple[str, str | None, int]]:
    """``(weight name, bias name or None, output axis)`` of each projection in the layer's
    attention (``nn.Linear`` stores ``(out, in)``, GPT-2's ``Conv1D`` ``(in, out)``)."""
    name_of = {id(p): n for n, p in model.named_parameters()}
    out = []
    for mod in model.blocks[layer].attn.modules():
        w, b = getattr(mod, "weight", None), getattr(mod, "bias", None)
        if not isinstance(w, torch.nn.Parameter) or w.ndim != 2 or id(w) not in name_of:
            continue
        axis = 1 if type(mod).__name__ == "Conv1D" else 0
        bias = name_of.get(id(b)) if isinstance(b, torch.nn.Parameter) else None
        out.append((name_of[id(w)], bias, axis))
    return out


def float64_copy(model: TransformerBridge) -> TransformerBridge:
    """A float64 copy of ``model`` (for gradients whose zeros must be told from rounding)."""
    double = copy_model(model)
    with contextlib.redirect_stdout(io.StringIO()):  # the bridge prints its dtype change
        return double.to(torch.float64)


def head_lines(
    model: TransformerBridge,
    layer: int,
    tokens: torch.Tensor,
    *,
    rtol: float = 1e-9,
    double: TransformerBridge | None = None,
) -> dict[int, dict[str, torch.Tensor]]:
    """Per head of ``layer``: a boolean mask per attention parameter, its slices.

    A float64 copy of the model is run with every other head's output zeroed; a weight line
    (row or column) is the head's when any of its gradients exceeds ``rtol`` times the largest
    gradient of the layer (true zeros stay ~1e-16 in float64; used lines are many orders above).
    A weight's mask is the product of its used rows and columns, so a key bias — whose gradient
    is zero in exact arithmetic (softmax is shift invariant) — still belongs to its head through
    its key weight line. Lines that every head uses are shared and left out (with one head,
    nothing is shared). Raises :class:`ArithlensError` when a mask is not a whole number of
    ``d_head`` lines, i.e. not a head slice. ``double``: a :func:`float64_copy` of ``model``
    to reuse across layers (made here when not given).
    """
    double = float64_copy(model) if double is None else double
    linears = _linears(double, layer)
    n_heads = model.cfg.n_heads
    per_head: dict[int, dict[str, torch.Tensor]] = {}
    for h in range(n_heads):
        grads = _head_grads(double, layer, h, tokens, [w for w, _, _ in linears])
        top = max(float(g.abs().max()) for g in grads.values())
        per_head[h] = {}
        for w, b, axis in linears:
            used = grads[w].abs() > rtol * top
            rows, cols = used.any(1), used.any(0)
            per_head[h][w] = rows[:, None] & cols[None, :]
            if b is not None:
                per_head[h][b] = (rows if axis == 0 else cols).clone()
    shared = {
        n: torch.stack([per_head[h][n] for h in range(n_heads)]).all(0)
        if n_heads > 1
        else torch.zeros_like(per_head[0][n])
        for n in per_head[0]
    }
    out = {h: {n: m & ~shared[n] for n, m in per_head[h].items()} for h in range(n_heads)}
    _check_slices(model, layer, out, linears)
    return out


def _head_grads(
    model: TransformerBridge, layer: int, head: int, tokens: torch.Tensor, names: list[str]
) -> dict[str, torch.Tensor]:
    """Gradients of ``names`` for a random linear function of the logits, with only ``head``'s
    output kept."""
    params = dict(model.named_parameters())
    model.zero_grad(set_to_none=True)
    keep = torch.zeros(model.cfg.n_heads, dtype=torch.float64)
    keep[head] = 1.0

    def only(z: torch.Tensor, hook: Any = None):
        return z * keep[None, None, :, None]

    g = torch.Generator().manual_seed(head)
    with torch.enable_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=[(sites.hook("z", layer), only)])
        weights = torch.randn(logits.shape, generator=g, dtype=torch.float64)
        (logits * weights).sum().backward()
    grads = {n: params[n].grad for n in names}
    out = {
        n: g.detach().clone() if g is not None else torch.zeros_like(params[n])
        for n, g in grads.items()
    }
    model.zero_grad(set_to_none=True)
    return out


def _check_slices(model: TransformerBridge, layer: int, masks: dict, linears: Any) -> None:
    d_head = model.cfg.d_head
    for h, by_name in masks.items():
        for w, _, _ in linears:
            m = by_name[w]
            rows, cols = int(m.any(1).sum()), int(m.any(0).sum())
            if m.any() and rows % d_head and cols % d_head:
                raise ArithlensError(
                    f"head L{layer}.H{h} uses {rows} rows x {cols} columns of {w!r}: expected "
                    f"whole d_head={d_head} slices; this architecture's attention is not "
                    "supported by precise fine-tuning"
                )


def copy_model(model: TransformerBridge) -> TransformerBridge:
    """A deep copy of ``model``. Bridges keep tensors of their last forward as attributes (e.g.
    Llama's captured residual); one from a forward with gradients is not a graph leaf and
    breaks ``copy.deepcopy``, so such caches are detached first (their values are unchanged)."""
    for mod in model.modules():
        for key, value in list(vars(mod).items()):
            if isinstance(value, torch.Tensor) and not value.is_leaf:
                setattr(mod, key, value.detach())
    with contextlib.redirect_stdout(io.StringIO()):
        return copy.deepcopy(model)


def accuracy(model: TransformerBridge, batch: TokenBatch) -> float:
    """Teacher-forced exact match: every answer token predicted correctly."""
    return float(teacher_forced(model, batch)[1].mean())


@torch.no_grad()
def _kl(model: TransformerBridge, tokens: torch.Tensor, ref_logp: torch.Tensor) -> float:
    logp = model(tokens).log_softmax(-1)
    return float((ref_logp.exp() * (ref_logp - logp)).sum(-1).mean())


def _training_problems(
    model: TransformerBridge, enc: Any, problems: Problems | None, n_train: int, seed: int
) -> Problems:
    """The given problems (checked to be of the model's task), or ``n_train`` sampled."""
    if problems is None:
        return enc.sample(n_train, seed)
    if not isinstance(problems, Problems):
        raise ArithlensError(
            f"problems is a {type(problems).__name__}: expected arithlens.tasks.Problems"
        )
    check_task(model, problems.task)
    return problems


def finetune(
    model: TransformerBridge,
    components: list[str] | None,
    *,
    steps: int = 100,
    lr: float = 1e-3,
    batch_size: int = 64,
    n_train: int = 2000,
    problems: Problems | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, float]:
    """Fine-tune ``model`` in place on its task's completions: only ``components`` (precise),
    or every weight when ``components`` is None. Trains on ``problems`` (default: ``n_train``
    sampled with ``seed``). Returns the number of trained weights and the final loss."""
    check_int("steps", steps, minimum=1)
    enc = arithmetic_encoder(model)
    train = enc.encode(_training_problems(model, enc, problems, n_train, seed))
    params = dict(model.named_parameters())
    if components is None:
        masks: dict[str, torch.Tensor | None] = {n: None for n in params}
    else:
        masks = dict(component_masks(model, components, train.tokens[:16]))
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
        # dropout (pretrained models keep theirs) draws from torch's global generator: seed it
        # here, without disturbing the caller's stream, so a run is a function of ``seed``
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
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


def split_problems(
    model: TransformerBridge, n_train: int, n_test: int, seed: int = 0
) -> tuple[Problems, Problems]:
    """``n_train`` training and ``n_test`` test problems for ``model``'s task, all distinct, so
    no test problem is trained on.

    Example:
        >>> train, test = split_problems(model, 2000, 500)                    # doctest: +SKIP
    """
    check_int("n_train", n_train, minimum=1)
    check_int("n_test", n_test, minimum=1)
    problems = arithmetic_encoder(model).sample(n_train + n_test, seed)
    return problems[:n_train], problems[n_train:]


def compare_finetuning(
    model: TransformerBridge,
    components: list[str],
    *,
    steps: int = 100,
    lr: float = 1e-3,
    n_train: int = 2000,
    n_test: int = 500,
    others: dict[str, TokenBatch] | None = None,
    control: torch.Tensor | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Precise vs full fine-tuning from copies of ``model``.

    Example:
        >>> other = PromptBuilder(tok, task, template="{a} plus {b} is ")  # doctest: +SKIP
        >>> compare_finetuning(model, ["L1.H0"], others={"plus": other.encode(probs)})  # doctest: +SKIP

    Reports per method: trained weights, held-out accuracy before and after (test problems
    disjoint from the training ones: :func:`split_problems`), teacher-forced accuracy on each of
    ``others`` (name -> encoded batch of another task the model can do: another prompt
    template, operation or digit count) before and after as ``<name>_before`` /
    ``<name>_after``, and KL(original || tuned) on ``control`` tokens (default: 64 random token
    sequences of length 24; pass real text for an LLM).
    """
    train_problems, test_problems = split_problems(model, n_train, n_test, seed)
    test = encoder_of(model).encode(test_problems)
    others = dict(others or {})
    for name, batch in others.items():
        if not isinstance(batch, TokenBatch):
            raise ArithlensError(
                f"others[{name!r}] is a {type(batch).__name__}: expected an encoded TokenBatch"
            )
    if control is None:
        g = torch.Generator().manual_seed(seed + 2)
        control = torch.randint(model.cfg.d_vocab, (64, 24), generator=g)
    with torch.no_grad():
        ref = model(control).log_softmax(-1)
    before = accuracy(model, test)
    others_before = {name: accuracy(model, batch) for name, batch in others.items()}
    rows = []
    for name, comps in (("precise", components), ("full", None)):
        tuned = copy_model(model)
        info = finetune(
            tuned, comps, steps=steps, lr=lr, problems=train_problems, seed=seed, progress=progress
        )
        row = {
            "method": name,
            "trained_weights": info["trained_weights"],
            "accuracy_before": before,
            "accuracy_after": accuracy(tuned, test),
        }
        for other, batch in others.items():
            row[f"{other}_before"] = others_before[other]
            row[f"{other}_after"] = accuracy(tuned, batch)
        row |= {"control_kl": _kl(tuned, control, ref), "final_loss": info["final_loss"]}
        rows.append(row)
    return pd.DataFrame(rows)
