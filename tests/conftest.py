"""Shared fixtures: zoo models and tiny untrained models. Nothing here touches the network."""

from __future__ import annotations

import pytest
import torch

import arithlens as al
from arithlens.models import build_model
from arithlens.tasks import TaskSpec

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def add3_task() -> TaskSpec:
    return TaskSpec(op="add", n_digits=3, format="reversed")


@pytest.fixture(scope="session")
def tiny_model(add3_task):
    """An untrained 2-layer model for the 3-digit reversed addition task."""
    return build_model("2L", add3_task, seed=0)


@pytest.fixture(scope="session")
def zoo_add3_2l():
    return al.load("add3-2L")


@pytest.fixture(scope="session")
def zoo_add3_1l():
    return al.load("add3-1L")
