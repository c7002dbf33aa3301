"""The suite runs with arithlens's shape annotations enforced (root ``conftest.py``): a call
that breaks one is refused by the checker, not by whatever the computation does next."""

from __future__ import annotations

import os

import pytest
import torch
from jaxtyping import Float, Int, TypeCheckError, jaxtyped

from arithlens.models import encoder_of
from arithlens.models.run import forward_chunked
from arithlens.patching.metrics import make_metric
from arithlens.tokens import encode_pairs
from tests.shapes import check, has_shapes

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("ARITHLENS_NO_SHAPE_CHECKS")), reason="shape checks turned off"
)


def test_a_dtype_the_annotation_forbids_is_refused_by_the_checker(zoo_add3_2l):
    enc = encoder_of(zoo_add3_2l)
    tokens = enc.encode(enc.sample(4)).tokens
    forward_chunked(zoo_add3_2l, tokens)  # Int[Tensor, "batch pos"]: fine
    with pytest.raises(TypeCheckError, match="tokens"):
        forward_chunked(zoo_add3_2l, tokens.float())


def test_one_dimension_name_has_one_size_across_arguments_and_return(zoo_add3_2l):
    from arithlens.tasks import corrupt_pairs

    batch = encode_pairs(corrupt_pairs(zoo_add3_2l.task, 6, change="a.units", seed=0))
    metric = make_metric("answer_logprob", batch)
    logits = zoo_add3_2l(batch.clean.tokens)
    assert metric(logits).shape == (6,)  # rows = batch
    with pytest.raises(TypeCheckError, match="logits"):
        metric(logits[..., 0])  # "rows pos d_vocab" needs three axes


def test_the_checker_wraps_only_functions_that_annotate_shapes():
    def shaped(x: Float[torch.Tensor, "n d"]) -> Float[torch.Tensor, " n"]:
        return x.sum(0)  # wrong: sums over n, returns d values

    def plain(x: int) -> int:
        return x

    assert has_shapes(shaped) and not has_shapes(plain)
    assert check(plain) is plain
    with pytest.raises(TypeCheckError):
        jaxtyped(typechecker=check)(shaped)(torch.zeros(3, 2))
    assert Int  # the annotation names used above are jaxtyping's
