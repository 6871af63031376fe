"""``skacai demo``: the README's comparison on scikit-learn's bundled digits."""

from __future__ import annotations

from skacai._cli._args import count_or_auto
from skacai._cli._common import EXIT_OK, PROG, require_matplotlib
from skacai._cli._files import check_output_file

NAME = "demo"
HELP = "compare raw pixels, PCA, a plain autoencoder and ACAI on the bundled digits"
DESCRIPTION = (
    "Train on scikit-learn's bundled digits (offline) and compare raw pixels, PCA, a plain "
    "autoencoder and ACAI: KMeans accuracy, a logistic-regression probe and the "
    "reconstruction error, in one table."
)
EPILOG = f"example:\n  {PROG} demo --plot demo-interpolation.png"


def add_arguments(parser):
    """The options of ``skacai demo``."""
    parser.add_argument(
        "--max-iter",
        type=count_or_auto,
        default="auto",
        metavar="EPOCHS",
        help="training epochs, or auto: the estimator's default budget (default auto)",
    )
    parser.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="SEED",
        help="first model seed, and the data split's (default 0)",
    )
    parser.add_argument(
        "--n-seeds",
        type=int,
        default=3,
        metavar="N",
        help="model seeds SEED, SEED+1, ...: the table shows means and spreads (default 3)",
    )
    parser.add_argument("--plot", metavar="PNG", help="save an interpolation picture here")
    parser.add_argument(
        "-f", "--force", action="store_true", help="replace the picture if it exists"
    )


def run(args):
    """Run the demo; print its table (and save its picture with ``--plot``)."""
    if args.plot is not None:
        check_output_file(args.plot, "picture", force=args.force)
        require_matplotlib()
    from skacai._demo import run_demo

    if args.n_seeds < 1:
        args.parser.error("--n-seeds must be at least 1")
    run_demo(
        max_iter=args.max_iter,
        random_state=args.random_state,
        n_seeds=args.n_seeds,
        plot=args.plot,
    )
    return EXIT_OK
