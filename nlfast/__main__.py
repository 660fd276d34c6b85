"""``python -m nlfast`` (and the ``nlfast`` console script): see :mod:`nlfast.cli`."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    from nlfast.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
