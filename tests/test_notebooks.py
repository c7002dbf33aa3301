"""Every notebook runs, cell by cell, at quick sizes (``ARITHLENS_QUICK=1``), in its folder.

One Jupyter kernel runs them all: before each notebook its names are wiped (``%reset -f``), so a
notebook cannot lean on another's variables, while imported modules stay loaded (a fresh
kernel per notebook spent ~10 s of each run importing torch, transformer_lens and arithlens).
A cell that raises fails the notebook's test with the cell and the traceback."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def kernel():
    env = {**os.environ, "ARITHLENS_QUICK": "1", "HF_HUB_OFFLINE": "1"}
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(ROOT / "notebooks"), env=env)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _run(kc, code: str) -> list[str]:
    """Execute ``code``; the error's traceback lines if it raised, else an empty list."""
    errors: list[str] = []

    def output(msg: dict) -> None:
        if msg["msg_type"] == "error":
            errors.extend(ANSI.sub("", line) for line in msg["content"]["traceback"])

    reply = kc.execute_interactive(code, timeout=600, output_hook=output, store_history=False)
    if reply["content"]["status"] == "error" and not errors:
        errors.append(f"{reply['content']['ename']}: {reply['content']['evalue']}")
    return errors


def test_every_notebook_is_listed():
    assert len(NOTEBOOKS) == 12 and NOTEBOOKS[0].name.startswith("01_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(kernel, path):
    assert not _run(kernel, "%reset -f")
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        errors = _run(kernel, cell.source)
        assert not errors, f"{path.name}, code cell {i}:\n{cell.source}\n\n" + "\n".join(errors)


def test_a_failing_cell_is_reported(kernel):
    errors = _run(kernel, "raise ValueError('this cell fails')")
    assert any("this cell fails" in line for line in errors)
    assert not _run(kernel, "%reset -f\nx = 1")
    assert _run(kernel, "%reset -f\nx")  # the reset wipes the names
