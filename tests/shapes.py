"""The run-time shape checker the test suite installs (see the root ``conftest.py``).

:func:`check` is the typechecker jaxtyping's import hook applies to every function of
arithlens: a function that annotates an array shape (``Float[Tensor, "batch pos"]``,
``Int[np.ndarray, "batch digit"]``) is wrapped by beartype, so each call checks its
arguments and its return value against the annotations and every dimension name has one size
across them; a function without shape annotations is left as it is, so its own checks (an
:class:`~arithlens.errors.ArithlensError` naming a bad value) still answer bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from beartype import BeartypeConf, beartype

SHAPED = re.compile(r"\b(Float|Int|Bool|Shaped|Num|Integer|Real)\[")
_CHECK = beartype(conf=BeartypeConf(is_pep484_tower=True))  # an int where a float is declared


def has_shapes(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` annotates an array shape in a parameter or its return value."""
    notes = getattr(fn, "__annotations__", {}) or {}
    return any(SHAPED.search(v if isinstance(v, str) else repr(v)) for v in notes.values())


def check(fn: Any) -> Any:
    """``fn`` checked by beartype when it annotates shapes; anything else unchanged."""
    if callable(fn) and not isinstance(fn, type) and has_shapes(fn):
        return _CHECK(fn)
    return fn
