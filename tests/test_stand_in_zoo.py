"""The zoo's Hugging Face stand-in (``add2-gpt2``, a small GPT-2 trained here on additions in
four templates): it loads offline through the Hugging Face path, its card is re-measured by a
greedy decoder that shares no code with arithlens, and the LLM analyses find on it what only a
model that adds can show -- each checked against the same architecture with random weights."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

import arithlens as al
from arithlens.models import zoo
from arithlens.models.hf import random_init
from arithlens.models.stand_in import TEMPLATES, held_out_pair

NAME = "add2-gpt2"
KEY_HEADS, FAITHFUL = 8, 0.8
"""At most this many of the 16 heads reach 80% of the path-patching effect, and they keep this
share of the logit difference (normalized faithfulness)."""
CONTROLS = ("majority", "random_init")
FLOORS = {"equation": 0.8, "question": 0.88, "sentence": 0.88, "qa": 0.88}
"""Held-out exact match over every held-out pair, a little under the card's."""


@pytest.fixture(scope="module")
def model():
    return al.load(NAME)


@pytest.fixture(scope="module")
def card():
    return json.loads((zoo.folder(NAME) / "card.json").read_text())


def _greedy_exact(hf, prompts: list[str], answers: list[str], bos: bool = False) -> np.ndarray:
    """Plain transformers, no arithlens code: greedy decoding, one prompt length at a time;
    right when the digits written first are the answer (and then a non-digit); ``bos``: each
    prompt after the end-of-text token."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(zoo.folder(NAME))
    ids = [[tok.bos_token_id] * bos + tok(p)["input_ids"] for p in prompts]
    out = np.zeros(len(prompts), dtype=bool)
    for width in sorted({len(i) for i in ids}):
        rows = [k for k, i in enumerate(ids) if len(i) == width]
        x = torch.tensor([ids[k] for k in rows])
        with torch.no_grad():
            for _ in range(4):  # up to 3 digit tokens and the one after
                x = torch.cat([x, hf(x).logits[:, -1].argmax(-1, keepdim=True)], 1)
        for k, row in zip(rows, x[:, width:].tolist()):
            written = tok.decode(row)
            out[k] = re.match(r"\d*", written).group() == answers[k] and written != answers[k]
    return out


def test_loads_offline_through_the_hugging_face_path(model):
    from transformers import GPT2LMHeadModel

    folder = zoo.folder(NAME)
    assert (folder / "model.safetensors").is_file() and not (folder / "arithlens.json").exists()
    assert NAME in zoo.names() and NAME not in zoo.RECIPES
    assert model.encoder.template == TEMPLATES["equation"] and model.encoder.shots == 0
    tokens = model.encoder.tokenizer(["12+34=46\nWhat is 5 plus 7? 12"], return_tensors="pt")
    hf = GPT2LMHeadModel.from_pretrained(folder).eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model(tokens["input_ids"]), hf(tokens["input_ids"]).logits, atol=1e-4, rtol=1e-4
        )
    # a user's template replaces the default one
    other = al.load(NAME, template=TEMPLATES["question"], shots=2)
    assert other.encoder.template == TEMPLATES["question"] and other.encoder.shots == 2
    assert al.llm.tokenization_summary(model.encoder.tokenizer)["scheme"] == "irregular"


@pytest.mark.full
def test_the_card_is_re_measured_by_an_independent_greedy_decoder(card):
    """Every held-out pair (enumerated here from the hash, not by arithlens's grouping), decoded
    greedily by plain transformers: each template x length agrees with the card and clears the
    floor; the same architecture with random weights gets almost none right."""
    from transformers import GPT2Config, GPT2LMHeadModel

    folder = zoo.folder(NAME)
    hf = GPT2LMHeadModel.from_pretrained(folder).eval()
    torch.manual_seed(0)
    untrained = GPT2LMHeadModel(GPT2Config.from_pretrained(folder)).eval()
    held = [(a, b) for a in range(100) for b in range(100) if held_out_pair(a, b)]
    assert card["n"]["all"] == len(held) and 900 < len(held) < 1150  # a tenth of 10,000
    length = {
        (a, b): "1" if max(a, b) < 10 else "2" if min(a, b) >= 10 else "mixed" for a, b in held
    }
    answers = [str(a + b) for a, b in held]
    for name, template in TEMPLATES.items():
        prompts = [template.format(a=a, b=b) for a, b in held]
        exact = _greedy_exact(hf, prompts, answers)
        for key in ("1", "2", "mixed"):
            rows = [length[p] == key for p in held]
            assert card["n"][key] == sum(rows)
            q = float(exact[rows].mean())
            assert abs(card["held_out"][name][key] - q) <= 0.02, (name, key, q)
        assert float(exact.mean()) > FLOORS[name], (name, float(exact.mean()))
        after_bos = float(_greedy_exact(hf, prompts, answers, bos=True).mean())
        assert abs(card["held_out_after_bos"][name] - after_bos) <= 0.02, (name, after_bos)
        assert after_bos > FLOORS[name]
        assert _greedy_exact(untrained, prompts, answers).mean() < 0.05


@pytest.fixture(scope="module")
def pairs(model):
    return model.encoder.pairs(64, change="a.units")


def test_a_few_key_heads_carry_the_units_and_are_faithful(model, pairs):
    """Path patching finds a handful of heads that carry a's units digit to the answer; mean-
    ablating every other head keeps most of the logit difference. With random weights there is
    no logit difference to keep."""
    kh = al.llm.key_heads(model, pairs, share=0.8, progress=False)
    circuit = kh.heads[: kh.n_for_share]
    f = al.llm.faithfulness(model, pairs, circuit)
    assert kh.n_for_share <= KEY_HEADS and f.normalized > FAITHFUL, (kh.heads, f)
    assert f.full > 2.0  # the clean answer's logit over the corrupt one
    assert abs(al.llm.faithfulness(random_init(model), pairs, circuit).full) < 0.5


def test_probes_at_the_equals_sign_against_random_weights(model):
    """At '=' (where the answer is predicted) a linear probe reads the units carry well above the
    majority class -- and so it does on the same architecture with random weights, since with
    whole-number tokens the carry is a threshold of an additive function of the two operand
    tokens, readable from any mix of their embeddings: no evidence that the model computes it.
    The answer's units digit after the last block is what only the trained model holds."""
    carry = al.probes.fit(model, "carry.tens", n=1500, controls=CONTROLS, progress=False)
    eq = next(i for i, label in enumerate(carry.pos_labels) if label.endswith(":="))
    assert carry.score[0, 1:, eq].max() > carry.majority[0] + 0.2
    assert carry.random_init[0, 1:, eq].max() > carry.majority[0] + 0.2
    units = al.probes.fit(model, "answer.units", n=1500, controls=CONTROLS, progress=False)
    last = units.score[0, -1, eq]
    assert last > units.majority[0] + 0.2 and last > units.random_init[0, -1, eq] + 0.2, (
        last,
        units.majority[0],
        units.random_init[0, -1, eq],
    )


@pytest.mark.full
def test_precise_finetuning_teaches_a_new_template_and_moves_the_rest_less():
    """A template the model never saw (near 0), fine-tuned on its three key heads alone (the
    key_heads figure's run): held-out accuracy rises far; the four trained templates (all above
    0.9 before) lose less than under full fine-tuning from the same start, and predictions on
    other tokens move less."""
    from arithlens.figures.base import Context
    from arithlens.figures.key_heads import precise_sft

    p = precise_sft(64, Context(quick=True, progress=False))
    assert p["template"] not in TEMPLATES.values()
    assert p["before"] < 0.3 and p["precise"]["after"] > p["before"] + 0.5, p
    assert min(p["trained_templates_before"].values()) > 0.9
    assert p["precise"]["trained_templates_lost"] < p["full"]["trained_templates_lost"], p
    assert p["precise"]["control_kl"] < p["full"]["control_kl"] / 1.5, p
    assert p["precise"]["trained_weights"] < p["full"]["trained_weights"] / 10


def test_activation_patching_and_the_widgets_run_on_the_stand_in(model, pairs):
    """Activation patching through the bridge agrees with path patching on where the effect
    is (its strongest head is a key head, and it is far above the weakest); the explorers open
    on the Hugging Face model."""
    act = al.patching.activation_patch(
        model, pairs, "z", by=("layer", "head"), metric="logit_diff", progress=False
    )
    effect = act.effect().abs()
    kh = al.llm.key_heads(model, pairs, share=0.8, progress=False)
    strongest = divmod(int(effect.argmax()), model.cfg.n_heads)
    assert strongest in kh.heads[: kh.n_for_share], (strongest, kh.heads)
    assert float(effect.max()) > 5 * float(effect.min())
    px = al.widgets.PatchingExplorer(model, n=8, granularity="heads")
    assert np.array(px.heatmap.data[0].z).shape == (model.cfg.n_layers, model.cfg.n_heads)
    pe = al.widgets.ProblemExplorer(model, "23+45")
    assert pe.error is None and pe.problem == "23+45"
