"""Heuristic neurons (Nikankin et al. 2024, "Arithmetic without algorithms"): each MLP neuron's
activation at the last prompt position, over a grid of operand pairs ``(a, b)``, classified by
the simplest rule that explains it:

- ``a range`` / ``b range`` / ``result range``: an indicator of one contiguous interval of the
  operand (or of the result ``a + b``) explains at least ``threshold`` of the neuron's variance;
- ``a mod n`` / ``b mod n`` / ``result mod n`` (``n`` in 2..10): the residue classes explain at
  least ``threshold`` of it (the smallest such ``n``);
- ``none``.

"Explains" is the correlation ratio eta^2 (between-group over total variance of the pattern),
``threshold`` 0.6 after Nikankin et al.'s t = 0.6 — a variant: they threshold the share of
top-activating prompts matching the pattern; ours scores the whole pattern. Where several rules
pass, the one with the largest eta^2 is the label.

Then the share of the layer's effect a class carries: every neuron of the layer outside the
class mean-ablated (at the last position), accuracy of the first answer token, beside keeping
as many random neurons (seeded), keeping none and keeping all.

Example:
    >>> res = classify_neurons(al.load("add2-gpt2"), layer=3)             # doctest: +SKIP
    >>> res.labels.value_counts(); res.effect                            # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from jaxtyping import Float
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from arithlens.errors import ArithlensError, check_int
from arithlens.models import sites
from arithlens.models.contract import encoder_of, task_of
from arithlens.tasks.arithmetic.problems import Problems

MODULI = tuple(range(2, 11))


def eta2(values: Float[np.ndarray, "n neuron"], groups: np.ndarray) -> np.ndarray:
    """``(neuron,)`` the share of each column's variance explained by the group means."""
    x = np.asarray(values, dtype=np.float64)
    total = ((x - x.mean(0)) ** 2).sum(0)
    _, inv = np.unique(groups, return_inverse=True)
    sums = np.zeros((inv.max() + 1, x.shape[1]))
    np.add.at(sums, inv, x)
    counts = np.bincount(inv)[:, None]
    between = (sums**2 / counts).sum(0) - x.sum(0) ** 2 / len(x)
    return between / np.maximum(total, 1e-300)


