"""arithlens head x position patching vs transformer_lens.patching, same model, prompts and metric.

(a) the zoo's 2-layer 3-digit addition model, 256 prompt pairs: both run the full
    layer x position x head sweep of the head output (``hook_z``).
(b) a GPT-2-small-shaped native model (12 layers, 12 heads, d_model 768, random weights),
    16 pairs of 16-token prompts (4-digit addition). On 2 CPU cores a full sweep takes tens of
    minutes for either library, so both run on evenly spaced layers ``--layers`` (default
    0 and 11, whose resume costs average to the mean over all layers): arithlens sweeps every position and head of those layers, transformer_lens
    (one full forward per cell) runs ``--tl-cells`` cells sampled from them (``index_df``), and
    each time is scaled to the full 12 x 16 x 12 grid. The max abs difference is taken over the
    cells both computed.

(c) the same shape as a Hugging Face GPT-2 checkpoint (random weights, written locally, loaded
    through ``al.load``), 16 pairs of ``{a}+{b}=`` prompts, same layer and cell sampling as (b).
    Hugging Face GPT-2 bridges take the same resume-from-layer and one-position fast paths once
    ``can_resume`` has checked that their blocks reproduce the logits from a cached residual.

(d) a Llama-shaped Hugging Face checkpoint with rotary embeddings and grouped-query attention
    (12 layers, 12 query heads, 4 key-value heads, d_model 768, SwiGLU 2048; random weights,
    written locally), same prompts and sampling as (c): rotary bridges resume from the patched
    layer too (their blocks get the position embeddings and mask from ``run_from_layer``).

Last line: ``patching_speedup_small=<x> patching_speedup_gpt2shape=<x>
patching_speedup_hf_gpt2shape=<x> patching_speedup_hf_llamashape=<x> max_abs_diff=<d>``.
Goal: >= 5x on (a)-(c), max abs diff <= 1e-4; (d) is reported.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch
from transformer_lens import patching as tlp

import arithlens as al
from arithlens.models import ModelSpec, boot
from arithlens.patching import activation_patch, attribution_patch, encode_pairs, make_metric
from arithlens.tasks import TaskSpec, corrupt_pairs


def compare(
    model, batch, tl_cells: int | None, layers: list[int] | None = None, seed: int = 0
) -> tuple[float, float, float, int]:
    """Returns (ours_s, tl_s, max_abs_diff, cells), both times scaled to the full grid."""
    metric = make_metric("answer_logprob", batch)
    n_layers = model.cfg.n_layers
    layers = list(range(n_layers)) if layers is None else layers
    t0 = time.perf_counter()
    ours = activation_patch(
        model, batch, "z", by=("layer", "pos", "head"), metric=metric, layers=layers, progress=False
    )
    ours_s = (time.perf_counter() - t0) * n_layers / len(layers)
    _, cache = model.run_with_cache(batch.clean.tokens)
    _, n_pos, n_heads = ours.values.shape
    grid = pd.DataFrame(
        [(layer, p, h) for layer in layers for p in range(n_pos) for h in range(n_heads)],
        columns=["layer", "pos", "head_index"],
    )
    if tl_cells is not None and tl_cells < len(grid):
        grid = grid.groupby("layer", group_keys=False).sample(
            n=max(1, tl_cells // len(layers)), random_state=seed
        )
    t0 = time.perf_counter()
    theirs = tlp.generic_activation_patch(
        model,
        batch.corrupt.tokens,
        cache,
        lambda lg: metric(lg).mean(),
        patch_setter=tlp.layer_pos_head_vector_patch_setter,
        activation_name="z",
        index_df=grid,
    )
    tl_s = (time.perf_counter() - t0) * (n_layers * n_pos * n_heads) / len(grid)
    ours_vals = ours.values[
        torch.tensor(grid.layer.values),
        torch.tensor(grid.pos.values),
        torch.tensor(grid.head_index.values),
    ]
    return ours_s, tl_s, (ours_vals - theirs).abs().max().item(), n_layers * n_pos * n_heads


def _hf_gpt2_small():
    """A GPT-2-small-shaped Hugging Face checkpoint (12 layers, 12 heads, d_model 768, random
    weights) with a locally made tokenizer, written to a temporary folder and loaded through
    arithlens (offline), and 16 clean/corrupt prompt pairs."""
    import tempfile

    from transformers import GPT2Config, GPT2LMHeadModel

    import arithlens as al
    from arithlens.models.toy import make_tokenizer

    folder = Path(tempfile.mkdtemp()) / "gpt2-small-shaped"
    tok = make_tokenizer("bpe")
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=768, n_layer=12, n_head=12)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    model = al.load(str(folder), template="{a}+{b}=", offline=True)
    return model, model.encoder.pairs(16, "a.units", seed=0)


def _hf_llama_shaped():
    """A Llama-shaped Hugging Face checkpoint (rotary, GQA 12/4 heads, 12 layers, d_model 768)
    with a locally made tokenizer, loaded through arithlens, and 16 prompt pairs."""
    import tempfile

    from transformers import LlamaConfig, LlamaForCausalLM

    from arithlens.models.toy import make_tokenizer

    folder = Path(tempfile.mkdtemp()) / "llama-shaped"
    tok = make_tokenizer("digits")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=768,
        intermediate_size=2048,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=4,
        max_position_embeddings=64,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    model = al.load(str(folder), template="{a}+{b}=", offline=True)
    return model, model.encoder.pairs(16, "a.units", seed=0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tl-cells", type=int, default=48, help="cells transformer_lens runs for (b)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--layers",
        type=int,
        nargs="*",
        default=[0, 11],
        help="layers swept for (b); 0 and 11 average to the mean per-layer cost",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    small = al.load("add3-2L")
    batch_a = encode_pairs(corrupt_pairs(small.task, 256, change="a.units", seed=0))
    ours_a, tl_a, diff_a, cells_a = compare(small, batch_a, None)
    print(
        f"(a) add3-2L, 256 pairs, {cells_a} cells: arithlens {ours_a:.2f} s, transformer_lens {tl_a:.2f} s"
    )

    task = TaskSpec(op="add", n_digits=4)
    spec = ModelSpec(n_layers=12, d_model=768, n_heads=12, d_head=64, d_mlp=3072, n_ctx=16, seed=0)
    big = boot(spec, task)
    big.eval()
    batch = encode_pairs(corrupt_pairs(task, 16, change="a.units", seed=0))
    assert batch.n_pos >= 16
    ours_b, tl_b, diff_b, cells_b = compare(big, batch, args.tl_cells, args.layers)
    print(
        f"(b) GPT-2-shaped, 16 pairs x {batch.n_pos} tokens, {cells_b} cells: arithlens {ours_b:.1f} s, transformer_lens {tl_b:.1f} s (scaled from {args.tl_cells} cells)"
    )
    hf, batch_c = _hf_gpt2_small()
    ours_c, tl_c, diff_c, cells_c = compare(hf, batch_c, args.tl_cells, args.layers)
    print(
        f"(c) Hugging Face GPT-2-small-shaped checkpoint (random weights, written locally), 16 "
        f"pairs x {batch_c.n_pos} tokens, {cells_c} cells: arithlens {ours_c:.1f} s, "
        f"transformer_lens {tl_c:.1f} s (scaled from {args.tl_cells} cells)"
    )
    llama, batch_d = _hf_llama_shaped()
    ours_d, tl_d, diff_d, cells_d = compare(llama, batch_d, args.tl_cells, args.layers)
    print(
        f"(d) Hugging Face Llama-shaped checkpoint (rotary, GQA 12/4 heads; random weights), 16 "
        f"pairs x {batch_d.n_pos} tokens, {cells_d} cells: arithlens {ours_d:.1f} s, "
        f"transformer_lens {tl_d:.1f} s (scaled from {args.tl_cells} cells)"
    )
    runs = (("a", small, batch_a), ("b", big, batch), ("c", hf, batch_c), ("d", llama, batch_d))
    for name, model_, batch_ in runs:
        t0 = time.perf_counter()
        attribution_patch(model_, batch_, "z", by=("layer", "pos", "head"), metric="answer_logprob")
        print(f"({name}) attribution patching, same full sweep: {time.perf_counter() - t0:.2f} s")
    print(
        f"patching_speedup_small={tl_a / ours_a:.2f} patching_speedup_gpt2shape={tl_b / ours_b:.2f} "
        f"patching_speedup_hf_gpt2shape={tl_c / ours_c:.2f} "
        f"patching_speedup_hf_llamashape={tl_d / ours_d:.2f} "
        f"max_abs_diff={max(diff_a, diff_b, diff_c, diff_d):.2e}"
    )


if __name__ == "__main__":
    main()
