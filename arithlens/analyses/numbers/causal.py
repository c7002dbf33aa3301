"""Causal tests of a number representation (Kantamneni & Tegmark 2025, section 4): over pairs
that differ in the number ``a`` only and that the model answers right, the corrupted run gets,
at ``a``'s token of one site, a replacement built from the clean ``a``; the logit difference
restored is ``LD = logit_patched(clean answer) - logit_corrupted(clean answer)`` for the first
answer token, averaged over the pairs. Replacements:

- ``full``: the clean activation itself;
- a fit (``helix``, ``circle``, ``poly``, ``helix-shuffled``): ``mean + C B(a)`` of the clean a;
- ``pca``: the clean activation projected on the number PCA's top axes (as many as the helix
  has terms), plus the mean;
- ``mean``: the numbers' mean activation (what is left when a is forgotten).

And the subspace test: in the *clean* run, the activation's component in the fit's subspace
(the span of ``C``) is replaced by the mean's, beside random subspaces of equal dimension
(seeded, mean over seeds) and the whole activation mean-ablated; the drop in the clean
answer's logit and the accuracy left are reported.

Example:
    >>> table = causal_table(model, layers=[0, 1], n_pairs=100)           # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from tqdm.auto import tqdm
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses.numbers.activations import (
    _prompt_tokens,
    is_prompted,
    number_activations,
    single_token_numbers,
)
from arithlens.analyses.numbers.helix import PERIODS, HelixFit, fit_basis, fit_helix
from arithlens.errors import ArithlensError, check_int
from arithlens.models import sites
from arithlens.models.contract import encoder_of, task_of
from arithlens.tasks import sample
from arithlens.tasks.arithmetic.problems import Problems


@dataclass(frozen=True)
class NumberPairs:
    """Prompts differing in ``a``: ``clean`` / ``corrupt`` ``(pair, pos)`` tokens, ``pos`` of
    a's token, ``a`` the clean numbers, ``answer`` the clean first answer token, ``place`` the
    digit place (digit-level models)."""

    clean: Tensor
    corrupt: Tensor
    pos: Tensor
    a: np.ndarray
    answer: Tensor

    def __len__(self) -> int:
        return int(self.clean.shape[0])


def number_pairs(
    model: TransformerBridge,
    numbers: np.ndarray | list[int],
    n: int = 100,
    place: int = 0,
    seed: int = 0,
) -> NumberPairs:
    """Up to ``n`` pairs the model answers right whose first answer token differs, the clean
    and corrupted ``a`` drawn from ``numbers`` (a digit-level model: the digit of ``a`` at
    ``place``)."""
    check_int("n", n, minimum=1)
    nums = [int(x) for x in numbers]
    rng = np.random.default_rng(seed)
    task = task_of(model)
    enc: Any = encoder_of(model)
    draw = 4 * n
    if is_prompted(model):
        pool = single_token_numbers(model, 200)
        a = rng.choice(nums, draw)
        a2 = np.array([rng.choice([x for x in nums if x != v]) for v in a])
        b = rng.choice(pool, draw)
        clean_p = Problems.from_ints(task, zip(a.tolist(), b.tolist()))
        corrupt_p = Problems.from_ints(task, zip(a2.tolist(), b.tolist()))
        clean, pos = _prompts(model, clean_p)
        corrupt, _ = _prompts(model, corrupt_p)
    else:
        p = sample(task, draw, seed=seed)
        ca, xa = p.a.copy(), p.a.copy()
        a = rng.choice(nums, draw)
        ca[:, place] = a
        xa[:, place] = [rng.choice([x for x in nums if x != v]) for v in a]
        clean_p, corrupt_p = Problems(task, ca, p.b), Problems(task, xa, p.b)
        bc, bx = enc.encode(clean_p), enc.encode(corrupt_p)
        if bc.operand_pos is None:
            raise ArithlensError(f"{task.name}: the encoder does not know operand positions")
        n_prompt = int(bc.prompt_len[0])
        clean, corrupt = bc.tokens[:, :n_prompt], bx.tokens[:, :n_prompt]
        pos = bc.operand_pos[:, 0, place]
    first_clean = _first_answer(enc, clean_p)
    first_corrupt = _first_answer(enc, corrupt_p)
    with torch.no_grad():
        pred = model(clean)[:, -1].argmax(-1)
    keep = ((pred == first_clean) & (first_clean != first_corrupt)).nonzero().flatten()[:n]
    if len(keep) == 0:
        raise ArithlensError(
            "no pair of the model's task is answered right with a changed first answer token: "
            "expected a model that solves its task"
        )
    return NumberPairs(
        clean[keep], corrupt[keep], pos[keep], np.asarray(a)[keep.numpy()], first_clean[keep]
    )


def _prompts(model: TransformerBridge, problems: Problems) -> tuple[Tensor, Tensor]:
    enc: Any = encoder_of(model)
    texts = enc.prompts(problems)
    ids = enc.tokenizer(texts, add_special_tokens=False)["input_ids"]
    if len({len(t) for t in ids}) != 1:
        raise ArithlensError(
            f"prompts like {texts[0]!r} tokenize to different lengths: expected single-token "
            "numbers"
        )
    pos = []
    for x, b in problems.ints():
        _, p = _prompt_tokens(model, [x], b, check=True)
        pos.append(p[0])
    return torch.tensor(ids), torch.tensor(pos)


def _first_answer(enc: Any, problems: Problems) -> Tensor:
    """The first answer token of each problem, as the encoder writes it."""
    out = []
    for i in range(len(problems)):
        b = enc.encode(problems[i : i + 1])
        out.append(int(b.tokens[0, int(b.prompt_len[0])]))
    return torch.tensor(out)


def _patch_run(
    model: TransformerBridge, tokens: Tensor, hook: str, pos: Tensor, new: Tensor
) -> Tensor:
    """Last-position logits with ``new[i]`` written at ``pos[i]`` of ``hook``."""
    rows = torch.arange(len(tokens))

    def fn(act: Tensor, hook: Any = None) -> Tensor:
        act = act.clone()
        act[rows, pos] = new.to(act.dtype)
        return act

    with torch.no_grad():
        return model.run_with_hooks(tokens, fwd_hooks=[(hook, fn)])[:, -1]


def _acts(
    model: TransformerBridge, tokens: Tensor, hook: str, pos: Tensor
) -> tuple[Tensor, Tensor]:
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n == hook)
    return cache[hook][torch.arange(len(tokens)), pos], logits[:, -1]


def patch_fits(
    model: TransformerBridge,
    pairs: NumberPairs,
    layer: int,
    fits: dict[str, HelixFit],
    site: str = "resid_post",
    pca_dim: int | None = None,
) -> dict[str, float]:
    """Mean LD restored by each replacement (module docstring) at ``site`` of ``layer``:
    ``full``, ``mean``, ``pca`` (``pca_dim`` axes, default the first fit's dimension) and
    each of ``fits``."""
    hook = sites.site(site).at(layer)
    clean_act, _ = _acts(model, pairs.clean, hook, pairs.pos)
    _, corrupt_logits = _acts(model, pairs.corrupt, hook, pairs.pos)
    rows = torch.arange(len(pairs))
    base = corrupt_logits[rows, pairs.answer]
    any_fit = next(iter(fits.values()))
    mean = torch.from_numpy(any_fit.mean)
    dim = any_fit.dim if pca_dim is None else pca_dim
    axes = torch.from_numpy(any_fit.components[:dim])
    news = {
        "full": clean_act.double(),
        "mean": mean.expand(len(pairs), -1),
        "pca": mean + ((clean_act.double() - mean) @ axes.T) @ axes,  # (pair, d)
    }
    for name, fit in fits.items():
        news[name] = torch.from_numpy(fit.reconstruct(pairs.a))
    out = {}
    for name, new in news.items():
        logits = _patch_run(model, pairs.corrupt, hook, pairs.pos, new)
        out[name] = float((logits[rows, pairs.answer] - base).mean())
    return out


def ablate_subspace(
    model: TransformerBridge,
    pairs: NumberPairs,
    layer: int,
    fit: HelixFit,
    site: str = "resid_post",
    n_random: int = 5,
    seed: int = 0,
) -> dict[str, float]:
    """In the clean runs: the drop in the clean answer's logit, and the accuracy left, when the
    fit's subspace (span of C), a random subspace of equal dimension (mean over ``n_random``
    seeded draws) or the whole activation is mean-ablated at a's token."""
    hook = sites.site(site).at(layer)
    act, logits = _acts(model, pairs.clean, hook, pairs.pos)
    rows = torch.arange(len(pairs))
    base = logits[rows, pairs.answer]
    mean = torch.from_numpy(fit.mean)
    d = act.shape[-1]

    def run(basis: Tensor | None) -> tuple[float, float]:
        x = act.double()
        if basis is None:
            new = mean.expand_as(x)
        else:
            q, _ = torch.linalg.qr(basis)
            new = x - ((x - mean) @ q) @ q.T
        out = _patch_run(model, pairs.clean, hook, pairs.pos, new)
        drop = float((base - out[rows, pairs.answer]).mean())
        return drop, float((out.argmax(-1) == pairs.answer).double().mean())

    rng = np.random.default_rng(seed)
    fitted = run(torch.from_numpy(fit.C))
    rand = [run(torch.from_numpy(rng.standard_normal((d, fit.dim)))) for _ in range(n_random)]
    whole = run(None)
    return {
        "fit_drop": fitted[0],
        "fit_acc": fitted[1],
        "random_drop": float(np.mean([r[0] for r in rand])),
        "random_acc": float(np.mean([r[1] for r in rand])),
        "whole_drop": whole[0],
        "whole_acc": whole[1],
        "dim": float(fit.dim),
    }


