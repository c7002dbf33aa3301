"""Activation sites: the one registry of what can be read or patched, and its hook names.

Patching (:func:`arithlens.patching.activation_patch`), probes (:func:`arithlens.probes.fit`),
the logit lens and the widgets all name activations here; no other module spells a hook name.
A site is per block (``blocks.{layer}...``); the residual *stream* is the embeddings (``emb``,
the input of block 0) and the output of every block (``L0``, ``L1``, ...).

Example:
    >>> hook("z", 1)
    'blocks.1.attn.hook_z'
    >>> SITES["pattern"].layout
    'head qpos kpos'
    >>> stream(2)
    [('emb', 'blocks.0.hook_resid_pre'), ('L0', 'blocks.1.hook_resid_pre'), ('L1', 'blocks.1.hook_resid_post')]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from arithlens.errors import ArithlensError


@dataclass(frozen=True)
class Site:
    """An activation of every block.

    Attributes:
        name: the site's short name (``"z"``).
        hook: hook name template (``{layer}`` filled in).
        layout: its axes after batch: ``"pos d"`` (residual-like), ``"pos head d"`` (per head
            vectors) or ``"head qpos kpos"`` (attention pattern).
    """

    name: str
    hook: str
    layout: str

    def at(self, layer: int) -> str:
        """The hook name in block ``layer``."""
        return self.hook.format(layer=layer)


SITES: dict[str, Site] = {
    s.name: s
    for s in (
        Site("resid_pre", "blocks.{layer}.hook_resid_pre", "pos d"),
        Site("resid_mid", "blocks.{layer}.hook_resid_mid", "pos d"),
        Site("resid_post", "blocks.{layer}.hook_resid_post", "pos d"),
        Site("attn_out", "blocks.{layer}.hook_attn_out", "pos d"),
        Site("mlp_out", "blocks.{layer}.hook_mlp_out", "pos d"),
        Site("mlp_post", "blocks.{layer}.mlp.hook_post", "pos d"),
        Site("z", "blocks.{layer}.attn.hook_z", "pos head d"),
        Site("q", "blocks.{layer}.attn.hook_q", "pos head d"),
        Site("k", "blocks.{layer}.attn.hook_k", "pos head d"),
        Site("v", "blocks.{layer}.attn.hook_v", "pos head d"),
        Site("pattern", "blocks.{layer}.attn.hook_pattern", "head qpos kpos"),
    )
}

Hooks = list[tuple[str | Callable[..., Any], Callable[..., Any]]]
"""Forward hooks as ``run_with_hooks(fwd_hooks=...)`` takes them: ``(hook name, function)``."""

EMBEDDINGS = "blocks.0.hook_resid_pre"
"""The residual stream before block 0: the token and position embeddings."""

FINAL_IN = "ln_final.hook_in"
"""The final residual stream as the unembedding reads it (the input of the last layer norm)."""

MLP_IN = Site("mlp_in", "blocks.{layer}.ln2.hook_in", "pos d")
"""The residual stream as block ``layer``'s MLP reads it (its layer norm's input; changing it
changes the MLP's input only, not the stream): the MLP's receiver in a circuit's graph."""


def site(name: str, among: tuple[str, ...] | None = None) -> Site:
    """The site called ``name`` (one of ``among`` when given)."""
    allowed = list(among) if among is not None else list(SITES)
    if name not in allowed:
        raise ArithlensError(f"activation {name!r} is unknown: expected one of {allowed}")
    return SITES[name]


def hook(name: str, layer: int) -> str:
    """The hook name of site ``name`` in block ``layer``."""
    return site(name).at(layer)


def layers(name: str, n_layers: int) -> list[str]:
    """The hook names of site ``name`` in every block."""
    return [hook(name, layer) for layer in range(n_layers)]


def stream(n_layers: int) -> list[tuple[str, str]]:
    """``(label, hook)`` of the residual stream: the embeddings (``emb``) and the output of each
    block (``L0`` ... ``L{n-1}``)."""
    names = layers("resid_pre", n_layers) + [hook("resid_post", n_layers - 1)]
    return list(zip(["emb"] + [f"L{i}" for i in range(n_layers)], names))


__all__ = [
    "EMBEDDINGS",
    "FINAL_IN",
    "MLP_IN",
    "SITES",
    "Hooks",
    "Site",
    "hook",
    "layers",
    "site",
    "stream",
]
