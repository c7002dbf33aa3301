"""A non-editable install carries the zoo: build the wheel-equivalent install of this source
tree into a fresh folder (no dependencies, no network, no build isolation) and load a zoo model
from there, outside the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_non_editable_install_loads_the_zoo(tmp_path):
    # build from a copy, so that setuptools' build folders never land in the source tree
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", ".*_cache", "out", "node_modules"
        ),
    )
    target = tmp_path / "site"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )
    assert build.returncode == 0, build.stderr[-2000:]
    code = (
        "import arithlens as al; from pathlib import Path; "
        "import arithlens.figures; "
        "print(Path(al.__file__).resolve()); m = al.load('add3-2L'); "
        "print(al.evaluate(m, n=200, seed=0).exact_match); "
        "s = al.load('add2-gpt2'); print(s.encoder.template)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("ARITHLENS_ZOO", None)
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    where, acc, template = run.stdout.strip().splitlines()[-3:]
    assert template == "{a}+{b}="  # the Hugging Face stand-in and its tokenizer came along
    assert Path(where).is_relative_to(target.resolve())  # not the source tree
    assert float(acc) > 0.99