def causal_table(
    model: TransformerBridge,
    layers: list[int] | None = None,
    periods: tuple[float, ...] = PERIODS,
    n_pairs: int = 100,
    site: str = "resid_post",
    place: int = 0,
    k: int = 100,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Layer by layer: the best helix subset of ``periods`` (held-out R^2), its baselines at
    equal dimension, the LD each restores, and the subspace ablation. One row per layer.

    Example:
        >>> causal_table(al.load("add2-gpt2"), layers=[0, 1], n_pairs=50)  # doctest: +SKIP
    """
    layers = list(range(model.cfg.n_layers)) if layers is None else layers
    rows = []
    pairs = None
    for layer in tqdm(layers, desc="layers", disable=not progress):
        acts = number_activations(model, site, layer, place=place, seed=seed)
        if pairs is None:
            pairs = number_pairs(model, acts.numbers, n_pairs, place=place, seed=seed)
        helix = fit_helix(acts.values, acts.numbers, periods, k=k, seed=seed)
        fits = {"helix": helix}
        for kind in ("circle", "poly", "helix-shuffled"):
            fits[kind] = fit_basis(acts.values, acts.numbers, kind, helix.periods, k=k, seed=seed)
        ld = patch_fits(model, pairs, layer, fits, site)
        sub = ablate_subspace(model, pairs, layer, helix, site, seed=seed)
        rows.append(
            dict(
                layer=layer,
                periods=helix.periods,
                r2=helix.r2,
                cv_r2=helix.cv_r2,
                n_pairs=len(pairs),
                **ld,
                **sub,
            )
        )
    return pd.DataFrame(rows)
