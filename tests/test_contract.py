"""The model contract: fields are set by attach and read by the accessors, for native and
Hugging Face models alike."""

from __future__ import annotations

import pytest

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.models import ModelSpec
from arithlens.models.contract import (
    attach,
    encoder_of,
    is_native,
    record_of,
    source_of,
    spec_of,
    task_of,
)
from arithlens.tasks import TaskSpec
from arithlens.tokens.encoders import CharEncoder

SUB = TaskSpec(op="sub", n_digits=3)


def test_a_zoo_model_carries_the_whole_contract(zoo_add3_2l):
    m = zoo_add3_2l
    assert task_of(m) == m.task and task_of(m).name == "add3-reversed"
    assert spec_of(m).n_layers == 2 and record_of(m).eval_steps and source_of(m) is None
    # the checkpoint's metadata (written before ModelSpec gained eps and positional: defaults)
    assert ModelSpec.from_dict(m.meta["model"]) == spec_of(m)
    assert set(m.meta["model"]) <= set(spec_of(m).to_dict())
    assert is_native(m) and isinstance(encoder_of(m), CharEncoder)


def test_a_hugging_face_model_carries_its_prompts_and_folder(tmp_path):
    folder = al.llm.toy_checkpoint(tmp_path / "toy", arch="gpt2")
    m = al.load(str(folder), template="{a}+{b}=")
    assert not is_native(m) and spec_of(m) is None and record_of(m) is None
    assert source_of(m) == str(folder)
    assert encoder_of(m) is m.encoder and task_of(m) == m.encoder.task


def test_attach_keeps_task_and_encoder_together(zoo_add3_2l):
    m = al.models.build_model("1L", TaskSpec(op="add", n_digits=3))
    attach(m, encoder=CharEncoder(SUB))
    assert task_of(m) == SUB  # the encoder's task
    with pytest.raises(ArithlensError, match="differs from the encoder's task"):
        attach(m, task=TaskSpec(op="add", n_digits=3), encoder=CharEncoder(SUB))
    with pytest.raises(ArithlensError, match="expected arithlens.tasks.TaskSpec"):
        attach(m, task="add3")
    bare = al.models.build_model("1L", TaskSpec(op="add", n_digits=3))
    del bare.task
    with pytest.raises(ArithlensError, match="model has no task"):
        task_of(bare)
