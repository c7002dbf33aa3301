"""Mean ablation of position-resolved nodes, scored teacher-forced: a head's output (``hook_z``
at one position and head) or an MLP's (``hook_mlp_out`` at one position) is replaced by its mean
over the evaluated problems at that position (Quirke & Barez ablate with the mean over their
test questions), and every answer token is read from one forward pass with the answer in
context (exact match this way equals greedy decoding; a digit is right given a right prefix).

Example:
    >>> run = Runner(model, problems)                                 # doctest: +SKIP
    >>> run.score([Node(8, 1, 2)]).exact.mean()                       # doctest: +SKIP
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor
from transformer_lens.model_bridge import TransformerBridge

from arithlens.analyses.mechanism.nodes import Node, check_node
from arithlens.models import sites
from arithlens.models.contract import encoder_of
from arithlens.tokens.tokenizer import TokenBatch


def node_hooks(model: TransformerBridge) -> list[str]:
    """The hooks whose outputs are nodes: every layer's ``hook_z`` and ``hook_mlp_out``."""
    return [sites.hook(k, layer) for layer in range(model.cfg.n_layers) for k in ("z", "mlp_out")]


@dataclass(frozen=True)
class Scored:
    """One run's answers: ``exact`` ``(problem,)`` every answer token right; ``digit_ok``
    ``(problem, digit)`` each answer digit right given the right ones before it (digit 0 =
    units)."""

    exact: np.ndarray
    digit_ok: np.ndarray


class Runner:
    """Runs ``model`` on ``problems`` with chosen nodes mean-ablated.

    Attributes:
        batch: the encoded problems (one layout: fixed-width tasks).
        labels: ``"pos:role"`` per position.
        base: the unablated run's :class:`Scored`.
    """

    def __init__(
        self, model: TransformerBridge, problems: Any, means: dict[str, Tensor] | None = None
    ) -> None:
        self.model = model
        self.batch: TokenBatch = encoder_of(model).encode(problems)
        self.labels = encoder_of(model).position_labels(self.batch)
        cfg = model.cfg
        self.shape = (int(cfg.n_layers), int(cfg.n_heads), int(self.batch.tokens.shape[1]))
        if means is not None:  # ablate with means taken elsewhere (a larger test, in batches)
            with torch.no_grad():
                logits = model(self.batch.tokens)
            self.means = means
        else:
            names = node_hooks(model)
            with torch.no_grad():
                logits, cache = model.run_with_cache(
                    self.batch.tokens, names_filter=lambda n: n in names
                )
            self.means = {n: cache[n].mean(0) for n in names}  # (pos, head, d) / (pos, d)
        self.base = self._score(logits)

    @cached_property
    def patterns(self) -> np.ndarray:
        """``(layer, head, query, key)``: every head's attention, averaged over the problems."""
        from arithlens.analyses import attention

        with torch.no_grad():
            return attention.patterns(self.model, self.batch.tokens).mean(1).numpy()

    def mean_pattern(self, layer: int, head: int) -> np.ndarray:
        """``(query, key)``: one head's mean attention."""
        return self.patterns[layer, head]

    def check(self, nodes: list[Node | str]) -> list[Node]:
        return [check_node(n, *self.shape) for n in nodes]

    def score(self, nodes: list[Node]) -> Scored:
        """Answers with every node of ``nodes`` mean-ablated."""
        if not nodes:
            return self.base
        with torch.no_grad():
            logits = self.model.run_with_hooks(self.batch.tokens, fwd_hooks=self._hooks(nodes))
        return self._score(logits)

    def _hooks(self, nodes: list[Node]) -> sites.Hooks:
        by_hook: dict[str, list[Node]] = defaultdict(list)
        for node in nodes:
            by_hook[sites.hook("z" if node.is_head else "mlp_out", node.layer)].append(node)
        hooks: sites.Hooks = []
        for name, group in by_hook.items():
            mean = self.means[name]

            def hook(act: Tensor, hook: Any = None, group: list = group, mean: Tensor = mean):
                act = act.clone()
                for node in group:
                    if node.is_head:
                        act[:, node.pos, node.head] = mean[node.pos, node.head]
                    else:
                        act[:, node.pos] = mean[node.pos]
                return act

            hooks.append((name, hook))
        return hooks

    def _score(self, logits: Tensor) -> Scored:
        b = self.batch
        pred = logits[:, :-1].argmax(-1)
        exact = ((pred == b.tokens[:, 1:]) | ~b.target_mask()).all(1)
        pos = b.answer_pos
        safe = pos.clamp(min=1)
        right = torch.gather(pred, 1, safe - 1) == torch.gather(b.tokens, 1, safe)
        return Scored(exact.numpy(), (right | (pos < 0)).numpy())
