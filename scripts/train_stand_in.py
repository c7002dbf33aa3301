"""Train the Hugging Face stand-in (a small GPT-2 on arithmetic in several templates, with its
own byte-level BPE tokenizer) and write it as a Hugging Face folder.

    python scripts/train_stand_in.py OUT [--steps N] [--seed S]

Then ``al.load(OUT, template="{a}+{b}=")`` boots it like any Hugging Face model; see
:mod:`arithlens.models.stand_in`.
"""

from __future__ import annotations

import argparse
import dataclasses

from arithlens.models.stand_in import StandInConfig, train_stand_in


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=StandInConfig.steps)
    p.add_argument("--seed", type=int, default=StandInConfig.seed)
    a = p.parse_args(argv)
    config = dataclasses.replace(StandInConfig(), steps=a.steps, seed=a.seed)
    print(f"wrote {train_stand_in(a.out, config)}")


if __name__ == "__main__":
    main()
