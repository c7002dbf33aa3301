"""Helpers for frozen config dataclasses that round-trip through JSON."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, TypeVar

from arithlens.errors import ArithlensError

T = TypeVar("T")


def from_dict(cls: type[T], d: dict[str, Any], what: str) -> T:
    """Build dataclass ``cls`` from ``d``, naming unknown and missing keys (``what`` says which
    record)."""
    if not isinstance(d, dict):
        raise ArithlensError(f"{what} is a {type(d).__name__}: expected a JSON object")
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    known = {f.name for f in fields}
    required = {
        f.name
        for f in fields
        if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
    }
    extra, missing = set(d) - known, required - set(d)
    if extra:
        raise ArithlensError(f"{what} keys {sorted(extra)} are unknown: expected {sorted(known)}")
    if missing:
        raise ArithlensError(f"{what} lacks the keys {sorted(missing)}")
    try:
        return cls(**d)
    except TypeError as e:
        raise ArithlensError(f"{what} {d!r} is invalid: {e}") from None


class FamilyRecord:
    """JSON round trip of a task family's frozen dataclass, tagged with its ``family``.

    Example:
        >>> from arithlens.tasks import SortSpec
        >>> SortSpec.from_dict(SortSpec(max_len=4).to_dict()) == SortSpec(max_len=4)
        True
    """

    family: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, **dataclasses.asdict(self)}  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[F], d: dict[str, Any]) -> F:
        """Inverse of :meth:`to_dict`; names unknown and missing keys and another family."""
        if not isinstance(d, dict):
            raise ArithlensError(f"{cls.family} task is a {type(d).__name__}: expected an object")
        d = dict(d)
        if d.pop("family", cls.family) != cls.family:
            raise ArithlensError(f"task dict {d!r} is not a {cls.family} task")
        return from_dict(cls, d, f"{cls.family} task")


F = TypeVar("F", bound=FamilyRecord)
