"""Command line: ``python -m skacai`` (also installed as ``skacai``); see ``skacai._cli``."""

import sys

from skacai._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
