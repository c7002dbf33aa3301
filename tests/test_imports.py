"""Models trained elsewhere, converted: each layout's random checkpoint is run by a reference
forward written here from the layout's description (not arithlens's or transformer_lens's code),
and the converted model's logits must equal it on every token both vocabularies share."""

from __future__ import annotations

import math

import pytest
import torch

import arithlens as al
from arithlens.errors import ArithlensError
from arithlens.models.imports import ADDER_VOCAB
from arithlens.tokens import encode
from arithlens.tokens.tokenizer import DEFAULT_VOCAB

ADD3 = al.TaskSpec(op="add", n_digits=3)
ADD10 = al.TaskSpec(op="add", n_digits=10)
HOOKED_VOCAB = "0123456789+-=._"


# ----------------------------------------------------------------------------- reference maths


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + (0 if b is None else b)


def rms_norm(x, w, eps):
    return x / torch.sqrt((x**2).mean(-1, keepdim=True) + eps) * w


def attention(q, k, v, n_heads):
    """Causal softmax attention of ``(batch, pos, heads * d_head)`` projections."""
    b, p, hd = q.shape
    dh = hd // n_heads
    q, k, v = (t.reshape(b, p, n_heads, dh).transpose(1, 2) for t in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(dh)
    future = torch.ones(p, p, dtype=torch.bool).triu(1)
    weights = scores.masked_fill(future, float("-inf")).softmax(-1)
    return (weights @ v).transpose(1, 2).reshape(b, p, hd)


def compare(model, ref_logits_fn, vocab, task):
    """Max abs difference over the shared tokens, and the logit scale."""
    batch = encode(al.tasks.sample(task, 16, seed=1))
    ours = model(batch.tokens)
    src = torch.tensor([vocab.index(DEFAULT_VOCAB[t]) for t in batch.tokens.flatten()]).reshape(
        batch.tokens.shape
    )
    theirs = ref_logits_fn(src[:, : ref_logits_fn.n_ctx])
    shared = [i for i, c in enumerate(DEFAULT_VOCAB) if c in vocab]
    cols = [vocab.index(DEFAULT_VOCAB[i]) for i in shared]
    n = theirs.shape[1]
    diff = (ours[:, :n, shared] - theirs[..., cols]).abs().max().item()
    return diff, theirs.abs().max().item()


# ----------------------------------------------------------------------------- HookedTransformer


def hooked_checkpoint(tmp_path, normalization="LN"):
    g = torch.Generator().manual_seed(0)
    L, d, H, dh, dm, V, n_ctx = 2, 16, 2, 8, 32, len(HOOKED_VOCAB), 20
    r = lambda *s: torch.randn(*s, generator=g) * 0.3  # noqa: E731
    sd = {"embed.W_E": r(V, d), "pos_embed.W_pos": r(n_ctx, d)}
    for i in range(L):
        p = f"blocks.{i}."
        sd |= {
            p + "ln1.w": 1 + r(d),
            p + "ln2.w": 1 + r(d),
            p + "attn.W_Q": r(H, d, dh),
            p + "attn.W_K": r(H, d, dh),
            p + "attn.W_V": r(H, d, dh),
            p + "attn.W_O": r(H, dh, d),
            p + "attn.b_Q": r(H, dh),
            p + "attn.b_K": r(H, dh),
            p + "attn.b_V": r(H, dh),
            p + "attn.b_O": r(d),
            p + "attn.mask": torch.ones(n_ctx, n_ctx).tril().bool(),  # a buffer, dropped
            p + "mlp.W_in": r(d, dm),
            p + "mlp.b_in": r(dm),
            p + "mlp.W_out": r(dm, d),
            p + "mlp.b_out": r(d),
        }
        if normalization == "LN":
            sd |= {p + "ln1.b": r(d), p + "ln2.b": r(d)}
    sd |= {"ln_final.w": 1 + r(d), "unembed.W_U": r(d, V), "unembed.b_U": r(V)}
    if normalization == "LN":
        sd["ln_final.b"] = r(d)
    cfg = dict(
        n_layers=L,
        d_model=d,
        n_heads=H,
        d_head=dh,
        d_mlp=dm,
        n_ctx=n_ctx,
        d_vocab=V,
        act_fn="gelu",
        normalization_type=normalization,
        positional_embedding_type="standard",
    )
    torch.save(sd, tmp_path / "model.pth")
    return tmp_path / "model.pth", cfg, sd


def hooked_reference(sd, cfg):
    norm = (
        (lambda x, p: layer_norm(x, sd[p + ".w"], sd[p + ".b"], 1e-5))
        if cfg["normalization_type"] == "LN"
        else (lambda x, p: rms_norm(x, sd[p + ".w"], 1e-5))
    )

    def run(tokens):
        x = sd["embed.W_E"][tokens] + sd["pos_embed.W_pos"][: tokens.shape[1]]
        for i in range(cfg["n_layers"]):
            p = f"blocks.{i}."
            h = norm(x, p + "ln1")
            q, k, v = (
                torch.einsum("bpd,hde->bphe", h, sd[p + f"attn.W_{n}"]) + sd[p + f"attn.b_{n}"]
                for n in "QKV"
            )
            z = attention(*(t.flatten(2) for t in (q, k, v)), cfg["n_heads"])
            z = z.reshape(*z.shape[:2], cfg["n_heads"], cfg["d_head"])
            x = x + torch.einsum("bphe,hed->bpd", z, sd[p + "attn.W_O"]) + sd[p + "attn.b_O"]
            h = norm(x, p + "ln2")
            x = x + gelu(h @ sd[p + "mlp.W_in"] + sd[p + "mlp.b_in"]) @ sd[p + "mlp.W_out"]
            x = x + sd[p + "mlp.b_out"]
        return norm(x, "ln_final") @ sd["unembed.W_U"] + sd["unembed.b_U"]

    run.n_ctx = cfg["n_ctx"]
    return run


@pytest.mark.parametrize("normalization", ["LN", "RMS"])
def test_a_hooked_transformer_checkpoint_converts_exactly(tmp_path, normalization):
    path, cfg, sd = hooked_checkpoint(tmp_path, normalization)
    (tmp_path / "cfg.json").write_text(__import__("json").dumps(cfg))
    model = al.load(
        path, source="hooked", config=tmp_path / "cfg.json", task=ADD3, vocab=HOOKED_VOCAB
    )
    diff, scale = compare(model, hooked_reference(sd, cfg), HOOKED_VOCAB, ADD3)
    assert scale > 1 and diff <= 1e-4 * scale, (diff, scale)


# ----------------------------------------------------------------------------- nanoGPT

NANO_VOCAB = "\n+0123456789=.$"


def nanogpt_checkpoint(tmp_path, bias=True):
    g = torch.Generator().manual_seed(1)
    L, H, d, V, T = 2, 2, 16, len(NANO_VOCAB), 16
    r = lambda *s: torch.randn(*s, generator=g) * 0.3  # noqa: E731
    sd = {"transformer.wte.weight": r(V, d), "transformer.wpe.weight": r(T, d)}
    for i in range(L):
        p = f"transformer.h.{i}."
        sd |= {
            p + "ln_1.weight": 1 + r(d),
            p + "ln_2.weight": 1 + r(d),
            p + "attn.c_attn.weight": r(3 * d, d),
            p + "attn.c_proj.weight": r(d, d),
            p + "mlp.c_fc.weight": r(4 * d, d),
            p + "mlp.c_proj.weight": r(d, 4 * d),
        }
        if bias:
            sd |= {
                p + "ln_1.bias": r(d),
                p + "ln_2.bias": r(d),
                p + "attn.c_attn.bias": r(3 * d),
                p + "attn.c_proj.bias": r(d),
                p + "mlp.c_fc.bias": r(4 * d),
                p + "mlp.c_proj.bias": r(d),
            }
    sd |= {"transformer.ln_f.weight": 1 + r(d), "lm_head.weight": sd["transformer.wte.weight"]}
    if bias:
        sd["transformer.ln_f.bias"] = r(d)
    args = dict(n_layer=L, n_head=H, n_embd=d, block_size=T, bias=bias, vocab_size=V)
    ckpt = {"model": {"_orig_mod." + k: v for k, v in sd.items()}, "model_args": args}
    torch.save(ckpt, tmp_path / "ckpt.pt")
    return tmp_path / "ckpt.pt", args, sd


def nanogpt_reference(sd, args):
    b = lambda k: sd.get(k)  # noqa: E731  (None without biases)

    def lin(x, p):
        return x @ sd[p + ".weight"].T + (0 if b(p + ".bias") is None else b(p + ".bias"))

    def run(tokens):
        x = sd["transformer.wte.weight"][tokens] + sd["transformer.wpe.weight"][: tokens.shape[1]]
        for i in range(args["n_layer"]):
            p = f"transformer.h.{i}."
            h = layer_norm(x, sd[p + "ln_1.weight"], b(p + "ln_1.bias"), 1e-5)
            q, k, v = lin(h, p + "attn.c_attn").split(args["n_embd"], -1)
            x = x + lin(attention(q, k, v, args["n_head"]), p + "attn.c_proj")
            h = layer_norm(x, sd[p + "ln_2.weight"], b(p + "ln_2.bias"), 1e-5)
            x = x + lin(gelu(lin(h, p + "mlp.c_fc")), p + "mlp.c_proj")
        x = layer_norm(x, sd["transformer.ln_f.weight"], b("transformer.ln_f.bias"), 1e-5)
        return x @ sd["lm_head.weight"].T

    run.n_ctx = args["block_size"]
    return run


@pytest.mark.parametrize("bias", [True, False])
def test_a_nanogpt_checkpoint_converts_exactly(tmp_path, bias):
    path, args, sd = nanogpt_checkpoint(tmp_path, bias)
    model = al.load(path, source="nanogpt", task=ADD3, vocab=NANO_VOCAB)
    diff, scale = compare(model, nanogpt_reference(sd, args), NANO_VOCAB, ADD3)
    assert scale > 1 and diff <= 1e-4 * scale, (diff, scale)


# ----------------------------------------------------------------------------- tiny adders


def adder_checkpoint(tmp_path, tie="shareA_tieKV", rms=True, name="adder.pt"):
    g = torch.Generator().manual_seed(2)
    d, H, dff, T, V, rank = 8, 2, 12, 33, 14, 3
    r = lambda *s: torch.randn(*s, generator=g) * 0.5  # noqa: E731
    sd = {"token_emb.weight": r(V, d), "pos_emb.A": r(T, 2), "pos_emb.B": r(2, d)}
    p = "blocks.0."
    sd |= {p + "ln1.weight": 1 + r(d), p + "ln2.weight": 1 + r(d)}
    if not rms:
        sd |= {p + "ln1.bias": r(d), p + "ln2.bias": r(d), "ln_f.bias": r(d)}
    if tie == "shareA_tieKV":
        sd |= {
            p + "attn.qkv_A": r(d, rank),
            p + "attn.qkv_Bq": r(rank, d),
            p + "attn.qkv_Bkv": r(rank, d),
        }
    elif tie == "shareA_tieQK":
        sd |= {
            p + "attn.qkv_A": r(d, rank),
            p + "attn.qkv_Bqk": r(rank, d),
            p + "attn.qkv_Bv": r(rank, d),
        }
    else:
        sd |= {p + "attn.qkv.weight": r(3 * d, d)}
    sd |= {
        p + "attn.proj.A": r(d, rank),
        p + "attn.proj.B": r(rank, d),
        p + "mlp.fc1.A": r(d, rank),
        p + "mlp.fc1.B": r(rank, dff),
        p + "mlp.fc2.weight": r(d, dff),  # a full-rank nn.Linear beside low-rank ones
        "ln_f.weight": 1 + r(d),
    }
    sd["lm_head.weight"] = sd["token_emb.weight"]
    cfg = dict(
        n_layer=1,
        d_model=d,
        n_head=H,
        d_ff=dff,
        max_seq_len=T,
        vocab_size=V,
        pos_rank=2,
        qkv_rank=rank,
        attn_out_rank=rank,
        ffn_rank=rank,
        use_rmsnorm=rms,
        tie_qkv=tie,
    )
    torch.save({"model_state": sd, "model_config": cfg}, tmp_path / name)
    return tmp_path / name, cfg, sd


def adder_reference(sd, cfg):
    rms = cfg["use_rmsnorm"]
    norm = (
        (lambda x, p: rms_norm(x, sd[p + ".weight"], 1e-8))
        if rms
        else (lambda x, p: layer_norm(x, sd[p + ".weight"], sd[p + ".bias"], 1e-5))
    )

    def run(tokens):
        pos = sd["pos_emb.A"] @ sd["pos_emb.B"]
        x = sd["token_emb.weight"][tokens] + pos[: tokens.shape[1]]
        p = "blocks.0."
        h = norm(x, p + "ln1")
        if cfg["tie_qkv"] == "shareA_tieKV":
            a = h @ sd[p + "attn.qkv_A"]
            q, k = a @ sd[p + "attn.qkv_Bq"], a @ sd[p + "attn.qkv_Bkv"]
            v = k
        elif cfg["tie_qkv"] == "shareA_tieQK":
            a = h @ sd[p + "attn.qkv_A"]
            q = k = a @ sd[p + "attn.qkv_Bqk"]
            v = a @ sd[p + "attn.qkv_Bv"]
        else:
            q, k, v = (h @ sd[p + "attn.qkv.weight"].T).chunk(3, -1)
        y = attention(q, k, v, cfg["n_head"])
        x = x + y @ sd[p + "attn.proj.A"] @ sd[p + "attn.proj.B"]
        h = norm(x, p + "ln2")
        x = x + gelu(h @ sd[p + "mlp.fc1.A"] @ sd[p + "mlp.fc1.B"]) @ sd[p + "mlp.fc2.weight"].T
        return norm(x, "ln_f") @ sd["token_emb.weight"].T

    run.n_ctx = cfg["max_seq_len"]
    return run


@pytest.mark.parametrize(
    "tie,rms", [("shareA_tieKV", True), ("shareA_tieQK", False), ("none", True)]
)
def test_a_tiny_adder_converts_exactly_and_runs_every_analysis(tmp_path, tie, rms):
    path, cfg, sd = adder_checkpoint(tmp_path, tie, rms)
    model = al.load(path, source="adder", task=ADD10)
    diff, scale = compare(model, adder_reference(sd, cfg), ADDER_VOCAB, ADD10)
    assert scale > 1 and diff <= 1e-4 * scale, (diff, scale)
    if tie != "shareA_tieKV":
        return
    # an arithlens model like any other: saved and loaded back exactly, evaluated, patched, probed
    al.models.save(model, tmp_path / "converted")
    back = al.load(tmp_path / "converted")
    tokens = encode(al.tasks.sample(ADD10, 8, seed=2)).tokens
    assert torch.equal(back(tokens), model(tokens))
    assert 0 <= al.evaluate(model, n=50).exact_match < 0.2  # random weights: almost never right
    pairs = al.tasks.corrupt_pairs(ADD10, 16, change="a.units", seed=0)
    res = al.patching.activation_patch(model, pairs, "z", by=("layer", "head"), progress=False)
    assert res.values.shape == (1, 2)
    probes = al.probes.fit(model, "carry.tens", n=400, controls=("majority",), progress=False)
    assert probes.score.shape[0] == 1


class Code:  # a pickled instance needs this class to load: code, not data
    pass


def test_bad_checkpoints_are_named(tmp_path):
    path, cfg, sd = adder_checkpoint(tmp_path)
    with pytest.raises(ArithlensError, match="lacks 'blocks.0.attn.qkv_Bkv'"):
        broken = dict(sd)
        del broken["blocks.0.attn.qkv_Bkv"]
        torch.save({"model_state": broken, "model_config": cfg}, tmp_path / "b.pt")
        al.load(tmp_path / "b.pt", source="adder", task=ADD10)
    with pytest.raises(ArithlensError, match="tie_qkv='shareB' is not supported"):
        torch.save(
            {"model_state": sd, "model_config": cfg | {"tie_qkv": "shareB"}}, tmp_path / "c.pt"
        )
        al.load(tmp_path / "c.pt", source="adder", task=ADD10)
    with pytest.raises(ArithlensError, match="n_ctx=33 is shorter than task add30"):
        al.load(path, source="adder", task=al.TaskSpec(op="add", n_digits=30))
    with pytest.raises(ArithlensError, match="vocab '0123' has 4 tokens"):
        al.load(path, source="adder", task=ADD10, vocab="0123")
    with pytest.raises(ArithlensError, match=r"lacks \['='\]"):
        al.load(path, source="adder", task=ADD10, vocab="0123456789+x_.")
    with pytest.raises(ArithlensError, match="source='gguf' is unknown"):
        al.load(path, source="gguf", task=ADD10)
    with pytest.raises(ArithlensError, match="vocab is required"):
        al.load(path, source="nanogpt", task=ADD10)
    hooked, hcfg, _ = hooked_checkpoint(tmp_path)
    with pytest.raises(ArithlensError, match="positional_embedding_type='rotary' is not supported"):
        al.load(
            hooked,
            source="hooked",
            config=hcfg | {"positional_embedding_type": "rotary"},
            task=ADD3,
            vocab=HOOKED_VOCAB,
        )
    with pytest.raises(ArithlensError, match="does not fit its config"):
        al.load(
            hooked,
            source="hooked",
            config=hcfg | {"n_heads": 4, "d_head": 4},
            task=ADD3,
            vocab=HOOKED_VOCAB,
        )

    torch.save({"model_state": Code(), "model_config": cfg}, tmp_path / "code.pt")
    with pytest.raises(ArithlensError, match="needs code unpickled"):
        al.load(tmp_path / "code.pt", source="adder", task=ADD10)
    with pytest.raises(ArithlensError, match="does not exist"):
        al.load(tmp_path / "nope.pt", source="adder", task=ADD10)


def test_the_cli_converts_to_a_checkpoint_that_evaluates(tmp_path, capsys):
    from arithlens.cli import main

    path, _, _ = adder_checkpoint(tmp_path)
    out = tmp_path / "converted"
    assert (
        main(["convert", str(path), "--source", "adder", "--digits", "10", "--out", str(out)]) == 0
    )
    assert "as an arithlens checkpoint of add10" in capsys.readouterr().out
    tokens = encode(al.tasks.sample(ADD10, 4, seed=0)).tokens
    direct = al.load(path, source="adder", task=ADD10)
    assert torch.equal(al.load(out)(tokens), direct(tokens))
    assert main(["eval", str(out), "--n", "50"]) == 0
    # a missing file: exit 2, one line naming it, nothing written
    bad = tmp_path / "bad"
    code = main(
        [
            "convert",
            str(tmp_path / "nope.pt"),
            "--source",
            "adder",
            "--digits",
            "10",
            "--out",
            str(bad),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nope.pt" in err[0] and not bad.exists()
