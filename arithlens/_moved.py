"""Modules that moved keep their old import path: ``import arithlens.evaluation`` gives
:mod:`arithlens.analyses.evaluation` itself (the same module object, so monkeypatching either
name patches both), loaded on first use.

Example:
    >>> import arithlens.evaluation, arithlens.analyses.evaluation
    >>> arithlens.evaluation is arithlens.analyses.evaluation
    True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType

MOVED = {
    **{f"arithlens.{m}": f"arithlens.analyses.{m}" for m in ("evaluation", "lens", "attention")},
    **{f"arithlens.{m}": f"arithlens.analyses.{m}" for m in ("finetune", "circuits")},
    **{f"arithlens.{m}": f"arithlens.faces.{m}" for m in ("demo", "report", "zoo_rebuild")},
}
"""Old module path -> where it lives now (issue 29's layout: one folder per floor)."""


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old path in :data:`MOVED` to the module at its new one."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """The module at the new path is already executed."""


def install() -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
