"""``skacai interpolate``: draw decoded interpolations between pairs of samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skacai._cli._args import DATA_FORMATS, add_data_options, add_file_arguments, int_at_least
from skacai._cli._common import EXIT_OK, MATPLOTLIB_HINT, PROG, require_matplotlib, shown
from skacai._cli._files import FRAMES_SUFFIXES, check_output_file, load_data_arg, load_model
from skacai._model_file import atomic_write, save_figure

NAME = "interpolate"
HELP = "draw decoded interpolations between random pairs of samples (needs matplotlib)"
DESCRIPTION = (
    "Load MODEL, pick --pairs random pairs of distinct rows of DATA and draw the decoded "
    "blends g((1 - alpha) f(a) + alpha f(b)) for --steps alphas from 0 to 1, one row per "
    "pair (labelled with the two row numbers, from 0). Each frame is drawn as an image of "
    "the model's image shape (or --image-shape, or a square when the number of features "
    "is a perfect square), else as a line plot. Needs matplotlib: "
    f"{MATPLOTLIB_HINT}.\n\n" + DATA_FORMATS
)
EPILOG = f"""\
examples:
  {PROG} interpolate model.safetensors test.npy -o interpolations.png
  {PROG} interpolate model.safetensors test.npy -o grid.pdf --pairs 6 --steps 10 \\
      --image-shape 28 28 --frames-out frames.npz"""


def add_arguments(parser):
    """``MODEL``, ``DATA``, the output options, the picture's options and the data
    file options."""
    add_file_arguments(
        parser,
        data="samples to pick pairs from",
        output="picture to write; its suffix picks the format (.png, .pdf, .svg...)",
        metavar="PICTURE",
        model=True,
    )
    parser.add_argument(
        "--pairs", type=int_at_least(1), default=4, metavar="N", help="pairs, one per row (4)"
    )
    parser.add_argument(
        "--steps",
        type=int_at_least(2),
        default=8,
        metavar="N",
        help="alphas from 0 to 1, both ends included, at least 2 (8)",
    )
    parser.add_argument(
        "--random-state", type=int, default=0, metavar="SEED", help="seed of the pairs (0)"
    )
    parser.add_argument(
        "--image-shape",
        type=int,
        nargs="+",
        metavar="N",
        help="H W or C H W of one sample (default: the model's, else a square, else lines)",
    )
    parser.add_argument(
        "--show-inputs",
        action="store_true",
        help="add the real inputs in a first and a last column",
    )
    parser.add_argument("--cmap", default="gray", help="colormap of one-channel images")
    parser.add_argument("--dpi", type=int_at_least(1), default=100, help="resolution (100)")
    parser.add_argument(
        "--frames-out",
        metavar="FILE",
        help="also save the decoded frames: .npy (pairs x steps x features) or .npz "
        "(frames, alphas, start_rows, end_rows)",
    )
    add_data_options(parser)


def _check_outputs(args):
    """The picture's path, once it and the frames file (if any) can be written."""
    picture = Path(args.output)
    require_matplotlib()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffixes = tuple(f".{name}" for name in formats)
    inputs = [("model file", args.model), ("data file", args.data)]
    check_output_file(picture, "picture", suffixes, force=args.force, inputs=inputs)
    if args.frames_out is not None:
        if Path(args.frames_out).resolve() == picture.resolve():
            raise ValueError("--frames-out and --output name the same file; give two names")
        check_output_file(
            args.frames_out, "frames file", FRAMES_SUFFIXES, force=args.force, inputs=inputs
        )
    return picture


def _save_frames(model, X, starts, ends, args):
    """Decode the frames again and write them to ``--frames-out``."""
    frames = model.interpolate(X[starts], X[ends], n_steps=args.steps)
    frames_out = Path(args.frames_out)

    def write(temporary):
        with open(temporary, "wb") as file:
            if frames_out.suffix.lower() == ".npz":
                np.savez(
                    file,
                    frames=frames,
                    alphas=np.linspace(0.0, 1.0, args.steps),
                    start_rows=starts,
                    end_rows=ends,
                )
            else:
                np.save(file, frames)

    atomic_write(frames_out, write, "frames file")
    print(f"Wrote frames of shape {frames.shape} ({frames.dtype}) to {shown(frames_out)}")


def run(args):
    """Draw the interpolations (and save the frames with ``--frames-out``)."""
    picture = _check_outputs(args)
    model = load_model(args.model)
    data = load_data_arg(args, n_columns=model.n_features_in_)
    n_samples = len(data.X)
    if n_samples < 2:
        raise ValueError(f"{data.source} holds {n_samples} sample; interpolation needs 2")
    rng = np.random.default_rng(args.random_state)
    rows = np.array([rng.choice(n_samples, size=2, replace=False) for _ in range(args.pairs)])
    starts, ends = rows[:, 0], rows[:, 1]

    from skacai.plotting import plot_interpolations

    fig = plot_interpolations(
        model,
        data.X[starts],
        data.X[ends],
        args.steps,
        image_shape=None if args.image_shape is None else tuple(args.image_shape),
        show_inputs=args.show_inputs,
        row_labels=[f"{s} \N{RIGHTWARDS ARROW} {e}" for s, e in zip(starts, ends, strict=True)],
        cmap=args.cmap,
    )
    save_figure(fig, picture, dpi=args.dpi)
    print(f"Drew {args.pairs} pairs x {args.steps} steps from {data.source} to {shown(picture)}")
    if args.frames_out is not None:
        _save_frames(model, data.X, starts, ends, args)
    return EXIT_OK
