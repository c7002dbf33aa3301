"""The ``arithlens`` command: train, eval, zoo, patch, probe, demo.

Example:
    $ arithlens train --op add --digits 3 --format reversed --preset 2L --out runs/add3
    $ arithlens eval add3-2L --n 2000
    $ arithlens zoo list
    $ arithlens probe add3-2L --target carry --causal --out out/probes
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from arithlens.cli.parsers import build_parser
from arithlens.errors import ArithlensError

__all__ = ["build_parser", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point. Every failure ends with one line on stderr, never a traceback: bad input
    exits 2, a file-system error 1, an interruption 130 (set ``ARITHLENS_DEBUG=1`` to see the
    traceback of an unexpected error)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # argparse printed usage and one error line (or the help)
        return int(e.code or 0)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ArithlensError as e:
        print(f"arithlens: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arithlens: interrupted (finished outputs were written whole)", file=sys.stderr)
        return 130
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"arithlens: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except Exception as e:
        if os.environ.get("ARITHLENS_DEBUG"):
            raise
        print(
            f"arithlens: internal error: {type(e).__name__}: {e} (set ARITHLENS_DEBUG=1 for "
            "the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1
