"""Command line: ``python -m skacai demo`` (also installed as ``skacai``)."""

from __future__ import annotations

import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="skacai", description="ACAI for scikit-learn.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="compare raw pixels, PCA, a plain autoencoder and ACAI on the bundled digits",
    )
    demo.add_argument("--max-iter", type=int, default=60, help="training epochs (default 60)")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--plot", metavar="PNG", help="save an interpolation picture here")
    args = parser.parse_args(argv)
    if args.max_iter < 1:
        parser.error("--max-iter must be at least 1")

    from skacai._demo import run_demo

    run_demo(max_iter=args.max_iter, random_state=args.random_state, plot=args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
