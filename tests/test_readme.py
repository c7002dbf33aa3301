"""The README's code runs as written: every ```python block, in order in one namespace, with
only its sizes scaled down, and the Hugging Face models it names replaced by local checkpoints
of the same architectures (no network in tests). A renamed function or argument fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.test_imports import adder_checkpoint, hooked_checkpoint, nanogpt_checkpoint

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [
    "widgets",
    "tasks",
    "models",
    "zoo",
    "analyses",
    "llm",
    "figures",
    "sweeps",
    "benchmarks",
    "development",
]
"""The pages of ``docs/``, in the order their examples run (after the README's)."""
PAGES = [README, *(ROOT / "docs" / f"{name}.md" for name in DOCS)]

# (README text, what runs instead): sizes scaled down, Hub ids to local toy checkpoints
SMALLER = [
    ("n=4000", "n=200"),
    ("al.tasks.sample(task, 1000,", "al.tasks.sample(task, 200,"),
    ("al.TrainConfig(steps=500)", "al.TrainConfig(steps=3, eval_every=3, n_test=50)"),
    (
        "al.TrainConfig(steps=400, eval_every=20)",
        "al.TrainConfig(steps=4, eval_every=2, n_test=50)",
    ),
    ("PatchingExplorer(model, n=32)", "PatchingExplorer(model, n=8)"),
    ("corrupt_pairs(model.task, 256,", "corrupt_pairs(model.task, 16,"),
    ('target="carry", n=5000', 'target="carry", n=600'),
    ("causal_flip(model, res, n=256)", "causal_flip(model, res, n=32)"),
    (
        'al.load("gpt2", template="{a}+{b}=", shots=3)',
        'al.load(TOY["gpt2"], template="{a}+{b}=", shots=3)',
    ),
    (
        'al.load("meta-llama/Llama-3.2-1B", dtype="bfloat16", device_map="auto")',
        'al.load(TOY["llama"], template="{a}+{b}=", dtype="float32")',
    ),
    ('pairs(128, change="a.units")', 'pairs(8, change="a.units")'),
    ('"carry.tens", n=2000', '"carry.tens", n=300'),
    ('["L9.H3", "L10.H1", "mlp.L10"], steps=200', '["L1.H3", "L0.H1", "mlp.L1"], steps=2'),
]


def blocks() -> list[tuple[str, str]]:
    """``(page:line, code)`` of every python block of the README, then of each docs page."""
    out = []
    for page in PAGES:
        text = page.read_text()
        out += [
            (f"{page.name}:{text[: m.start()].count(chr(10)) + 1}", m.group(1))
            for m in re.finditer(r"```python\n(.*?)```", text, flags=re.S)
        ]
    return out


def test_the_readme_is_short_with_contents_and_links_every_docs_page():
    """At most 400 lines, none over 200 characters, a table of contents whose anchors are
    headings, and a link to every docs page (each of which exists and links back)."""
    text = README.read_text()
    lines = text.splitlines()
    assert len(lines) <= 400 and max(len(line) for line in lines) <= 200
    headings = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^## (.+)$", text, flags=re.M)
    }
    anchors = re.findall(r"\]\(#([a-z0-9-]+)\)", text)
    assert anchors and set(anchors) <= headings, set(anchors) - headings
    for page in PAGES[1:]:
        assert f"](docs/{page.name})" in text, page.name
        assert "](../README.md)" in page.read_text(), page.name
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages == {p.name for p in PAGES[1:]}, pages


def test_every_readme_example_runs(tmp_path, monkeypatch):
    from arithlens.models.toy import toy_checkpoint

    code = "\n".join(c for _, c in blocks())
    for old, new in SMALLER:
        assert old in code, f"the README no longer says {old!r}: update SMALLER"
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)  # results/ and runs/ land here
    toy = {a: toy_checkpoint(tmp_path / f"toy-{a}", a) for a in ("gpt2", "llama")}
    # the files "Bring your own model" loads, in their layouts (random weights)
    _, config, _ = hooked_checkpoint(tmp_path)  # writes model.pth
    (tmp_path / "config.json").write_text(json.dumps(config))
    nanogpt_checkpoint(tmp_path)  # ckpt.pt
    adder_checkpoint(tmp_path)  # adder.pt
    namespace: dict = {"TOY": toy}
    exec(compile(code, str(README), "exec"), namespace)
    # the last block's names are the Hugging Face ones: they ran on a local Llama checkpoint
    assert namespace["model"].cfg.n_layers == 2 and (tmp_path / "results" / "z").is_dir()


@pytest.mark.parametrize("line_code", blocks(), ids=lambda lc: f"line{lc[0]}")
def test_readme_blocks_parse(line_code):
    line, code = line_code
    compile(code, line, "exec")
