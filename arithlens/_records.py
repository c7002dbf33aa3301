"""Helpers for frozen config dataclasses that round-trip through JSON."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from arithlens.errors import ArithlensError

T = TypeVar("T")


def from_dict(cls: type[T], d: dict[str, Any], what: str) -> T:
    """Build dataclass ``cls`` from ``d``, naming unknown keys (``what`` says which record)."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    extra = set(d) - known
    if extra:
        raise ArithlensError(f"{what} keys {sorted(extra)} are unknown: expected {sorted(known)}")
    return cls(**d)
