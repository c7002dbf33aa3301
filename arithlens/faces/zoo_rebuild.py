"""Rebuilding the zoo: train each model from its recipe, score it on its held-out set, save it
with its model card. It sits above the analyses (it evaluates), so it is not part of
:mod:`arithlens.models.zoo`; ``arithlens zoo rebuild`` runs it.

Example:
    >>> rebuild(["add3-2L"])                        # doctest: +SKIP
    {'add3-2L': 1.0}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import numpy as np
from transformer_lens.model_bridge import TransformerBridge

from arithlens._atomic import write_text
from arithlens.analyses.evaluation import evaluate, length_generalization, prompt_exact, text_scores
from arithlens.models.checkpoint import save
from arithlens.models.hf import load_pretrained
from arithlens.models.stand_in import (
    MAX_DIGITS,
    TEMPLATES,
    StandInConfig,
    held_out_pair,
    train_stand_in,
)
from arithlens.models.train import held_out
from arithlens.models.zoo import RECIPES, STAND_INS, StandIn, _check_name, model_card, zoo_dir
from arithlens.tasks import Problems, TextProblems, TextTask, has, max_length

LENGTH_WIDTHS = (1, 2, 4, 6, 8, 9, 10, 12, 16, 20, 24)
"""Operand widths a mixed-length zoo model's card reports."""
SORT_LENGTHS = (1, 5, 10, 12, 15, 20, 25, 30, 40, 50)
"""Sequence lengths a sorting zoo model's card reports (those its context holds)."""
CARD_WIDTHS: dict[str, Callable[[TextTask], Sequence[int]]] = {
    "length": lambda task: SORT_LENGTHS,
    "n_digits": lambda task: range(1, task.width + 1),
}
"""The widths a text family's card reports, by what a width counts (``width_name``)."""


def build(name: str, *, out: Path | None = None, progress: bool = True) -> TransformerBridge:
    """Train zoo model ``name`` from its recipe, evaluate it on its held-out set, save it."""
    _check_name(name)
    if name in STAND_INS:
        s = STAND_INS[name]
        folder = build_stand_in((out or zoo_dir()) / name, s.config, progress=progress, entry=s)
        return load_pretrained(folder, **s.prompts())
    r = RECIPES[name]
    model = r.train(progress=progress)
    test = held_out(r.task, r.config)
    if not has(r.task, "digits"):
        return _build_text(name, model, cast(TextProblems, test), out)
    res = evaluate(model, cast(Problems, test))
    model.record.final = {"held_out": res.summary()}
    if r.task.mixed:  # exact match by operand length, up to what the context holds
        widths = [w for w in LENGTH_WIDTHS if max_length(r.task.at_width(w)) <= model.cfg.n_ctx]
        table = length_generalization(model, widths, n=1000)
        model.record.final["length"] = table[["n_digits", "exact_match", "trained"]].to_dict(
            "records"
        )
    save(model, (out or zoo_dir()) / name, card=model_card(name, model))
    return model


def _build_text(
    name: str, model: TransformerBridge, test: TextProblems, out: Path | None
) -> TransformerBridge:
    _, exact = text_scores(model, test)
    task = test.task
    sizes = CARD_WIDTHS[task.width_name](task)
    lengths = [n for n in sizes if max_length(task.at_width(n)) <= model.cfg.n_ctx]
    table = length_generalization(model, lengths, n=1000)
    key = task.width_name
    model.record.final = {
        "held_out": {"exact_match": float(exact.mean()), "n": len(exact)},
        "length": table[[key, "exact_match", "trained"]].to_dict("records"),
    }
    save(model, (out or zoo_dir()) / name, card=model_card(name, model))
    return model


def rebuild(
    names: list[str] | None = None,
    *,
    out: Path | None = None,
    progress: bool = True,
    jobs: int = 1,
    cluster: str | None = None,
) -> dict[str, float]:
    """Retrain the zoo (or ``names``); returns held-out exact match per model. ``jobs`` > 1
    trains that many models at once on worker processes, ``cluster`` on a Dask scheduler
    (:mod:`arithlens.sweeps`; each model is one job)."""
    names = names or [*RECIPES, *STAND_INS]
    for n in names:
        _check_name(n)
    if jobs == 1 and cluster is None:
        return {n: _held_out_exact(build(n, out=out, progress=progress), n, out) for n in names}
    from arithlens.sweeps import run_each

    specs = [{"name": n, "out": str(out) if out else None} for n in names]
    table = run_each(
        "arithlens.faces.zoo_rebuild:build_job", "zoo model", specs, jobs, cluster, progress
    )
    return dict(zip(table["name"], table["exact"].astype(float)))


