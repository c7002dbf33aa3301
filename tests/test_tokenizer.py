from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from arithlens.errors import ArithlensError
from arithlens.tasks import Problems, TaskSpec, sample
from arithlens.tokens.tokenizer import DEFAULT_VOCAB, CharTokenizer, encode

tok = CharTokenizer()


@given(st.text(alphabet=DEFAULT_VOCAB.replace("_", ""), max_size=60))
def test_encode_decode_round_trip(text):
    assert tok.decode(tok.encode(text)) == text


def test_digit_tokens_equal_digit_values():
    assert tok.encode("0123456789") == list(range(10))


def test_unknown_character_is_named_with_its_position():
    with pytest.raises(ArithlensError, match=r"character 'x' at position 3 of '12\+x4='"):
        tok.encode("12+x4=")


def test_token_batch_positions_point_at_the_answer_digits():
    task = TaskSpec(op="add", n_digits=3, format="plain")
    batch = encode(Problems.from_ints(task, [(123, 456), (999, 999)]))
    assert batch.texts == ["123+456=0579.", "999+999=1998."]
    assert batch.answer_tokens().tolist() == [[9, 7, 5, 0], [8, 9, 9, 1]]
    assert batch.predict_pos("units").tolist() == [10, 10]
    assert batch.predict_pos("thousands").tolist() == [7, 7]
    mask = batch.target_mask()
    # Loss positions: those whose next token is an answer digit or the end mark.
    assert mask[0].nonzero().flatten().tolist() == [7, 8, 9, 10, 11]


def test_variable_length_batches_are_right_padded_and_masked():
    task = TaskSpec(op="add", n_digits=3, format="reversed", pad=False)
    batch = encode(Problems.from_ints(task, [(1, 2), (999, 999)]))
    assert batch.tokens.shape == (2, 13)
    assert batch.lengths.tolist() == [6, 13]
    assert batch.texts[0] == "1+2=3."
    assert batch.target_mask()[0].nonzero().flatten().tolist() == [3, 4]
    with pytest.raises(ArithlensError, match="absent"):
        batch.predict_pos("tens")
    assert batch.answer_tokens()[0].tolist() == [3, -1, -1, -1]


def test_every_format_encodes_within_the_vocabulary():
    for op in ("add", "sub", "mul"):
        for fmt in ("plain", "reversed", "scratchpad"):
            b = encode(sample(TaskSpec(op=op, n_digits=3, format=fmt, nonneg=False), 20, seed=0))
            assert int(b.tokens.max()) < tok.size and torch.all(b.tokens >= 0)
