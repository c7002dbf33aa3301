"""The mechanism document of a :class:`~arithlens.analyses.mechanism.maps.MechanismMap`: Markdown
with the useful positions and nodes, the nodes behind each answer digit, a Mermaid flowchart and
the complement-ablation number, made from the map's saved fields alone (so a saved map's JSON
regenerates it without the model).

Example:
    >>> print(render(MechanismMap.load("maps/add3-2L")))             # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from arithlens.analyses.mechanism.nodes import compact_digits, parse_node


def render(m: Any) -> str:
    """The document of map ``m``."""
    lines = [
        f"# Mechanism map: {m.model} ({m.task})",
        "",
        f"{m.n} uniform problems (seed {m.seed}); the model's exact match on them is "
        f"{m.base_exact:.4f}. A node is a head's or an MLP's output at one position "
        "(`P{pos}L{layer}H{head}`, `P{pos}L{layer}M`), mean-ablated with its mean over these "
        "problems at that position; answers are read teacher-forced. A position (all its nodes "
        f"ablated) or a node is useful when ablating it makes more than {m.min_fail:.2%} of the "
        "problems fail (Quirke & Barez 2024).",
        "",
        "## Useful positions",
        "",
        "| position | role | fail |",
        "|---|---|---|",
    ]
    for p in m.useful_positions:
        lines.append(f"| {p} | {_role(m, p)} | {m.position_fail[p]:.1%} |")
    lines += _nodes(m) + _by_digit(m) + _subtasks(m) + _clauses(m) + _mermaid(m)
    lines += _faithfulness(m)
    return "\n".join(lines) + "\n"


def _role(m: Any, pos: int) -> str:
    return m.pos_labels[pos].split(":", 1)[-1]


def _nodes(m: Any) -> list[str]:
    lines = [
        "",
        f"## Useful nodes ({len(m.nodes)})",
        "",
        "| node | role | fail | impact | attends to | fails on |",
        "|---|---|---|---|---|---|",
    ]
    for d in m.nodes:
        att = ", ".join(f"{k.split(':', 1)[-1]} {v:.0%}" for k, v in d["attention"].items())
        lines.append(
            f"| {d['name']} | {d['role']} | {d['fail']:.1%} | {compact_digits(d['impact'])} | "
            f"{att} | {' '.join(d['classes'])} |"
        )
    return lines


def _by_digit(m: Any) -> list[str]:
    """Which nodes break each answer digit; nodes breaking several are listed as shared."""
    lines = ["", "## Nodes behind each answer digit", ""]
    for name in reversed(m.digit_names):
        who = [d["name"] for d in m.nodes if name in d["impact"]]
        lines.append(f"- **{name}**: {', '.join(who) if who else 'none'}")
    shared = [d["name"] for d in m.nodes if len(d["impact"]) > 1]
    lines += ["", f"Shared nodes (break more than one digit): {', '.join(shared) or 'none'}."]
    return lines


_WHAT = {
    "BA": "`BA` base add (the column's sum)",
    "MC": "`MC` make carry (clean + 10^(n+1))",
    "MS": "`MS` make sum 9 (column n sums to 9 after a carry: clean + 10^(n+1))",
    "US": "`US` use sum 9 (a carry cascades through a column summing to 9: clean + 10^(n+1))",
    "UC": "`UC` use carry (a carry out of column n, made or cascaded: clean + 10^(n+1))",
}


def _subtasks(m: Any) -> list[str]:
    if not m.subtasks:
        return []
    lines = [
        "",
        "## Sub-tasks (strong interventions)",
        "",
        "A node does a sub-task when taking its activation from the store question into the "
        "clean one gives the expected answer (every answer token) on at least the threshold of "
        "the pairs: "
        + "; ".join(_WHAT[c] for c in _WHAT if any(v["code"] == c for v in m.subtasks.values()))
        + ".",
        "",
        "| sub-task | digit it feeds | nodes | best success |",
        "|---|---|---|---|",
    ]
    for key, s in m.subtasks.items():
        best = ", ".join(f"{k} {v:.0%}" for k, v in list(s["best"].items())[:3])
        lines.append(f"| {key} | {s['target']} | {', '.join(s['nodes']) or 'none'} | {best} |")
    return lines


def _clauses(m: Any) -> list[str]:
    if not m.clauses:
        return []
    held = sum(c["holds"] for c in m.clauses)
    tagged = {n for s in m.subtasks.values() for k in s["nodes"] for n in k.split("+")}
    share = len(tagged & {d["name"] for d in m.nodes}) / max(len(m.nodes), 1)
    lines = [
        "",
        "## Hypothesis",
        "",
        f"{held} of {len(m.clauses)} clauses hold; sub-tasks explain {share:.0%} of the useful "
        "nodes.",
        "",
    ]
    for c in m.clauses:
        mark = "holds" if c["holds"] else "fails"
        lines.append(f"- {c['clause']}: **{mark}** ({', '.join(c['evidence']) or 'no node'})")
    return lines


def _mermaid(m: Any) -> list[str]:
    """A flowchart: operand positions the heads read -> the nodes -> the answer digits."""
    lines = ["", "## Flow", "", "```mermaid", "flowchart LR"]
    for d in m.nodes:
        node = parse_node(d["name"])
        kind = "" if node.is_head else ":::mlp"
        lines.append(f'  {d["name"]}["{d["name"]} @ {d["role"]}"]{kind}')
        for src in d["attention"]:
            lines.append(f'  in{src.split(":")[0]}(["{src.split(":", 1)[-1]}"]) --> {d["name"]}')
        for digit in d["impact"]:
            lines.append(f'  {d["name"]} --> out_{digit}(("{digit}"))')
    lines += ["  classDef mlp fill:#eef", "```"]
    return lines


def _faithfulness(m: Any) -> list[str]:
    if m.complement_exact is None:
        return []
    return [
        "",
        "## Faithfulness of the map",
        "",
        f"Every node outside the {len(m.nodes)} useful ones mean-ablated, at every position: "
        f"exact match {m.complement_exact:.4f} (the full model: {m.base_exact:.4f}) on the "
        f"map's {m.n} problems."
        + (
            f" On {m.complement_large['n']} fresh problems (means over them): "
            f"{m.complement_large['complement_exact']:.4f} (the full model: "
            f"{m.complement_large['model_exact']:.4f})."
            if m.complement_large
            else ""
        ),
    ]
