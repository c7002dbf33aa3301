"""``python -m arithlens.cli``."""

from arithlens.cli import main

raise SystemExit(main())
