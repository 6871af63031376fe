"""Progress bars (tqdm) for verbose training and long inference calls.

Nothing here prints unless the estimator's ``verbose`` is positive. Bars go to
stderr (tqdm's default; a notebook widget under Jupyter), so that they never
mix with what a user's script prints on stdout.
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

# An inference bar (transform, inverse_transform, score_samples, interpolate)
# appears only once the call has run this many seconds, so that the short calls
# of a verbose Pipeline or search stay quiet while a long one does not look frozen.
INFERENCE_DELAY = 2.0

# Outside a terminal or a notebook (a log file, a CI job) a bar that redraws ten
# times a second floods the log with lines; redraw at most this often there.
LOG_INTERVAL = 30.0


class _Silent:
    """The do-nothing stand-in for a bar when ``verbose`` is 0."""

    def update(self, n=1):
        pass

    def set_description_str(self, description, refresh=True):
        pass

    def set_postfix_str(self, postfix="", refresh=True):
        pass

    def close(self):
        pass


def _interval():
    in_notebook = tqdm.__module__.startswith("tqdm.notebook")
    interactive = in_notebook or getattr(sys.stderr, "isatty", bool)()
    return 0.1 if interactive else LOG_INTERVAL


def training_bar(verbose, n_epochs, n_samples):
    """A bar over ``n_epochs`` epochs of ``n_samples`` samples, counted in samples."""
    if not verbose:
        return _Silent()
    return tqdm(
        total=n_epochs * n_samples,
        desc=f"ACAI epoch 1/{n_epochs}",
        unit=" samples",
        unit_scale=True,
        mininterval=_interval(),
        dynamic_ncols=True,
    )


def inference_bar(verbose, method, n_rows, batch_size):
    """A bar over ``n_rows`` rows, shown after :data:`INFERENCE_DELAY` seconds."""
    if not verbose or n_rows <= batch_size:
        return _Silent()
    return tqdm(
        total=n_rows,
        desc=f"ACAI {method}",
        unit=" samples",
        unit_scale=True,
        delay=INFERENCE_DELAY,
        mininterval=_interval(),
        leave=False,
        dynamic_ncols=True,
    )


def format_terms(terms, loss):
    """The postfix of the training bar: the epoch's loss and its four terms."""
    parts = [f"loss={loss:.4g}"]
    parts += [f"{name}={value:.4g}" for name, value in terms.items()]
    return ", ".join(parts)


def show_epoch(bar, verbose, n_iter, entry):
    """Report a completed epoch (its history entry: the loss, then each term) on the
    training ``bar``, and with ``verbose >= 2`` as a line of its own."""
    loss, terms = entry["loss"], {k: v for k, v in entry.items() if k != "loss"}
    bar.set_postfix_str(format_terms(terms, loss))
    if verbose >= 2:
        parts = ", ".join(f"{name} = {value:.6f}" for name, value in terms.items())
        tqdm.write(f"Iteration {n_iter}, loss = {loss:.6f} ({parts})")
