"""The commands that map a model: ``arithlens mechanism`` (node maps, sub-tasks, clauses) and
``arithlens numbers`` (spectra, helix fits, causal tests, Fourier filters)."""

from __future__ import annotations

import argparse
from pathlib import Path

from arithlens._atomic import check_writable
from arithlens.cli.commands import _load_model
from arithlens.errors import ArithlensError


def _cmd_mechanism(a: argparse.Namespace) -> int:
    from arithlens._atomic import write_text
    from arithlens.analyses.mechanism import mechanism_map
    from arithlens.analyses.mechanism.subtasks import SUBTASKS
    from arithlens.plots import figures_html

    check_writable(a.out)
    if not 0 < a.threshold <= 1:
        raise ArithlensError(f"--threshold {a.threshold} is invalid: expected a number in (0, 1]")
    codes = tuple(c.strip() for c in a.codes.split(",") if c.strip())
    if not codes or set(codes) - set(SUBTASKS):
        raise ArithlensError(f"--codes {a.codes!r} is invalid: expected some of {list(SUBTASKS)}")
    model = _load_model(a)
    m = mechanism_map(model, n=a.n, seed=a.seed, min_fail=a.min_fail, name=a.model)
    from arithlens.models.contract import task_of

    if a.search and getattr(task_of(model), "op", None) == "add":  # the built-in sub-tasks
        m = m.search(model, codes, threshold=a.threshold, n=a.pairs, seed=a.seed).test()
    out = Path(a.out)
    m.save(out / "map")
    write_text(out / "mechanism.md", m.document())
    figs = [m.plot("fail"), m.plot("impact")]
    write_text(out / "mechanism.html", figures_html(figs, title=f"mechanism map of {a.model}"))
    print(m.to_frame().to_string(index=False))
    if m.clauses:
        s = m.clause_summary()
        print(
            f"{s['held']} of {s['total']} clauses of Quirke & Barez's account hold; sub-tasks "
            f"explain {s['explained']:.0%} of the useful nodes"
        )
    print(
        f"{len(m.nodes)} useful nodes at {len(m.useful_positions)} positions; complement "
        f"ablation keeps exact match {m.complement_exact:.4f} (model {m.base_exact:.4f}); wrote "
        f"{out / 'mechanism.md'}, {out / 'mechanism.html'} and {out / 'map'}/"
    )
    return 0


def _cmd_numbers(a: argparse.Namespace) -> int:
    import pandas as pd

    from arithlens._atomic import write_text
    from arithlens.analyses import numbers as nb
    from arithlens.plots import causal_figure, figures_html, filter_figure

    check_writable(a.out)
    model = _load_model(a)
    L = int(model.cfg.n_layers)
    layers = a.layers if a.layers is not None else list(range(L))
    bad = [x for x in layers if not 0 <= x < L]
    if bad:
        raise ArithlensError(f"--layers {bad} are not in the model: expected 0..{L - 1}")
    out = Path(a.out)
    spectra, rows = [], []
    for site, layer in [("embed", 0)] + [(a.site, x) for x in layers]:
        acts = nb.number_activations(model, site, layer, seed=a.seed)
        s = nb.spectrum(acts.values, acts.numbers, site=acts.label)
        spectra.append(s.plot())
        rows.append(dict(site=acts.label, top=s.top(5)))
    table = nb.causal_table(model, layers, n_pairs=a.pairs, site=a.site, seed=a.seed)
    ft = nb.filter_table(model, n=a.prompts, split=a.split, seed=a.seed)
    write_text(out / "spectra.csv", pd.DataFrame(rows).to_csv(index=False))
    write_text(out / "causal.csv", table.to_csv(index=False))
    write_text(out / "filter.csv", ft.to_csv(index=False))
    figs = [*spectra, causal_figure(table), filter_figure(ft)]
    write_text(out / "numbers.html", figures_html(figs, title=f"numbers in {a.model}"))
    for r in rows:
        print(f"{r['site']}: top periods {r['top'][:3]}")
    cols = ["layer", "periods", "cv_r2", "full", "helix", "pca", "circle", "poly"]
    print(
        table[[*cols, "helix-shuffled", "fit_drop", "random_drop"]].round(3).to_string(index=False)
    )
    best = table.loc[table["full"].idxmax()]
    print(
        f"best layer {int(best['layer'])}: helix {tuple(best['periods'])} restores LD "
        f"{best['helix']:.2f} of {best['full']:.2f} (shuffled {best['helix-shuffled']:.2f}); wrote "
        f"{out / 'causal.csv'}, {out / 'filter.csv'}, {out / 'spectra.csv'} and {out / 'numbers.html'}"
    )
    return 0
