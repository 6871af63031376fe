"""``skacai fit``: fit an ACAITransformer on a data file and save it.

The options that set an estimator parameter are the rows of :data:`FIT_OPTIONS`: each
row makes one flag and fills one keyword argument of ``ACAITransformer``, and its help
ends with the estimator's default as ``get_params`` reports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from skacai._cli._args import (
    DATA_FORMATS,
    add_data_options,
    add_file_arguments,
    count_or_auto,
    parse_assignment,
)
from skacai._cli._common import EXIT_OK, PROG, shown
from skacai._cli._files import check_output_file, load_data_arg
from skacai._estimator import ACAITransformer
from skacai._networks import ARCHITECTURES, auto_architecture
from skacai._plan import AUTO_MAX_EPOCHS

NAME = "fit"
HELP = "fit an ACAITransformer on a data file and save it"
DESCRIPTION = (
    "Fit an ACAITransformer on the rows of DATA and save it to MODEL with "
    "ACAITransformer.save (a safetensors file that loads without running code; load it "
    "in Python with ACAITransformer.load). Options left out keep the estimator's "
    "defaults; --set gives any other parameter.\n\n" + DATA_FORMATS
)
EPILOG = f"""\
examples:
  {PROG} fit train.npy -o model.safetensors
  {PROG} fit train.csv -o model.safetensors --n-components 8 --hidden-layer-sizes 64 32
  {PROG} fit images.npz --key train -o model.safetensors --image-shape 1 28 28 \\
      --n-components 32 --set early_stopping=True"""


@dataclass(frozen=True)
class FitOption:
    """One option of ``skacai fit`` that sets the ACAITransformer parameter ``parameter``.

    The flag's value is stored under ``parameter`` and is None when the flag is left
    out (the estimator's default then applies). Its help is ``help`` followed by that
    default, read from ``ACAITransformer().get_params()``: ``(default 16)``, or
    ``(default: UNSET)`` with the words ``unset`` for a default of None; no default
    is shown when ``show_default`` is false.
    """

    parameter: str
    flags: tuple[str, ...]
    help: str
    metavar: str | None = None
    type: Callable | None = None
    nargs: str | None = None
    choices: tuple[str, ...] | None = None
    action: str | None = None
    unset: str = "none"
    show_default: bool = True

    @property
    def flag(self):
        """The long flag, as messages name the option (``--learning-rate``)."""
        return self.flags[-1]

    def help_text(self, default):
        """The option's help, ending with the estimator's ``default``."""
        if not self.show_default:
            return self.help
        if default is None:
            return f"{self.help} (default: {self.unset})"
        if isinstance(default, (tuple, list)):
            default = " ".join(map(str, default))
        return f"{self.help} (default {default})"

    def add_to(self, parser, default):
        """Add the flag to ``parser`` (an argument group), with ``default`` in its help."""
        settings = {
            "metavar": self.metavar,
            "type": self.type,
            "nargs": self.nargs,
            "choices": self.choices,
            "action": self.action,
        }
        parser.add_argument(
            *self.flags,
            dest=self.parameter,
            help=self.help_text(default),
            **{name: value for name, value in settings.items() if value is not None},
        )


def per_architecture(field):
    """An :class:`~skacai._networks.Architecture` field of every entry of the registry,
    for a help text: ``"600,000 (mlp) or 120,000 (conv)"``."""
    values = [f"{getattr(entry, field):,} ({name})" for name, entry in ARCHITECTURES.items()]
    return ", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else values[0]


FIT_OPTIONS = (
    FitOption("n_components", ("--n-components",), "size of the latent code", "K", int),
    FitOption(
        "hidden_layer_sizes",
        ("--hidden-layer-sizes",),
        "widths of the encoder's hidden layers, e.g. 512 256; none for linear networks",
        "N",
        int,
        nargs="*",
    ),
    FitOption(
        "architecture",
        ("--architecture",),
        "; ".join(f"{name}: {entry.description}" for name, entry in ARCHITECTURES.items())
        + f"; auto: {auto_architecture(True)} with --image-shape, "
        f"{auto_architecture(False)} without",
        choices=("auto", *ARCHITECTURES),
    ),
    FitOption(
        "image_shape",
        ("--image-shape",),
        "C H W (or H W) of the images whose flattened pixels are the rows; gives "
        "them conv networks and one scale for all pixels",
        "N",
        int,
        nargs="+",
    ),
    FitOption(
        "adversarial_weight",
        ("--adversarial-weight",),
        "weight of the critic in the autoencoder's loss; 0 trains a plain autoencoder",
        "LAMBDA",
        float,
    ),
    FitOption(
        "critic_regularization", ("--critic-regularization",), "gamma in [0, 1]", "GAMMA", float
    ),
    FitOption(
        "max_iter",
        ("--max-iter",),
        f"maximum number of epochs, or auto: about {per_architecture('auto_budget')} "
        f"training samples, at most {AUTO_MAX_EPOCHS} epochs",
        "EPOCHS",
        count_or_auto,
    ),
    FitOption(
        "batch_size",
        ("--batch-size",),
        f"samples per training step, or auto: {per_architecture('auto_batch')}",
        "N",
        count_or_auto,
    ),
    FitOption(
        "learning_rate_init",
        ("--learning-rate",),
        "Adam's learning rate, learning_rate_init",
        "RATE",
        float,
    ),
    FitOption(
        "random_state",
        ("--random-state",),
        "seed, for the same model on every run on CPU",
        "SEED",
        int,
        unset="fresh entropy",
    ),
    FitOption(
        "verbose",
        ("-v", "--verbose"),
        "-v: a progress bar with the loss terms; -vv: also a line per epoch",
        action="count",
        show_default=False,
    ),
)


def add_arguments(parser):
    """``DATA``, the output options, one flag per row of :data:`FIT_OPTIONS`, ``--set``
    and the data file options."""
    add_file_arguments(
        parser,
        data="training data: .npy, .npz or .csv",
        output="model file to write (e.g. model.safetensors); its folder must exist",
        metavar="MODEL",
    )
    params = parser.add_argument_group("model parameters (default: the estimator's)")
    defaults = ACAITransformer().get_params()
    for option in FIT_OPTIONS:
        option.add_to(params, defaults[option.parameter])
    params.add_argument(
        "--set",
        action="append",
        type=parse_assignment,
        metavar="NAME=VALUE",
        help="any other ACAITransformer parameter (repeatable), VALUE a Python literal, "
        "e.g. --set scaling=None --set early_stopping=True --set device=cpu",
    )
    add_data_options(parser)


def fit_parameters(args):
    """The ACAITransformer parameters given on the command line (options and ``--set``)."""
    params = {}
    for option in FIT_OPTIONS:
        value = getattr(args, option.parameter)
        if value is not None:
            params[option.parameter] = tuple(value) if isinstance(value, list) else value
    known = ACAITransformer().get_params()
    flag_of = {option.parameter: option.flag for option in FIT_OPTIONS}
    for name, value in args.set or []:
        if name not in known:
            raise ValueError(
                f"--set {name}: ACAITransformer has no parameter {name!r}; "
                f"its parameters: {', '.join(sorted(known))}"
            )
        if name in params:
            given = flag_of.get(name, f"--set {name}")
            raise ValueError(f"{name} is given twice: by {given} and by --set {name}")
        params[name] = value
    return params


def run(args):
    """Fit the model, save it, and print what was fitted in three lines."""
    model = ACAITransformer(**fit_parameters(args))
    model._validate_params()  # bad values fail before a long read of the data
    output = check_output_file(
        args.output, "model file", force=args.force, inputs=[("data file", args.data)]
    )
    data = load_data_arg(args)
    n_samples, n_features = data.X.shape
    start = time.perf_counter()
    model.fit(data.X)
    seconds = time.perf_counter() - start
    model.save(output)
    print(
        f"Fitted ACAITransformer on {n_samples} samples x {n_features} features from "
        f"{data.source} in {seconds:.1f} s"
    )
    if model.n_iter_:
        reconstruction = model.history_["reconstruction"][-1]
        print(
            f"epochs: {model.n_iter_} (max_iter={model.max_iter}), final loss "
            f"{model.loss_curve_[-1]:.6g} (reconstruction {reconstruction:.6g})"
        )
    else:
        print(f"epochs: 0 (max_iter={model.max_iter}): no epoch completed")
    n_components = len(model.get_feature_names_out())
    print(f"Model ({n_components} components) saved to {shown(output)}")
    return EXIT_OK