def best_interval(values: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the largest eta^2 of an indicator of one contiguous interval of ``key``'s
    values, and the interval ``(low, high)``."""
    x = np.asarray(values, dtype=np.float64)
    levels, inv = np.unique(key, return_inverse=True)
    V, n = len(levels), len(x)
    sums = np.zeros((V, x.shape[1]))
    np.add.at(sums, inv, x)
    counts = np.bincount(inv, minlength=V).astype(np.float64)
    cs = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(sums, 0)])
    cc = np.concatenate([[0.0], np.cumsum(counts)])
    total_sum = x.sum(0)
    total = ((x - x.mean(0)) ** 2).sum(0)
    best = np.full(x.shape[1], -1.0)
    where = np.zeros((x.shape[1], 2))
    for i in range(V):
        s_in = cs[i + 1 :] - cs[i]  # (V - i, neuron): intervals [i, j]
        c_in = (cc[i + 1 :] - cc[i])[:, None]
        c_out = n - c_in
        ok = (c_out > 0)[:, 0]
        if not ok.any():
            continue
        s_in, c_in, c_out = s_in[ok], c_in[ok], c_out[ok]
        between = s_in**2 / c_in + (total_sum - s_in) ** 2 / c_out - total_sum**2 / n
        e = between / np.maximum(total, 1e-300)
        j = e.argmax(0)
        val = e[j, np.arange(x.shape[1])]
        better = val > best
        best[better] = val[better]
        hi = np.flatnonzero(ok)[j] + i
        where[better] = np.stack([np.full(better.sum(), levels[i]), levels[hi[better]]], 1)
    for j, (lo, hi) in enumerate(where):  # name the side the neuron fires on
        inside = (key >= lo) & (key <= hi)
        if x[inside, j].mean() < x[~inside, j].mean() and (lo == levels[0]) != (hi == levels[-1]):
            out = levels[~np.isin(levels, levels[(levels >= lo) & (levels <= hi)])]
            where[j] = (out.min(), out.max())
    return best, where


@dataclass(frozen=True)
class NeuronClasses:
    """Labels of one MLP layer's neurons.

    Attributes:
        layer: the MLP; threshold: the eta^2 a rule needs.
        table: one row per neuron: ``neuron``, ``label``, ``eta2`` (of the label's rule),
            ``detail`` (the interval or residue), and every rule's eta^2.
        effect: one row per kept set: ``kept`` (a class, ``random <class>``, ``all``,
            ``none``), ``n_neurons``, ``accuracy``.
    """

    layer: int
    threshold: float
    table: pd.DataFrame
    effect: pd.DataFrame

    @property
    def labels(self) -> pd.Series:
        return self.table["label"]


def classify(
    acts: Float[np.ndarray, "n neuron"], a: np.ndarray, b: np.ndarray, threshold: float = 0.6
) -> pd.DataFrame:
    """Label each neuron (column of ``acts``) of a grid of ``(a, b)`` (module docstring).

    Example:
        >>> a, b = np.meshgrid(np.arange(20), np.arange(20)); a, b = a.ravel(), b.ravel()
        >>> acts = np.stack([(a >= 12).astype(float), ((a + b) % 5 == 0) * 1.0], 1)
        >>> classify(acts, a, b)["label"].tolist()
        ['a range', 'result mod 5']
    """
    if not 0 < threshold <= 1:
        raise ArithlensError(f"threshold={threshold!r} is invalid: expected a number in (0, 1]")
    x = np.asarray(acts, dtype=np.float64)
    keys = {"a": np.asarray(a), "b": np.asarray(b), "result": np.asarray(a) + np.asarray(b)}
    scores: dict[str, np.ndarray] = {}
    details: dict[str, list[str]] = {}
    for name, key in keys.items():
        e, iv = best_interval(x, key)
        scores[f"{name} range"] = e
        details[f"{name} range"] = [f"{int(lo)}..{int(hi)}" for lo, hi in iv]
        mods = np.stack([eta2(x, key % m) for m in MODULI])  # (modulus, neuron)
        passing = mods >= threshold
        first = np.where(passing.any(0), passing.argmax(0), mods.argmax(0))
        scores[f"{name} mod"] = mods[first, np.arange(x.shape[1])]
        details[f"{name} mod"] = [f"mod {MODULI[k]}" for k in first]
    names = list(scores)
    grid = np.stack([scores[k] for k in names], 1)
    best = grid.argmax(1)
    rows = []
    for j in range(x.shape[1]):
        k = names[best[j]]
        ok = grid[j, best[j]] >= threshold
        label = "none"
        if ok:
            label = k if k.endswith("range") else f"{k.split()[0]} {details[k][j]}"
        rows.append(
            dict(
                neuron=j,
                label=label,
                eta2=float(grid[j, best[j]]),
                detail=details[k][j] if ok else "",
                **{f"eta2 {n}": float(scores[n][j]) for n in names},
            )
        )
    return pd.DataFrame(rows)


def classify_neurons(
    model: TransformerBridge,
    layer: int,
    numbers: list[int] | range | None = None,
    threshold: float = 0.6,
    n_random: int = 3,
    seed: int = 0,
) -> NeuronClasses:
    """Classify the neurons of MLP ``layer`` over every pair of ``numbers`` (default the
    operands 0..99 of a prompted model, 0..9 digit pairs at the units of a digit-level model)
    and measure each class's share of the layer's effect (module docstring)."""
    check_int("layer", layer, minimum=0)
    if layer >= model.cfg.n_layers:
        raise ArithlensError(
            f"layer={layer} is not in the model: expected 0..{model.cfg.n_layers - 1}"
        )
    tokens, a, b, answer = _grid(model, numbers)
    hook = sites.site("mlp_post").at(layer)
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, names_filter=lambda n: n == hook)
    acts = cache[hook][:, -1]  # (prompt, neuron)
    table = classify(acts.double().numpy(), a, b, threshold)
    mean = acts.mean(0)
    right = logits[:, -1].argmax(-1) == answer
    rows = [dict(kept="all", n_neurons=acts.shape[1], accuracy=float(right.double().mean()))]
    rng = np.random.default_rng(seed)
    sets: dict[str, list[int]] = {"none": []}
    for label in sorted(set(table["label"]) - {"none"}):
        sets[label] = table.index[table["label"] == label].tolist()
    for name, keep in sets.items():
        rows.append(
            dict(
                kept=name,
                n_neurons=len(keep),
                accuracy=_kept(model, tokens, hook, mean, keep, answer),
            )
        )
        if name != "none":
            rand = [
                _kept(
                    model,
                    tokens,
                    hook,
                    mean,
                    rng.choice(acts.shape[1], len(keep), replace=False).tolist(),
                    answer,
                )
                for _ in range(n_random)
            ]
            rows.append(
                dict(kept=f"random {name}", n_neurons=len(keep), accuracy=float(np.mean(rand)))
            )
    return NeuronClasses(layer, threshold, table, pd.DataFrame(rows))


def _kept(
    model: TransformerBridge,
    tokens: Tensor,
    hook: str,
    mean: Tensor,
    keep: list[int],
    answer: Tensor,
) -> float:
    drop = torch.ones(len(mean), dtype=torch.bool)
    drop[keep] = False

    def fn(act: Tensor, hook: Any = None) -> Tensor:
        act = act.clone()
        act[:, -1, drop] = mean[drop].to(act.dtype)
        return act

    with torch.no_grad():
        logits = model.run_with_hooks(tokens, fwd_hooks=[(hook, fn)])[:, -1]
    return float((logits.argmax(-1) == answer).double().mean())


def _grid(model: TransformerBridge, numbers: Any) -> tuple[Tensor, np.ndarray, np.ndarray, Tensor]:
    """Prompts of every pair, their operands and the first answer token."""
    from arithlens.analyses.numbers.activations import is_prompted
    from arithlens.analyses.numbers.causal import _first_answer, _prompts

    task = task_of(model)
    enc = encoder_of(model)
    if is_prompted(model):
        nums = list(range(10**task.n_digits)) if numbers is None else [int(x) for x in numbers]
        pairs = [(x, y) for x in nums for y in nums]
        problems = Problems.from_ints(task, pairs)
        tokens, _ = _prompts(model, problems)
        a, b = np.array(pairs).T
    else:
        nums = list(range(10)) if numbers is None else [int(x) for x in numbers]
        if task.op != "add":
            raise ArithlensError(f"{task.name}: the neuron grid is for addition")
        pairs = [(x, y) for x in nums for y in nums]
        problems = Problems.from_ints(task, pairs)
        batch = enc.encode(problems)
        tokens = batch.tokens[:, : int(batch.prompt_len[0])]
        a, b = np.array(pairs).T
    return tokens, a, b, _first_answer(enc, problems)
