"""The first report on a model: accuracy by digit, by carry and by cascade, with a figure.

``arithlens demo`` writes it for the bundled default model into ``./out/``.

Example:
    >>> paths = write_report(al.load("add3-2L"), "out")   # doctest: +SKIP
    >>> sorted(paths)                                         # doctest: +SKIP
    ['csv', 'figure', 'json', 'markdown']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from transformer_lens.model_bridge import TransformerBridge

from arithlens._atomic import write_text
from arithlens.analyses.evaluation import evaluate
from arithlens.models.contract import task_of


def _table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for rec in frame.itertuples(index=False):
        rows.append(
            "| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in rec) + " |"
        )
    return "\n".join(rows)


def _markdown(name: str, task: Any, n: int, strategies: dict[str, Any]) -> list[str]:
    """The report's lines: per sample, exact match and the tables by digit, carry and class."""
    md = [
        f"# arithlens report: {name}",
        "",
        f"Task `{task.name}`; {n} problems per sample; mode {next(iter(strategies.values())).mode}.",
        "",
    ]
    for label, res in strategies.items():
        md += [
            f"## {label} sample: exact match {res.exact_match:.4f}",
            "",
            "### accuracy per answer digit",
            "",
            _table(res.per_digit().rename_axis("digit").reset_index()),
            "",
            "### by carry into the digit",
            "",
            _table(res.by_carry()),
            "",
        ]
        if task.op != "mul":
            md += [
                "### by cascade class",
                "",
                _table(res.by_cascade()),
                "",
                "### by Quirke & Barez digit class",
                "",
                _table(res.by_class()),
                "",
            ]
    return md


def write_report(
    model: TransformerBridge, out: str | Path, *, n: int = 4000, seed: int = 0, name: str = "model"
) -> dict[str, Path]:
    """Evaluate ``model`` on uniform and cascade-balanced problems; write md, csv, json, html."""
    out = Path(out)
    task = task_of(model)
    uniform = evaluate(model, n=n, seed=seed)
    strategies = {"uniform": uniform}
    if task.op != "mul":
        strategies["cascade"] = evaluate(model, n=n, seed=seed + 1, strategy="cascade")
    frames = []
    for label, res in strategies.items():
        f = res.to_frame()
        f.insert(0, "sample", label)
        frames.append(f)
    table = pd.concat(frames, ignore_index=True)
    shown = strategies.get("cascade", uniform)
    fig = shown.plot(
        title=f"{name} ({task.name}): exact match {uniform.exact_match:.4f} uniform, {shown.exact_match:.4f} on the {'cascade-balanced' if 'cascade' in strategies else 'uniform'} set"
    )
    md = _markdown(name, task, n, strategies)
    paths = {
        "markdown": write_text(out / "report.md", "\n".join(md)),
        "csv": write_text(out / "accuracy.csv", table.to_csv(index=False)),
        "json": write_text(
            out / "summary.json",
            json.dumps({k: v.summary() for k, v in strategies.items()}, indent=1),
        ),
        "figure": write_text(
            out / "accuracy.html", fig.to_html(include_plotlyjs=True, full_html=True)
        ),
    }
    return paths
