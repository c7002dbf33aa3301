"""Train a Hugging Face stand-in (a small GPT-2 on arithmetic in several templates, with its own
byte-level BPE tokenizer) into a folder of your choice, and write its card: held-out exact match
per template and operand length. The zoo's stand-in (``add2-gpt2``) is rebuilt with
``arithlens zoo rebuild --only add2-gpt2``; this script varies it.

    python scripts/train_stand_in.py OUT [--steps N] [--seed S] [--card-only]

Then ``al.load(OUT, template="{a}+{b}=")`` boots it like any Hugging Face model; see
:mod:`arithlens.models.stand_in`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from arithlens.faces.zoo_rebuild import build_stand_in, write_stand_in_card
from arithlens.models.stand_in import StandInConfig


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=StandInConfig.steps)
    p.add_argument("--seed", type=int, default=StandInConfig.seed)
    p.add_argument("--card-only", action="store_true", help="score an existing folder")
    a = p.parse_args(argv)
    folder = Path(a.out)
    if a.card_only:
        write_stand_in_card(folder)
    else:
        config = dataclasses.replace(StandInConfig(), steps=a.steps, seed=a.seed)
        folder = build_stand_in(folder, config)
    print(json.dumps(json.loads((folder / "card.json").read_text())["held_out"]))


if __name__ == "__main__":
    main()
