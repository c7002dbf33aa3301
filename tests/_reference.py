"""Reference implementations written for the tests, one example at a time with plain hooks, so
that they share no code path with the batched versions they check."""

from __future__ import annotations

import torch

from arithlens.models.contract import encoder_of
from arithlens.tasks import answer_digits, carries


@torch.no_grad()
def reference_flip(
    model, probes, target: str, layer: int, pos: int, *, n: int, seed: int, along: str
) -> float:
    """Share of the examples the model answers right at the carried digit whose digit becomes
    the carry-flipped one when the activation at (layer hook, pos) is reflected through the
    probe's boundary along ``along`` (the definition in arithlens.probes.causal)."""
    enc = encoder_of(model)
    place = model.task.answer_digit(target.split(".", 1)[1])
    problems = enc.sample(n, seed + 7919)
    batch = enc.encode(problems)
    digit_ids = enc.digit_token_ids()
    u, c = probes.direction(target, layer, pos, kind=along)
    hook = probes.hooks[layer]
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


@torch.no_grad()
def reference_path_patch(model, batch, metric, *, mlps: str, receivers="logits", senders=None):
    """Path patching as Wang et al. define it, one sender at a time with plain run_with_hooks:
    the clean run with the sender head's z from the corrupt run and every other head's z frozen
    at clean; MLP outputs frozen at clean too when ``mlps == "freeze"``, else recomputed. To the
    logits: the metric of that run. To q/k/v receivers: their q/k/v recorded in that run and
    patched into an otherwise untouched clean run, whose metric is returned."""
    L, H = model.cfg.n_layers, model.cfg.n_heads
    names = [f"blocks.{i}.attn.hook_z" for i in range(L)] + [
        f"blocks.{i}.hook_mlp_out" for i in range(L)
    ]
    clean = model.run_with_cache(batch.clean.tokens, names_filter=lambda n: n in names)[1]
    corrupt = model.run_with_cache(batch.corrupt.tokens, names_filter=lambda n: n in names)[1]
    out = torch.full((L, H), float("nan"))
    for layer, head in senders or [(i, h) for i in range(L) for h in range(H)]:
        hooks = []
        for i in range(L):

            def set_z(z, hook=None, i=i, layer=layer, head=head):
                z = clean[f"blocks.{i}.attn.hook_z"].clone()
                if i == layer:
                    z[:, :, head] = corrupt[f"blocks.{i}.attn.hook_z"][:, :, head]
                return z

            hooks.append((f"blocks.{i}.attn.hook_z", set_z))
            if mlps == "freeze":
                hooks.append(
                    (
                        f"blocks.{i}.hook_mlp_out",
                        lambda m, hook=None, i=i: clean[f"blocks.{i}.hook_mlp_out"],
                    )
                )
        if receivers == "logits":
            logits = model.run_with_hooks(batch.clean.tokens, fwd_hooks=hooks)
        else:
            seen = {}
            for r_layer, r_head, x in receivers:
                name = f"blocks.{r_layer}.attn.hook_{x}"

                def record(act, hook=None, name=name, r_head=r_head):
                    seen[(name, r_head)] = act[:, :, r_head].clone()
                    return act

                hooks.append((name, record))
            model.run_with_hooks(batch.clean.tokens, fwd_hooks=hooks)
            patch = []
            for (name, r_head), value in seen.items():

                def put(act, hook=None, r_head=r_head, value=value):
                    act = act.clone()
                    act[:, :, r_head] = value
                    return act

                patch.append((name, put))
            logits = model.run_with_hooks(batch.clean.tokens, fwd_hooks=patch)
        out[layer, head] = metric(logits).mean()
    return out


def reference_attribution(model, batch, metric):
    """Gradient of the metric at the corrupt run times (clean - corrupt) z, summed per head."""
    L = model.cfg.n_layers
    names = [f"blocks.{i}.attn.hook_z" for i in range(L)]
    clean = model.run_with_cache(batch.clean.tokens, names_filter=lambda n: n in names)[1]
    kept = {}

    def keeper(name):
        def keep(z, hook=None):
            z.retain_grad()
            kept[name] = z
            return z

        return keep

    with torch.enable_grad():
        hooks = [(n, keeper(n)) for n in names]
        logits = model.run_with_hooks(batch.corrupt.tokens, fwd_hooks=hooks)
        metric(logits).mean().backward()
    rows = []
    for n in names:
        diff = clean[n] - kept[n].detach()
        rows.append((kept[n].grad * diff).sum(dim=(0, 1, 3)))
    model.zero_grad(set_to_none=True)
    return torch.stack(rows)


def assert_head_by_pos_matches_transformer_lens(model, batch, metric, *, min_effect: float = 0.0):
    """arithlens's head x position patching of ``hook_z`` equals
    ``transformer_lens.patching.get_act_patch_attn_head_out_by_pos`` (to 1e-5), and some cell
    has an effect above ``min_effect`` (so the comparison is not between zeros); returns ours."""
    from transformer_lens import patching as tlp

    from arithlens.patching import activation_patch

    ours = activation_patch(
        model, batch, "z", by=("layer", "pos", "head"), metric=metric, progress=False
    )
    cache = model.run_with_cache(batch.clean.tokens)[1]
    theirs = tlp.get_act_patch_attn_head_out_by_pos(
        model, batch.corrupt.tokens, cache, lambda lg: metric(lg).mean()
    )
    assert torch.allclose(ours.values, theirs, atol=1e-5)
    assert ours.effect().abs().max() > min_effect
    return ours
