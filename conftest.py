"""Loaded by pytest before anything is collected: the array shapes of arithlens are checked at
run time during the tests. jaxtyping's import hook decorates every function of the package with
``@jaxtyped``; :func:`tests.shapes.check` makes each one that annotates a shape
(``Float[Tensor, "batch pos d_vocab"]``) check its arguments and return value, with one size per
dimension name across them. Set ARITHLENS_NO_SHAPE_CHECKS=1 to turn it off."""

import os

if not os.environ.get("ARITHLENS_NO_SHAPE_CHECKS"):
    import tests.shapes

    tests.shapes.install("arithlens")
