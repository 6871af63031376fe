"""``skacai transform``: encode a data file with a saved model (or decode codes)."""

from __future__ import annotations

import numpy as np

from skacai._cli._args import DATA_FORMATS, add_data_options, add_file_arguments
from skacai._cli._common import EXIT_OK, PROG, shown
from skacai._cli._files import (
    OUTPUT_SUFFIXES,
    check_output_file,
    load_data_arg,
    load_model,
    write_array,
)

NAME = "transform"
HELP = "encode a data file with a saved model (or decode codes with --inverse)"
DESCRIPTION = (
    "Load MODEL (written by 'skacai fit' or ACAITransformer.save), encode the rows of DATA "
    "and write the codes to OUT: .npy, .npz (array 'codes') or .csv (a header line of "
    "column names, values written to read back exactly). Codes are float32 for float32 "
    "data and float64 for any other data (.csv data is float64).\n\n" + DATA_FORMATS
)
EPILOG = f"""\
examples:
  {PROG} transform model.safetensors test.npy -o codes.npy
  {PROG} transform model.safetensors test.csv -o codes.csv
  {PROG} transform model.safetensors codes.npy -o decoded.npy --inverse"""


def add_arguments(parser):
    """``MODEL``, ``DATA``, the output options, ``--inverse`` and the data file options."""
    add_file_arguments(
        parser,
        data="data to encode: .npy, .npz or .csv",
        output="file to write: .npy, .npz or .csv (its folder must exist)",
        metavar="OUT",
        model=True,
    )
    parser.add_argument(
        "--inverse",
        action="store_true",
        help="DATA holds codes: decode them with inverse_transform (.npz array 'data')",
    )
    add_data_options(parser)


def run(args):
    """Encode (or decode) the data and write the result."""
    inputs = [("model file", args.model), ("data file", args.data)]
    output = check_output_file(
        args.output, "output file", OUTPUT_SUFFIXES, force=args.force, inputs=inputs
    )
    model = load_model(args.model)
    data = load_data_arg(args, n_columns=None if args.inverse else model.n_features_in_)
    if args.inverse:
        result = np.asarray(model.inverse_transform(data.X))
        names = getattr(model, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(result.shape[1])]
        key, what = "data", "decoded data"
    else:
        result = np.asarray(model.transform(data.X))
        names, key, what = model.get_feature_names_out(), "codes", "codes"
    write_array(output, result, key=key, column_names=names)
    print(
        f"Wrote {what} of shape {result.shape} ({result.dtype}) to {shown(output)}, from "
        f"{data.source}"
    )
    return EXIT_OK
