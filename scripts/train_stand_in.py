"""Train the Hugging Face stand-in (a small GPT-2 on arithmetic in several templates, with its
own byte-level BPE tokenizer), write it as a Hugging Face folder, and write its card: held-out
exact match per template and operand length.

    python scripts/train_stand_in.py OUT [--steps N] [--seed S] [--n N]

Then ``al.load(OUT, template="{a}+{b}=")`` boots it like any Hugging Face model; see
:mod:`arithlens.models.stand_in`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

import arithlens as al
from arithlens._atomic import write_text
from arithlens.evaluation import prompt_exact
from arithlens.models.stand_in import (
    MAX_DIGITS,
    TEMPLATES,
    StandInConfig,
    held_out_pair,
    train_stand_in,
)


def held_out_accuracy(folder: Path, n: int = 300, seed: int = 0) -> dict[str, dict[str, float]]:
    """Teacher-forced exact match (equal to greedy decoding) on ``n`` held-out operand pairs per
    template and operand length (both operands of that many digits)."""
    model = al.load(folder, template=TEMPLATES["equation"])
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, float]] = {}
    for name, template in TEMPLATES.items():
        out[name] = {}
        for d in range(1, MAX_DIGITS + 1):
            lo, hi = (0 if d == 1 else 10 ** (d - 1)), 10**d
            pairs: list[tuple[int, int]] = []
            while len(pairs) < n:
                a, b = (int(x) for x in rng.integers(lo, hi, 2))
                if held_out_pair(a, b):
                    pairs.append((a, b))
            prompts = [template.format(a=a, b=b) for a, b in pairs]
            exact = prompt_exact(model, prompts, [str(a + b) for a, b in pairs])
            out[name][str(d)] = float(exact.mean())
    return out


def card(folder: Path, accuracy: dict[str, dict[str, float]]) -> str:
    info = json.loads((folder / "stand_in.json").read_text())
    c = info["config"]
    rows = "\n".join(
        f"| `{TEMPLATES[t]!r}` | " + " | ".join(f"{v:.3f}" for v in acc.values()) + " |"
        for t, acc in accuracy.items()
    )
    head = " | ".join(f"{d} digits" for d in range(1, MAX_DIGITS + 1))
    return (
        f"# {folder.name}\n\n"
        "A small GPT-2 trained by `scripts/train_stand_in.py` on additions written as LLMs read "
        "them (four templates, few-shot blocks, sentences), with its own byte-level BPE. It "
        'loads like any Hugging Face model: `al.load(folder, template="{a}+{b}=")`.\n\n'
        f"- GPT-2: {c['n_layer']} layers, {c['n_head']} heads, d_model {c['n_embd']}, "
        f"context {c['n_positions']}, vocabulary {c['vocab_size']}\n"
        f"- training: {c['steps']} AdamW steps of {c['batch_size']} x {c['window']} tokens, lr "
        f"{c['lr']}, seed {c['seed']}; final loss {info['final_loss']:.3f}; {info['wall_s']:.0f} s\n\n"
        "Held-out exact match (operand pairs never trained on; teacher-forced, equal to greedy "
        "decoding):\n\n"
        f"| template | {head} |\n|---|" + "---|" * MAX_DIGITS + f"\n{rows}\n"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=StandInConfig.steps)
    p.add_argument("--seed", type=int, default=StandInConfig.seed)
    p.add_argument("--n", type=int, default=300, help="held-out pairs per template and length")
    p.add_argument("--card-only", action="store_true", help="score an existing folder")
    a = p.parse_args(argv)
    folder = Path(a.out)
    if not a.card_only:
        config = dataclasses.replace(StandInConfig(), steps=a.steps, seed=a.seed)
        folder = train_stand_in(folder, config)
    accuracy = held_out_accuracy(folder, a.n)
    write_text(folder / "card.json", json.dumps(accuracy, indent=1))
    write_text(folder / "README.md", card(folder, accuracy))
    print(json.dumps(accuracy))


if __name__ == "__main__":
    main()
