"""arithlens: interpretability for arithmetic in transformers.

Example:
    >>> import arithlens as al
    >>> model = al.zoo.load("add3-2L")          # doctest: +SKIP
    >>> al.evaluate.evaluate(model).exact_match  # doctest: +SKIP
"""

from arithlens import tasks
from arithlens.errors import ArithlensError
from arithlens.tasks import Problems, TaskSpec
from arithlens.version import __version__

__all__ = ["ArithlensError", "Problems", "TaskSpec", "__version__", "tasks"]
