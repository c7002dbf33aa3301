"""The package's floors, in the order data flows, and the rule that imports only go down.

base -> tasks -> tokens -> models -> analyses -> plots -> faces. Every ``import`` of an arithlens
module inside the package (at module level, inside a function, or type-only under
``TYPE_CHECKING``: a type is a dependency too) must go to the same or a lower floor, and the module
graph has no cycle. An upward import that
must stay for a while goes in ``KNOWN`` with its reason (none today); a new one fails this test,
and so does an entry of ``KNOWN`` that is no longer needed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "arithlens"

FLOORS = [
    (
        "base",
        [
            "arithlens.errors",
            "arithlens._atomic",
            "arithlens._text",
            "arithlens._records",
            "arithlens._plotting",
            "arithlens.choices",
            "arithlens.version",
            "arithlens._moved",
            "arithlens.sweeps",
        ],
    ),
    ("tasks", ["arithlens.tasks", "arithlens._saving"]),
    ("tokens", ["arithlens.tokens"]),
    (
        "models",
        ["arithlens.models"],
    ),
    ("analyses", ["arithlens.analyses", "arithlens.patching", "arithlens.probes"]),
    ("plots", ["arithlens.plots"]),
    (
        "faces",
        [
            "arithlens.faces",
            "arithlens.widgets",
            "arithlens.figures",
            "arithlens.cli",
            "arithlens.llm",
            "arithlens",
        ],
    ),
]

# (importer, imported): why it is still there. Each is a debt of issue 16.
KNOWN: dict[tuple[str, str], str] = {}


def _module(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _floor(module: str) -> int:
    best = max(
        (
            (i, len(p))
            for i, (_, ps) in enumerate(FLOORS)
            for p in ps
            if module == p or module.startswith(p + ".")
        ),
        key=lambda x: x[1],
        default=None,
    )
    assert best is not None, f"{module} is on no floor: add it to FLOORS"
    return best[0]


MODULES = {_module(p) for p in ROOT.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Arithlens modules ``path`` imports; ``from package import submodule`` is the submodule."""
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "arithlens":
                subs = {f"{node.module}.{a.name}" for a in node.names} & MODULES
                out |= subs or {node.module}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "arithlens"}
    return out


def _graph() -> dict[str, set[str]]:
    return {_module(p): _imports(p) for p in sorted(ROOT.rglob("*.py"))}


def test_imports_only_go_down_the_floors():
    upward = {(m, t) for m, targets in _graph().items() for t in targets if _floor(t) > _floor(m)}
    new = upward - set(KNOWN)
    assert not new, f"imports up the floors: {sorted(new)}"
    stale = set(KNOWN) - upward
    assert not stale, f"no longer needed in KNOWN: {sorted(stale)}"


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``edges`` (module -> modules it imports), or None."""
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> list[str] | None:
        if m in path:
            return path[path.index(m) :] + [m]
        if m in done:
            return None
        for t in sorted(edges.get(m, ())):
            found = visit(t, path + [m])
            if found:
                return found
        done.add(m)
        return None

    return next((c for m in sorted(edges) if (c := visit(m, []))), None)


def test_the_module_graph_has_no_cycle():
    graph = _graph()
    edges = {m: {t for t in ts if t in graph and t != m} for m, ts in graph.items()}
    cycle = _cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checker_sees_an_upward_and_a_cyclic_import(tmp_path):
    # the rule would catch a floor violation: tokens importing patching is up two floors
    assert _floor("arithlens.patching.metrics") > _floor("arithlens.tokens.encoders")
    fake = tmp_path / "m.py"
    fake.write_text(
        "from typing import TYPE_CHECKING\n"
        "from arithlens.patching import metrics\n"
        "if TYPE_CHECKING:\n    from arithlens.plots import x\n"
        "def f():\n    import arithlens.widgets\n"
    )
    assert _imports(fake) == {"arithlens.patching.metrics", "arithlens.plots", "arithlens.widgets"}
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_literal_choices_are_the_ones_checked_at_run_time():
    from typing import get_args

    from arithlens import choices
    from arithlens.analyses.circuits import ABLATE
    from arithlens.probes.causal import MODES
    from arithlens.probes.targets import CONTROL_TYPES
    from arithlens.tasks.arithmetic.samplers import STRATEGIES

    assert get_args(choices.Strategy) == STRATEGIES
    assert get_args(choices.Ablate) == ABLATE
    assert get_args(choices.ControlTypes) == CONTROL_TYPES
    assert get_args(choices.FlipMode) == MODES


def test_hook_names_are_spelled_only_in_the_sites_registry():
    """Every hook name comes from :mod:`arithlens.models.sites`: a string literal naming a
    block hook anywhere else in the package is a second registry."""
    spelled = []
    for path in sorted(ROOT.rglob("*.py")):
        if _module(path) == "arithlens.models.sites":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value.startswith("blocks.") and "hook_" in node.value:
                    spelled.append(f"{_module(path)}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    v.value
                    for v in node.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                )
                if text.startswith("blocks.") and "hook_" in text:
                    spelled.append(f"{_module(path)}:{node.lineno} f-string {text!r}")
    assert not spelled, spelled
