"""Atomic writes under real process kills (subprocess + SIGKILL): a killed save leaves the old
checkpoint whole, its leftovers are removed by the next save, and a killed resumable sweep
resumes to exactly the uninterrupted result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from arithlens._atomic import _exchange, clean_stale, write_dir, write_file
from arithlens.models import build_model, checkpoint
from arithlens.patching import activation_patch
from arithlens.tasks import TaskSpec, corrupt_pairs

ROOT = Path(__file__).resolve().parents[1]


def _start(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _kill_when_ready(proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait for the child to print ``ready`` (it is then inside the write), then SIGKILL it."""
    line = proc.stdout.readline()
    assert line.strip() == "ready", line + proc.stderr.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=timeout)
    assert proc.returncode == -signal.SIGKILL


SAVE_AND_HANG = """
import sys, time
import safetensors.torch as st
from arithlens.models import build_model, checkpoint
from arithlens.tasks import TaskSpec

real = st.save_file
def save_then_hang(*a, **k):
    real(*a, **k)
    print("ready", flush=True)  # the weights are half of the new folder: now kill me
    time.sleep(600)
checkpoint.save_file = save_then_hang
checkpoint.save(build_model("1L", TaskSpec(op="add", n_digits=2), seed=1), sys.argv[1])
"""


def test_a_killed_save_keeps_the_old_checkpoint_and_the_next_save_cleans_up(tmp_path):
    task = TaskSpec(op="add", n_digits=2)
    folder = tmp_path / "ckpt"
    old = build_model("1L", task, seed=0)
    checkpoint.save(old, folder)
    proc = _start(SAVE_AND_HANG, str(folder))
    _kill_when_ready(proc)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "ckpt"]
    assert len(leftovers) == 1 and leftovers[0].startswith(f".ckpt.{proc.pid}.")
    back = checkpoint.load(folder)  # the old checkpoint, whole
    for name, tensor in old.state_dict().items():
        assert torch.equal(back.state_dict()[name], tensor), name
    checkpoint.save(build_model("1L", task, seed=2), folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


SWEEP_AND_DIE = """
import sys, time, torch
torch.set_num_threads(2)
import arithlens as al
from arithlens.models import zoo
from arithlens.patching import activation
from arithlens.tasks import corrupt_pairs

real = activation.SweepStore.put
def put_then_hang(self, layer, values):
    real(self, layer, values)
    print("ready", flush=True)  # layer 0 is on disk: now kill me
    time.sleep(600)
activation.SweepStore.put = put_then_hang
model = al.load("add3-2L")
pairs = corrupt_pairs(model.task, 24, change="b.tens", seed=5)
activation.activation_patch(model, pairs, "z", by=("layer", "pos", "head"), progress=False,
                            resume_dir=sys.argv[1])
"""


def test_a_killed_sweep_resumes_to_exactly_the_uninterrupted_result(tmp_path, zoo_add3_2l):
    folder = tmp_path / "sweep"
    proc = _start(SWEEP_AND_DIE, str(folder))
    _kill_when_ready(proc)
    assert sorted(p.name for p in folder.iterdir()) == ["layer_0.safetensors", "sweep.json"]
    pairs = corrupt_pairs(zoo_add3_2l.task, 24, change="b.tens", seed=5)
    kw = dict(by=("layer", "pos", "head"), progress=False)
    resumed = activation_patch(zoo_add3_2l, pairs, "z", resume_dir=folder, **kw)
    fresh = activation_patch(zoo_add3_2l, pairs, "z", **kw)
    assert torch.equal(resumed.values, fresh.values)
    assert sorted(p.name for p in folder.iterdir()) == [
        "layer_0.safetensors",
        "layer_1.safetensors",
        "sweep.json",
    ]


REWRITE_FOREVER = """
import sys
from pathlib import Path
from arithlens._atomic import write_dir
print("ready", flush=True)
i = 0
while True:
    i += 1
    write_dir(sys.argv[1], lambda tmp: (Path(tmp) / "n").write_text(str(i)))
"""


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="renameat2(RENAME_EXCHANGE) is Linux's"
)
def test_a_replaced_folder_never_stops_existing(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    if not _exchange(a, b):
        pytest.skip("this file system cannot exchange two paths")
    folder = tmp_path / "out"
    write_dir(folder, lambda tmp: (tmp / "n").write_text("0"))
    proc = _start(REWRITE_FOREVER, str(folder))
    assert proc.stdout.readline().strip() == "ready"
    seen, missing, deadline = set(), 0, time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            seen.add((folder / "n").read_text())
        except FileNotFoundError:
            missing += 1
    proc.kill()
    proc.wait()
    assert missing == 0 and len(seen) > 5  # many versions seen, never a missing folder
    clean_stale(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "out"]


def test_leftovers_of_live_writers_are_kept_and_of_dead_ones_removed(tmp_path):
    target = tmp_path / "f.txt"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()
    (tmp_path / f".f.txt.{dead}.x1.tmp").write_text("half")
    (tmp_path / f".f.txt.old-{dead}").mkdir()
    (tmp_path / f".f.txt.{os.getppid()}.x2.tmp").write_text("a live writer's")
    (tmp_path / ".other.txt.1.x3.tmp").write_text("another target's")
    write_file(target, lambda tmp: tmp.write_text("new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["f.txt", f".f.txt.{os.getppid()}.x2.tmp", ".other.txt.1.x3.tmp"]
    )
    assert target.read_text() == "new"


def test_a_failing_fill_leaves_the_old_folder_and_no_litter(tmp_path):
    folder = tmp_path / "out"
    write_dir(folder, lambda tmp: (tmp / "v").write_text("1"))

    def fail(tmp):
        (tmp / "v").write_text("2")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_dir(folder, fail)
    assert (folder / "v").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