def build_job(name: str, out: str | None) -> dict[str, float]:
    """One zoo model rebuilt on a worker (a sweep job): its held-out exact match."""
    folder = Path(out) if out else None
    return {"exact": _held_out_exact(build(name, out=folder, progress=False), name, folder)}


def _held_out_exact(model: TransformerBridge, name: str, out: Path | None) -> float:
    if name in STAND_INS:
        card = json.loads(((out or zoo_dir()) / name / "card.json").read_text())
        return card["held_out"]["equation"]["all"]
    return model.record.final["held_out"]["exact_match"]


def stand_in_pairs() -> dict[str, list[tuple[int, int]]]:
    """Every held-out operand pair of a stand-in (:func:`held_out_pair`), by operand length:
    ``"1"`` and ``"2"`` (both operands of that many digits), ``"mixed"`` (one of each)."""
    out: dict[str, list[tuple[int, int]]] = {}
    top = 10**MAX_DIGITS
    for a in range(top):
        for b in range(top):
            if held_out_pair(a, b):
                la, lb = len(str(a)), len(str(b))
                out.setdefault(str(la) if la == lb else "mixed", []).append((a, b))
    return {k: out[k] for k in sorted(out)}


def stand_in_accuracy(
    model: TransformerBridge, *, bos: bool = False
) -> dict[str, dict[str, float]]:
    """Held-out exact match of a stand-in (:mod:`arithlens.models.stand_in`) per template and
    operand length, on every operand pair never trained on (:func:`stand_in_pairs`), scored
    teacher-forced (equal to greedy decoding: :func:`arithlens.analyses.evaluation.prompt_exact`);
    ``"all"`` pools every held-out pair. Prompts are tokenized as ``model.encoder`` writes them
    (no BOS token), or with ``bos=True`` after the BOS token TransformerBridge prepends.

    Example:
        >>> stand_in_accuracy(al.load("add2-gpt2"))["equation"]     # doctest: +SKIP
        {'1': 0.917, '2': 0.95, 'mixed': 0.94, 'all': 0.95}
    """
    out: dict[str, dict[str, float]] = {}
    groups = stand_in_pairs()
    tok = model.tokenizer if bos else model.encoder.tokenizer
    for name, template in TEMPLATES.items():
        right: dict[str, np.ndarray] = {}
        for key, pairs in groups.items():
            prompts = [template.format(a=a, b=b) for a, b in pairs]
            right[key] = prompt_exact(model, prompts, [str(a + b) for a, b in pairs], tok)
        out[name] = {k: float(v.mean()) for k, v in right.items()}
        out[name]["all"] = float(np.concatenate(list(right.values())).mean())
    return out


def build_stand_in(
    folder: Path,
    config: StandInConfig | None = None,
    *,
    progress: bool = True,
    entry: StandIn | None = None,
) -> Path:
    """Train a stand-in into ``folder``, score it (:func:`stand_in_accuracy`) and write its card
    (``card.json``, ``README.md``) beside the weights."""
    folder = train_stand_in(folder, config or StandInConfig(), progress=progress)
    write_stand_in_card(folder, entry=entry)
    return folder


def write_stand_in_card(folder: Path, *, entry: StandIn | None = None) -> dict:
    """Score the stand-in in ``folder`` and write ``card.json`` and ``README.md``."""
    model = load_pretrained(folder, template=TEMPLATES["equation"])
    accuracy = stand_in_accuracy(model)
    info = json.loads((folder / "stand_in.json").read_text())
    n = {k: len(v) for k, v in stand_in_pairs().items()}
    after_bos = stand_in_accuracy(model, bos=True)
    card = dict(
        held_out=accuracy,
        held_out_after_bos={t: v["all"] for t, v in after_bos.items()},
        n={**n, "all": sum(n.values())},
        trained=info,
        findings=stand_in_findings(model),
    )
    write_text(folder / "card.json", json.dumps(card, indent=1))
    write_text(folder / "README.md", _stand_in_card(folder.name, card, entry))
    return card


