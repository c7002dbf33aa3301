"""Reference implementations written for the tests, one example at a time with plain hooks, so
that they share no code path with the batched versions they check."""

from __future__ import annotations

import torch

from arithlens.encoders import encoder_of
from arithlens.tasks import answer_digits, carries


@torch.no_grad()
def reference_flip(
    model, probes, target: str, layer: int, pos: int, *, n: int, seed: int, direction: str
) -> float:
    """Share of the examples the model answers right at the carried digit whose digit becomes
    the carry-flipped one when the activation at (layer hook, pos) is reflected through the
    probe's boundary along ``direction`` (the definition in arithlens.probes.causal)."""
    enc = encoder_of(model)
    place = model.task.answer_digit(target.split(".", 1)[1])
    problems = enc.sample(n, seed + 7919)
    batch = enc.encode(problems)
    digit_ids = enc.digit_token_ids()
    u, c = probes.direction(target, layer, pos, kind=direction)
    hook = probes.meta["hooks"][layer]
    hits = used = 0
    for i in range(len(problems)):
        tokens = batch.tokens[i : i + 1]
        ppos = int(batch.answer_pos[i, place]) - 1
        truth = int(batch.tokens[i, ppos + 1])
        if int(model(tokens)[0, ppos].argmax()) != truth:
            continue
        used += 1

        def reflect(act, hook=None):
            act = act.clone()
            x = act[0, pos]
            s = float(x @ u) + c
            act[0, pos] = x - 2 * s * u / float(u @ u)
            return act

        pred = int(model.run_with_hooks(tokens, fwd_hooks=[(hook, reflect)])[0, ppos].argmax())
        carry = int(carries(problems[i : i + 1])[0, place])
        digit = int(answer_digits(problems[i : i + 1])[0, place])
        step = 1 - 2 * carry
        flipped = (digit + (step if model.task.op == "add" else -step)) % 10
        hits += pred == int(digit_ids[flipped])
    return hits / used
