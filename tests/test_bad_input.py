"""Every bad input gets an ArithlensError that names the value and says what was expected.

One table of API cases and one of CLI cases. An API case is ``(id, call, pattern)``: ``call(ctx)``
must raise :class:`ArithlensError` (never a TypeError, IndexError, a bridge's ValueError or a
numpy MemoryError), and the message must match ``pattern``, which quotes the offending value. A
CLI case is ``(id, argv, code, pattern)``: ``main(argv)`` returns ``code``, prints no
traceback, ends stderr with one line matching ``pattern``, and writes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file

import arithlens as al
from arithlens.cli import main
from arithlens.errors import ArithlensError
from arithlens.models import ModelSpec, TrainConfig, build_model, checkpoint, zoo
from arithlens.patching import activation_patch, attribution_patch, path_patch
from arithlens.tasks import Problems, TaskSpec, corrupt_pairs, parse_problem, sample
from arithlens.tokens.tokenizer import CharTokenizer

ADD3 = TaskSpec(op="add", n_digits=3)
SUB3 = TaskSpec(op="sub", n_digits=3)
PLAIN3 = TaskSpec(op="add", n_digits=3, format="plain")
ADD5 = TaskSpec(op="add", n_digits=5)
SPEC = dict(n_layers=1, d_model=16, n_heads=2, d_head=8, d_mlp=32)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory, zoo_add3_2l):
    root = tmp_path_factory.mktemp("bad")
    ckpt = checkpoint.save(build_model("1L", TaskSpec(op="add", n_digits=2)), root / "ckpt")
    (root / "a-file").write_text("x")
    (root / "empty").mkdir()
    return SimpleNamespace(
        model=zoo_add3_2l,
        pairs=corrupt_pairs(ADD3, 8, change="a.units", seed=0),
        root=root,
        ckpt=ckpt,
        file=root / "a-file",
    )


def edited(ctx, name: str, edit) -> Path:
    """A copy of the tiny checkpoint with ``edit(meta dict, weights dict)`` applied."""
    folder = ctx.root / name
    if not folder.exists():
        shutil.copytree(ctx.ckpt, folder)
        meta = json.loads((folder / "arithlens.json").read_text())
        weights = load_file(str(folder / "model.safetensors"))
        edit(meta, weights)
        (folder / "arithlens.json").write_text(json.dumps(meta))
        save_file(weights, str(folder / "model.safetensors"))
    return folder


def meta_edit(**changes):
    def edit(meta, weights):
        for key, value in changes.items():
            section, _, field = key.partition("__")
            if field:
                if value is None:
                    meta[section].pop(field)
                else:
                    meta[section][field] = value
            else:
                meta[section] = value

    return edit


def poison(value: float):
    def edit(meta, weights):
        name = sorted(weights)[0]
        weights[name] = weights[name].clone()
        weights[name].view(-1)[3] = value

    return edit


def load_edited(name: str, edit):
    return lambda c: checkpoint.load(edited(c, name, edit))


def patch(**kw):
    return lambda c: activation_patch(c.model, c.pairs, progress=False, **kw)


def fit(**kw):
    kw = {"n": 200, "controls": (), "progress": False, **kw}
    return lambda c: al.probes.fit(c.model, **kw)


API = [
    # ---- tasks
    ("task-op", lambda c: TaskSpec(op="div", n_digits=3), r"op='div'"),
    ("task-digits-0", lambda c: TaskSpec(op="add", n_digits=0), r"n_digits=0"),
    ("task-digits-65", lambda c: TaskSpec(op="add", n_digits=65), r"n_digits=65"),
    ("task-digits-str", lambda c: TaskSpec(op="add", n_digits="3"), r"n_digits='3'"),
    ("task-format", lambda c: TaskSpec(op="add", n_digits=3, format="hex"), r"format='hex'"),
    ("task-pad", lambda c: TaskSpec(op="add", n_digits=3, pad="yes"), r"pad='yes'"),
    ("task-dict-missing", lambda c: TaskSpec.from_dict({"op": "add"}), r"\['n_digits'\]"),
    (
        "task-dict-extra",
        lambda c: TaskSpec.from_dict({"op": "add", "n_digits": 2, "hue": 1}),
        "hue",
    ),
    ("task-dict-list", lambda c: TaskSpec.from_dict([1, 2]), r"is a list"),
    ("operand-name", lambda c: ADD3.operand_digit("c.units"), r"'c'"),
    ("operand-range", lambda c: ADD3.operand_digit("a.thousands"), r"'a.thousands'"),
    ("operand-form", lambda c: ADD3.operand_digit("units"), r"'units'"),
    ("answer-range", lambda c: ADD3.answer_digit("d9"), r"'d9'"),
    ("place-name", lambda c: al.tasks.place_index("dozens"), r"'dozens'"),
    ("place-negative", lambda c: al.tasks.place_index(-1), r"digit -1"),
    ("sample-0", lambda c: sample(ADD3, 0), r"n=0"),
    ("sample-huge", lambda c: sample(ADD3, 10**10), r"n=10000000000 .*<= 10000000"),
    ("sample-float", lambda c: sample(ADD3, 2.5), r"n=2.5"),
    ("sample-strategy", lambda c: sample(ADD3, 5, strategy="magic"), r"strategy='magic'"),
    ("sample-unique", lambda c: sample(TaskSpec(op="add", n_digits=1), 200, unique=True), "n=200"),
    ("pairs-change", lambda c: corrupt_pairs(ADD3, 4, change="c.units"), r"'c"),
    ("pairs-n", lambda c: corrupt_pairs(ADD3, 0), r"n=0"),
    ("parse-text", lambda c: parse_problem(ADD3, "abc"), r"'abc'"),
    ("parse-op", lambda c: parse_problem(ADD3, "123*456"), r"\*"),
    ("parse-width", lambda c: parse_problem(ADD3, "1234+1"), r"1234"),
    ("from-ints-width", lambda c: Problems.from_ints(ADD3, [(1000, 1)]), r"1000"),
    ("from-ints-negative", lambda c: Problems.from_ints(SUB3, [(1, 2)]), r"1-2"),
    ("vocab", lambda c: CharTokenizer(vocab="aab_"), r"'aab_'"),
    ("encode-char", lambda c: CharTokenizer().encode("12x"), r"'x'"),
    ("decode-id", lambda c: CharTokenizer().decode([99]), r"token id 99"),
    # ---- training and model configs
    ("lr-negative", lambda c: TrainConfig(lr=-1), r"lr=-1"),
    ("lr-string", lambda c: TrainConfig(lr="fast"), r"lr='fast'"),
    ("lr-nan", lambda c: TrainConfig(lr=float("nan")), r"lr=nan"),
    ("lr-zero", lambda c: TrainConfig(lr=0), r"lr=0"),
    ("warmup", lambda c: TrainConfig(warmup_steps=-5), r"warmup_steps=-5"),
    ("grad-clip", lambda c: TrainConfig(grad_clip=-1.0), r"grad_clip=-1"),
    ("weight-decay", lambda c: TrainConfig(weight_decay=-0.1), r"weight_decay=-0.1"),
    ("weight-decay-inf", lambda c: TrainConfig(weight_decay=float("inf")), r"weight_decay=inf"),
    ("steps", lambda c: TrainConfig(steps=0), r"steps=0"),
    ("batch-size", lambda c: TrainConfig(batch_size=0), r"batch_size=0"),
    ("schedule", lambda c: TrainConfig(schedule="linear"), r"schedule='linear'"),
    ("cascade-fraction", lambda c: TrainConfig(cascade_fraction=1.5), r"cascade_fraction=1.5"),
    ("n-train", lambda c: TrainConfig(n_train=0), r"n_train=0"),
    ("eval-every", lambda c: TrainConfig(eval_every=0), r"eval_every=0"),
    ("seed", lambda c: TrainConfig(seed=-1), r"seed=-1"),
    ("n-test", lambda c: TrainConfig(n_test=0), r"n_test=0"),
    ("preset", lambda c: build_model("9L", ADD3), r"preset='9L'"),
    ("preset-seed", lambda c: build_model("2L", ADD3, seed=-1), r"seed=-1"),
    ("spec-layers", lambda c: ModelSpec(**{**SPEC, "n_layers": 0}), r"n_layers=0"),
    ("spec-act", lambda c: ModelSpec(**SPEC, act_fn="tanhh"), r"act_fn='tanhh'"),
    ("spec-norm", lambda c: ModelSpec(**SPEC, normalization_type="BN"), r"'BN'"),
    ("spec-heads-str", lambda c: ModelSpec(**{**SPEC, "n_heads": "2"}), r"n_heads='2'"),
    ("zoo-name", lambda c: al.load("add9-9L"), r"'add9-9L'"),
    ("zoo-retrain", lambda c: zoo.retrain("add3-2L", sead=1), r"'sead' is not a TrainConfig"),
    # ---- checkpoints (each a copy of a saved tiny model with one thing wrong)
    ("ckpt-version-int", load_edited("v5", meta_edit(arithlens_version=5)), r"version 5 "),
    ("ckpt-version-new", load_edited("v9", meta_edit(arithlens_version="9.0.0")), r"9\.0\.0"),
    ("ckpt-format", load_edited("f99", meta_edit(format_version=99)), r"format_version=99"),
    ("ckpt-vocab", load_edited("vocab", meta_edit(vocab="0123456789+-*=.")), r"vocab='0123"),
    ("ckpt-no-layers", load_edited("nl", meta_edit(model__n_layers=None)), r"n_layers"),
    ("ckpt-spec-extra", load_edited("ex", meta_edit(model__colour=1)), r"colour"),
    ("ckpt-task-op", load_edited("op", meta_edit(task__op="div")), r"op='div'"),
    ("ckpt-record", load_edited("rec", meta_edit(record={"config": {}, "zz": 1})), r"zz"),
    ("ckpt-meta-list", load_edited("list", lambda m, w: m.clear()), r"lacks the key"),
    ("ckpt-nan", load_edited("nan", poison(float("nan"))), r"NaN or infinite"),
    ("ckpt-inf", load_edited("inf", poison(float("inf"))), r"NaN or infinite"),
    ("ckpt-shape", load_edited("shape", meta_edit(model__d_mlp=48)), r"has shape"),
    ("ckpt-missing-folder", lambda c: checkpoint.load(c.root / "nope"), r"'.*nope' does not"),
    ("ckpt-missing-json", lambda c: checkpoint.load(c.root / "empty"), r"arithlens\.json"),
    (
        "ckpt-bad-json",
        lambda c: (
            (edited(c, "badjson", lambda m, w: None) / "arithlens.json").write_text("{"),
            checkpoint.load(c.root / "badjson"),
        ),
        r"not valid JSON",
    ),
    (
        "ckpt-truncated",
        lambda c: (
            (w := edited(c, "trunc", lambda m, w: None) / "model.safetensors").write_bytes(
                w.read_bytes()[:100]
            ),
            checkpoint.load(c.root / "trunc"),
        ),
        r"model\.safetensors' is corrupted or truncated",
    ),
    ("save-foreign", lambda c: checkpoint.save(torch.nn.Linear(2, 2), c.root / "x"), r"\.spec"),
    # ---- loading
    ("load-missing", lambda c: al.load(c.root / "nothing"), r"'.*nothing' does not exist"),
    ("load-file", lambda c: al.load(c.file), r"a-file' is a file"),
    ("load-empty", lambda c: al.load(c.root / "empty"), r"'.*empty' holds neither"),
    ("load-options", lambda c: al.load("add3-2L", template="{a}+{b}="), r"\['template'\]"),
    ("load-hub-offline", lambda c: al.load("no/such-model", offline=True), r"'no/such-model'"),
    # ---- evaluation and the lens: problems of another task
    ("eval-sub", lambda c: al.evaluate(c.model, sample(SUB3, 4)), r"sub3-reversed.*add3-rev"),
    ("eval-plain", lambda c: al.evaluate(c.model, sample(PLAIN3, 4)), r"add3-plain"),
    ("eval-width", lambda c: al.evaluate(c.model, sample(ADD5, 4)), r"add5-reversed"),
    ("eval-n", lambda c: al.evaluate(c.model, n=0), r"n=0"),
    ("eval-str", lambda c: al.evaluate(c.model, "123+456"), r"problems is a str"),
    ("eval-empty", lambda c: al.evaluate(c.model, sample(ADD3, 3)[:0]), r"empty"),
    ("eval-strategy", lambda c: al.evaluate(c.model, n=5, strategy="x"), r"strategy='x'"),
    ("lengths-0", lambda c: al.length_generalization(c.model, [0]), r"n_digits=0"),
    ("lengths-ctx", lambda c: al.length_generalization(c.model, [4]), r"n_digits=4 needs"),
    ("trace-task", lambda c: al.lens.trace(c.model, sample(SUB3, 1)), r"sub3-reversed"),
    ("trace-text", lambda c: al.lens.trace(c.model, "12*3"), r"\*"),
    ("trace-int", lambda c: al.lens.trace(c.model, 123), r"problem is a int"),
    # ---- patching
    (
        "patch-sub",
        lambda c: activation_patch(c.model, corrupt_pairs(SUB3, 4), progress=False),
        r"pairs are of task sub3-reversed but the model solves add3-reversed",
    ),
    (
        "patch-plain",
        lambda c: activation_patch(c.model, corrupt_pairs(PLAIN3, 4), progress=False),
        r"add3-plain",
    ),
    (
        "patch-width",
        lambda c: activation_patch(c.model, corrupt_pairs(ADD5, 4), progress=False),
        r"add5-reversed",
    ),
    ("patch-component", patch(component="zz"), r"component='zz'"),
    ("patch-by-none", patch(by=None), r"by=None"),
    ("patch-by-str", patch(by="layer"), r"by='layer'"),
    ("patch-by-heads", patch(component="resid_pre", by=("layer", "head")), r"'resid_pre' has no"),
    ("patch-digits-empty", patch(digits=[]), r"digits=\[\]"),
    ("patch-digits-name", patch(digits="billions"), r"'billions'"),
    ("patch-digits-range", patch(digits=7), r"answer digit 7"),
    ("patch-layers-empty", patch(layers=[]), r"layers=\[\]"),
    ("patch-layers-range", patch(layers=[5]), r"layer 5 is out of range"),
    ("patch-layers-dup", patch(layers=[0, 0]), r"layers=\[0, 0\]"),
    ("patch-layers-str", patch(layers="0"), r"layers='0'"),
    ("patch-pairs-str", lambda c: activation_patch(c.model, "a.units"), r"pairs is a str"),
    ("patch-metric", patch(metric="accuracy"), r"metric='accuracy'"),
    ("patch-direction", patch(direction="sideways"), r"direction='sideways'"),
    ("patch-rows", patch(max_rows=0), r"max_rows=0"),
    ("patch-resume-file", lambda c: patch(resume_dir=c.file)(c), r"a-file cannot be used"),
    (
        "path-sub",
        lambda c: path_patch(c.model, corrupt_pairs(SUB3, 4), progress=False),
        r"sub3-reversed",
    ),
    (
        "path-sender",
        lambda c: path_patch(c.model, c.pairs, senders=[(9, 0)], progress=False),
        r"\(9, 0\)",
    ),
    ("path-no-senders", lambda c: path_patch(c.model, c.pairs, senders=[]), r"no sender heads"),
    ("path-mlps", lambda c: path_patch(c.model, c.pairs, mlps="keep"), r"'keep'"),
    (
        "attribution-ig-steps",
        lambda c: attribution_patch(c.model, c.pairs, "z", ig_steps=0),
        r"ig_steps=0",
    ),
    ("path-sender-form", lambda c: path_patch(c.model, c.pairs, senders=[3]), r"head 3 is"),
    (
        "path-receiver-input",
        lambda c: path_patch(c.model, c.pairs, receivers=[(1, 0, "x")], progress=False),
        r"'x'",
    ),
    (
        "path-receiver-form",
        lambda c: path_patch(c.model, c.pairs, receivers=[(1, 0)], progress=False),
        r"receiver \(1, 0\)",
    ),
    ("attr-sub", lambda c: attribution_patch(c.model, corrupt_pairs(SUB3, 4)), r"sub3-reversed"),
    ("attr-component", lambda c: attribution_patch(c.model, c.pairs, "zz"), r"component='zz'"),
    ("attr-by", lambda c: attribution_patch(c.model, c.pairs, "z", by=None), r"by=None"),
    # ---- probes
    ("probe-l2", fit(l2=-1), r"l2=-1"),
    ("probe-l2-str", fit(l2="small"), r"l2='small'"),
    ("probe-target", fit(target="nonsense"), r"'nonsense'"),
    ("probe-n", fit(n=5), r"n=5"),
    ("probe-task", fit(problems=sample(SUB3, 300, unique=True)), r"sub3-reversed"),
    ("probe-problems-str", fit(problems="123+456"), r"problems is a str"),
    ("probe-layers", fit(layers=[9]), r"layers=\[9\]"),
    ("probe-positions", fit(positions=[]), r"positions=\[\]"),
    ("probe-control", fit(controls=["bogus"]), r"'bogus'"),
    ("probe-fraction", fit(test_fraction=0.9), r"test_fraction=0.9"),
    ("probe-activation", fit(activation="bogus"), r"'bogus'"),
    ("probe-min-class", fit(min_per_class=0), r"min_per_class=0"),
    # ---- figures
    ("figures-name", lambda c: al.figures.run(c.root / "f", "nope"), r"'nope'"),
    ("figures-empty", lambda c: al.figures.run(c.root / "f", []), r"only=\[\]"),
    ("figures-file", lambda c: al.figures.run(c.file / "f", "carry_taxonomy"), r"is a file"),
    ("figures-seeds", lambda c: al.figures.run(c.root / "f", seeds=0), r"seeds=0"),
    ("figures-seed-list", lambda c: al.figures.Context(seeds=(1, 1)), r"seeds=\(1, 1\)"),
    # ---- pretrained-model helpers and fine-tuning
    (
        "prompt-template",
        lambda c: al.llm.PromptBuilder(SimpleNamespace(is_fast=True), ADD3, template="{a}+"),
        r"template '\{a\}\+'",
    ),
    ("finetune-head", lambda c: al.llm.finetune(c.model, ["L9.H0"], steps=1), r"\(9, 0\)"),
    ("finetune-component", lambda c: al.llm.finetune(c.model, ["head3"], steps=1), r"'head3'"),
    ("finetune-steps", lambda c: al.llm.finetune(c.model, ["L0.H0"], steps=0), r"steps=0"),
    (
        "finetune-others",
        lambda c: al.llm.compare_finetuning(c.model, ["L0.H0"], steps=1, others={"x": [1]}),
        r"others\['x'\] is a list",
    ),
    (
        "finetune-problems",
        lambda c: al.llm.finetune(c.model, ["L0.H0"], steps=1, problems="12+34"),
        r"problems is a str",
    ),
    (
        "split-too-many",
        lambda c: al.llm.split_problems(c.model, 600_000, 600_000),
        r"1200000",
    ),
    # ---- widgets
    ("widget-problem", lambda c: al.widgets.ProblemExplorer(c.model, "1234+1"), r"a=1234"),
    ("widget-change", lambda c: al.widgets.PatchingExplorer(c.model, change="c.units"), "c.units"),
    ("widget-grain", lambda c: al.widgets.PatchingExplorer(c.model, granularity="x"), r"'x'"),
    ("widget-n", lambda c: al.widgets.PatchingExplorer(c.model, n=0), r"n=0"),
    ("widget-target", lambda c: al.widgets.ProbeExplorer(c.model, "bogus", n=100), r"'bogus'"),
]


@pytest.mark.parametrize("call,pattern", [c[1:] for c in API], ids=[c[0] for c in API])
def test_api_bad_input_is_named(ctx, call, pattern):
    with pytest.raises(ArithlensError) as info:
        call(ctx)
    assert re.search(pattern, str(info.value)), str(info.value)
    assert type(info.value) is ArithlensError


def test_the_table_is_large_and_its_ids_unique():
    ids = [c[0] for c in API] + ["cli-" + c[0] for c in CLI]
    assert len(ids) == len(set(ids)) and len(ids) >= 100


CLI = [
    ("train-digits", ["train", "--digits", "0", "--out", "{tmp}/m"], 2, r"--digits: 0 is invalid"),
    ("train-digits-max", ["train", "--digits", "65", "--out", "{tmp}/m"], 2, r"n_digits=65"),
    ("train-lr", ["train", "--lr", "-1", "--out", "{tmp}/m"], 2, r"lr=-1"),
    ("train-steps", ["train", "--steps", "0", "--out", "{tmp}/m"], 2, r"--steps: 0 is invalid"),
    ("train-out-file", ["train", "--steps", "1", "--out", "{file}/m"], 2, r"a-file' is a file"),
    ("eval-model", ["eval", "nope-model"], 2, r"'nope-model'"),
    ("eval-n", ["eval", "add3-2L", "--n", "0"], 2, r"--n: 0 is invalid"),
    ("eval-out", ["eval", "add3-2L", "--out", "{file}/r"], 2, r"is a file"),
    ("patch-out", ["patch", "add3-2L", "--out", "{file}/p"], 2, r"is a file"),
    (
        "patch-resume",
        ["patch", "add3-2L", "--out", "{tmp}/p", "--resume-dir", "{file}"],
        2,
        r"resume folder '.*a-file' is a file",
    ),
    ("patch-change", ["patch", "add3-2L", "--change", "c.units", "--out", "{tmp}/p"], 2, r"'c"),
    ("patch-digits", ["patch", "add3-2L", "--digits", "billions", "--out", "{tmp}/p"], 2, "bill"),
    ("patch-grain", ["patch", "add3-2L", "--granularity", "x", "--out", "{tmp}/p"], 2, r"'x'"),
    ("patch-n", ["patch", "add3-2L", "--n", "-3", "--out", "{tmp}/p"], 2, r"--n: -3 is invalid"),
    (
        "probe-causal-n",
        ["probe", "add3-2L", "--causal", "--causal-n", "0", "--out", "{tmp}/q"],
        2,
        r"--causal-n: 0 is invalid",
    ),
    ("probe-target", ["probe", "add3-2L", "--target", "zz", "--out", "{tmp}/q"], 2, r"'zz'"),
    ("probe-out", ["probe", "add3-2L", "--out", "{file}/q"], 2, r"is a file"),
    ("figures-only", ["figures", "--only", "nope", "--out", "{tmp}/f"], 2, r"'nope'"),
    ("figures-seeds", ["figures", "--seeds", "0", "--out", "{tmp}/f"], 2, r"--seeds"),
    ("figures-out", ["figures", "--only", "carry_taxonomy", "--out", "{file}/f"], 2, "is a file"),
    ("zoo-only", ["zoo", "rebuild", "--only", "nope", "--out", "{tmp}/z"], 2, r"'nope'"),
    ("demo-out", ["demo", "--out", "{file}/d"], 2, r"is a file"),
]


@pytest.mark.parametrize(
    "argv,code,pattern", [c[1:] for c in CLI], ids=["cli-" + c[0] for c in CLI]
)
def test_cli_bad_input_ends_with_one_named_line(ctx, tmp_path, capsys, argv, code, pattern):
    argv = [a.format(tmp=tmp_path, file=ctx.file) for a in argv]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(("arithlens: error:", "arithlens ", "usage:")) or "error:" in last
    assert re.search(pattern, last), err
    assert list(tmp_path.iterdir()) == []  # nothing written before the failure
    assert ctx.file.read_text() == "x"


@pytest.mark.parametrize(
    "raised,code,pattern",
    [
        (PermissionError(13, "Permission denied", "/x/report.md"), 1, r"Permission denied \("),
        (KeyboardInterrupt(), 130, r"^arithlens: interrupted"),
        (RuntimeError("boom"), 1, r"internal error: RuntimeError: boom"),
    ],
    ids=["oserror", "interrupt", "unexpected"],
)
def test_cli_failures_end_with_one_line(monkeypatch, tmp_path, capsys, raised, code, pattern):
    import arithlens.faces.demo

    def fail(*a, **k):
        raise raised

    monkeypatch.setattr(arithlens.faces.demo, "write_demo", fail)
    assert main(["demo", "--out", str(tmp_path / "d"), "--n", "10"]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert re.search(pattern, err.strip()), err


def test_a_real_process_prints_one_line_and_no_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = subprocess.run(
        [sys.executable, "-m", "arithlens.cli", "train", "--out", str(blocker / "m")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"arithlens: error: checkpoint folder '{blocker}/m' cannot be created: '{blocker}' is a "
        "file, not a folder"
    ]


def test_a_spec_dataclass_reports_missing_keys():
    with pytest.raises(ArithlensError, match=r"model spec lacks the keys \['d_head', 'd_mlp'"):
        ModelSpec.from_dict({"n_layers": 1, "d_model": 8, "n_heads": 1})
    d = dataclasses.asdict(ModelSpec(**SPEC))
    assert ModelSpec.from_dict(d) == ModelSpec(**SPEC)