def stand_in_findings(model: TransformerBridge, n_pairs: int = 64, n_probe: int = 1500) -> dict:
    """What the LLM analyses find on a stand-in (prompts of its default template): how its
    tokenizer writes numbers; the key heads of a.units pairs (path patching to the logits) and
    their normalized faithfulness (every other head mean-ablated); linear probes at '=' for the
    units carry and the answer's units digit, best over the blocks, against the majority class
    and the same architecture with random weights."""
    from arithlens.analyses.circuits import faithfulness, key_heads
    from arithlens.probes import fit
    from arithlens.tokens.numbers import tokenization_summary

    batch = model.encoder.pairs(n_pairs, change="a.units")
    kh = key_heads(model, batch, share=0.8, progress=False)
    circuit = kh.heads[: kh.n_for_share]
    f = faithfulness(model, batch, circuit)
    probes = {}
    for target in ("carry.tens", "answer.units"):
        res = fit(model, target, n=n_probe, controls=("majority", "random_init"), progress=False)
        eq = next(i for i, label in enumerate(res.pos_labels) if label.endswith(":="))
        probes[target] = dict(
            at="=",
            trained=float(res.score[0, 1:, eq].max()),
            random_weights=float(res.random_init[0, 1:, eq].max()),
            majority=float(res.majority[0]),
        )
    return dict(
        tokenization=tokenization_summary(model.encoder.tokenizer),
        key_heads=dict(
            change="a.units",
            n_pairs=n_pairs,
            heads_for_80pct=kh.n_for_share,
            n_heads=model.cfg.n_layers * model.cfg.n_heads,
            heads=[f"L{layer}H{h}" for layer, h in circuit],
            faithfulness_normalized=f.normalized,
            faithfulness_ratio=f.ratio,
        ),
        probes=probes,
    )


_COLUMN = {"1": "1 digit", "2": "2 digits", "mixed": "1 and 2 digits", "all": "all"}


def _stand_in_card(name: str, card: dict, entry: StandIn | None) -> str:
    c, info = card["trained"]["config"], card["trained"]
    keys = list(card["n"])
    rows = [
        f"| `{TEMPLATES[t]!r}` | "
        + " | ".join(f"{acc[k]:.3f}" for k in keys)
        + f" | {card['held_out_after_bos'][t]:.3f} |"
        for t, acc in card["held_out"].items()
    ]
    template = entry.template if entry else TEMPLATES["equation"]
    lines = [
        f"# {name}",
        "",
        entry.note if entry else "A stand-in trained by `scripts/train_stand_in.py`.",
        "",
        "- format: a plain Hugging Face folder (`GPT2LMHeadModel`, `model.safetensors`, a "
        "byte-level BPE `tokenizer.json`); `al.load` boots it with `boot_transformers` like any "
        f"pretrained LLM, prompts `{template!r}` unless told otherwise",
        f"- GPT-2: {c['n_layer']} layers, {c['n_head']} heads, d_model {c['n_embd']}, context "
        f"{c['n_positions']}, vocabulary {c['vocab_size']}",
        f"- training: {c['steps']} AdamW steps of {c['batch_size']} x {c['window']} tokens "
        f"(documents packed), lr {c['lr']}, seed {c['seed']}; final loss "
        f"{info['final_loss']:.3f}; {info['wall_s']:.0f} s",
        "- held-out set: every operand pair never trained on (`held_out_pair`: a tenth of all "
        "pairs of 0-99, by a hash of the pair), in each template, tokenized as `model.encoder` "
        "writes prompts (no BOS; the last column: after the BOS token TransformerBridge "
        "prepends by default); exact match teacher-forced, the number ended by a non-digit "
        "(equal to greedy decoding)",
        "",
        "| template | "
        + " | ".join(_COLUMN.get(k, k) + f" ({card['n'][k]})" for k in keys)
        + " | all, after BOS |",
        "|---|" + "---|" * (len(keys) + 1),
        *rows,
        "",
        *_findings_lines(card.get("findings")),
        f"Rebuild with `arithlens zoo rebuild --only {name}`." if entry else "",
    ]
    return "\n".join(lines).rstrip() + "\n"


def _findings_lines(f: dict | None) -> list[str]:
    if not f:
        return []
    t, k = f["tokenization"], f["key_heads"]
    lines = [
        "Findings (prompts `{a}+{b}=` of two 2-digit operands):",
        "",
        f"- numbers are written `{t['scheme']}` (up to {t['max_digits_per_token']} digits per "
        f"token; mean tokens by digits {t['tokens_by_digits']})",
        f"- {k['heads_for_80pct']} of {k['n_heads']} heads carry 80% of the path-patching effect "
        f"of changing a's units ({', '.join(k['heads'])}); with every other head mean-ablated "
        f"they keep {k['faithfulness_normalized']:.2f} of it (normalized faithfulness)",
    ]
    for target, p in f["probes"].items():
        lines.append(
            f"- a linear probe for `{target}` at '=' (best block): {p['trained']:.2f}; the "
            f"majority class {p['majority']:.2f}; the same architecture with random weights "
            f"{p['random_weights']:.2f}"
        )
    return [*lines, ""]
