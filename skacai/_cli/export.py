"""``skacai export``: write a saved model's encoder (or decoder), scaling included, as
TorchScript, a torch.export program or ONNX."""

from __future__ import annotations

from skacai._cli._common import EXIT_OK, PROG, CommandError, shown
from skacai._cli._files import check_output_file, load_model
from skacai._export import FORMATS, ONNX_HINT, PARTS, resolve_format

NAME = "export"
HELP = "write a model's encoder (or decoder) as TorchScript, torch.export or ONNX"
DESCRIPTION = (
    "Load MODEL (written by 'skacai fit' or ACAITransformer.save) and write its encoder "
    "(or decoder, with --part decoder) to OUT as a file that runs without skacai, the "
    "input scaling built in: the encoder takes raw float32 features (input 'X') and gives "
    "the codes of 'skacai transform' (output 'codes'); the decoder takes codes (input "
    "'codes') and gives data in the input's units (output 'X_reconstructed'). Any number "
    "of rows. The suffix of OUT picks the format (or --format): .pt, .pth or .torchscript "
    "for TorchScript (torch.jit.load), .pt2 for a torch.export program "
    "(torch.export.load), .onnx for ONNX (onnxruntime; needs " + ONNX_HINT + ")."
)
EPILOG = f"""\
examples:
  {PROG} export model.safetensors -o encoder.onnx
  {PROG} export model.safetensors -o decoder.pt2 --part decoder
  {PROG} export model.safetensors -o encoder.bin --format torchscript"""


def add_arguments(parser):
    """``MODEL``, ``-o/--output``, ``-f/--force``, ``--part`` and ``--format``."""
    parser.add_argument("model", metavar="MODEL", help="a model file written by skacai fit")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="file to write (its folder must exist)",
    )
    parser.add_argument(
        "-f", "--force", action="store_true", help="replace OUT if it exists (never MODEL)"
    )
    parser.add_argument(
        "--part", choices=PARTS, default="encoder", help="the network to export (encoder)"
    )
    parser.add_argument(
        "--format",
        choices=("auto", *FORMATS),
        default="auto",
        help="the file format (auto: from the suffix of OUT)",
    )


def run(args):
    """Export the network and say what was written."""
    format = resolve_format(args.output, args.format, option="--format ")
    output = check_output_file(
        args.output, "output file", force=args.force, inputs=[("model file", args.model)]
    )
    model = load_model(args.model)
    try:
        model.export(output, part=args.part, format=format)
    except ImportError as error:
        raise CommandError(str(error)) from None
    n_codes = len(model.get_feature_names_out())
    shapes = [f"{model.n_features_in_} features", f"{n_codes} codes"]
    if args.part == "decoder":
        shapes.reverse()
    print(
        f"Wrote the {args.part} ({' -> '.join(shapes)}, float32, any number of rows) as "
        f"{FORMATS[format]} to {shown(output)}"
    )
    return EXIT_OK
