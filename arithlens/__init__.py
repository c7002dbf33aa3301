"""arithlens: interpretability for arithmetic in transformers.

Example:
    >>> import arithlens as al
    >>> model = al.load("add3-2L")              # doctest: +SKIP
    >>> al.evaluate(model, n=2000).exact_match      # doctest: +SKIP
"""

from arithlens import _moved, analyses, llm, models, patching, plots, probes, sweeps, tasks, tokens
from arithlens.analyses import circuits, finetune, lens, mechanism, numbers
from arithlens.analyses.attention import digit_alignment
from arithlens.analyses.evaluation import (
    EvalResult,
    accuracy_by_label,
    evaluate,
    length_generalization,
)
from arithlens.errors import ArithlensError
from arithlens.models import TrainConfig, build_model, train, zoo
from arithlens.models.loading import load
from arithlens.tasks import Problems, TaskSpec
from arithlens.tokens.tokenizer import CharTokenizer, TokenBatch, encode
from arithlens.version import __version__

_moved.install()  # arithlens.evaluation, arithlens.demo, ...: the modules' old paths

__all__ = [
    "ArithlensError",
    "CharTokenizer",
    "EvalResult",
    "Problems",
    "TaskSpec",
    "TokenBatch",
    "TrainConfig",
    "__version__",
    "accuracy_by_label",
    "analyses",
    "build_model",
    "circuits",
    "mechanism",
    "digit_alignment",
    "encode",
    "evaluate",
    "figures",
    "finetune",
    "length_generalization",
    "lens",
    "llm",
    "load",
    "models",
    "numbers",
    "patching",
    "plots",
    "probes",
    "sweeps",
    "tasks",
    "tokens",
    "train",
    "widgets",
    "zoo",
]


def __getattr__(name: str):
    # widgets import ipywidgets and plotly's FigureWidget, figures every analysis: both are
    # loaded on first use only
    if name in ("widgets", "figures"):
        import importlib

        return importlib.import_module(f"arithlens.{name}")
    raise AttributeError(f"module 'arithlens' has no attribute {name!r}")
