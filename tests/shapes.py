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


_MISSING = object()


def install(package: str = "arithlens") -> None:
    """Install jaxtyping's import hook on ``package`` with :func:`check`, decorating only what
    annotates a shape: jaxtyping's ``@jaxtyped`` binds every call's arguments to the
    signature, which on the many small unshaped helpers (numeracy's per-problem writers, the
    samplers) cost the suite minutes and checked nothing."""
    import jaxtyping

    real = jaxtyping.jaxtyped

    def jaxtyped_if_shaped(fn: Any = _MISSING, *, typechecker: Any = _MISSING) -> Any:
        if fn is _MISSING:
            return lambda f: jaxtyped_if_shaped(f, typechecker=typechecker)
        return real(fn, typechecker=typechecker) if has_shapes(fn) else fn

    jaxtyping.jaxtyped = jaxtyped_if_shaped  # the hook's inserted decorator looks it up here
    jaxtyping.install_import_hook(package, "tests.shapes.check")
