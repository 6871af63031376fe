"""verbose: a progress bar over training and long inference calls, silence at 0."""

import re

import numpy as np
import pytest
import tqdm

from skacai import ACAITransformer, _fit_loop, _inference, _progress

SMALL = {"hidden_layer_sizes": (16,), "batch_size": 32, "max_iter": 4, "random_state": 0}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(100, 6)).astype(np.float32)


@pytest.fixture
def eager_bars(monkeypatch):
    """Inference bars for any call longer than one batch of 16 rows, at once."""
    monkeypatch.setattr(_progress, "INFERENCE_DELAY", 0)
    monkeypatch.setattr(_inference, "INFERENCE_BATCH_SIZE", 16)


def run_every_method(model, X):
    codes = model.transform(X)
    return [
        codes,
        model.inverse_transform(codes),
        model.score_samples(X),
        np.array(model.score(X)),
        model.interpolate(X[:20], X[20:40], 3),
    ]


def test_verbose_0_prints_nothing_anywhere(X, capsys, eager_bars):
    model = ACAITransformer(n_components=2, **SMALL).fit(X)
    model.partial_fit(X)
    run_every_method(model, X)
    assert capsys.readouterr() == ("", "")


def test_verbose_1_shows_a_bar_over_the_epochs_with_the_loss_terms(X, capsys):
    model = ACAITransformer(n_components=2, verbose=1, **SMALL).fit(X)
    out, err = capsys.readouterr()
    assert out == ""
    final = err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("ACAI epoch 4/4: 100%")
    assert "400/400" in final and "samples/s" in final
    last = {name: values[-1] for name, values in model.history_.items()}
    for name, value in last.items():
        assert f"{name}={value:.4g}" in final
    assert not tqdm.tqdm._instances  # closed


def test_partial_fit_shows_one_epoch(X, capsys):
    ACAITransformer(n_components=2, verbose=1, **SMALL).partial_fit(X)
    err = capsys.readouterr().err
    assert "ACAI epoch 1/1: 100%" in err and "100/100" in err


def test_verbose_2_also_prints_a_line_per_epoch_on_stdout(X, capsys):
    model = ACAITransformer(n_components=2, verbose=2, **SMALL).fit(X)
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("Iteration 1, loss = ")
    assert f"loss = {model.loss_curve_[-1]:.6f}" in lines[-1]
    assert "critic_regularization = " in lines[0]
    assert "ACAI epoch 4/4" in err


def test_the_bar_stops_where_early_stopping_stops(X, capsys):
    model = ACAITransformer(
        n_components=2, verbose=1, tol=1e9, n_iter_no_change=2, **{**SMALL, "max_iter": 50}
    ).fit(X)
    assert model.n_iter_ == 3  # the first epoch improves on nothing, two more do not
    final = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("ACAI epoch 3/50:") and "300/5.00k" in final


def test_ctrl_c_closes_the_bar(X, capsys, monkeypatch):
    real_train_epoch = _fit_loop.train_epoch
    calls = []

    def interrupted_in_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train_epoch(*args, **kwargs)

    monkeypatch.setattr(_fit_loop, "train_epoch", interrupted_in_second_epoch)
    with pytest.warns(UserWarning, match="interrupted"):
        model = ACAITransformer(n_components=2, verbose=1, **SMALL).fit(X)
    assert model.n_iter_ == 1 and not tqdm.tqdm._instances
    assert "ACAI epoch 2/4" in capsys.readouterr().err


@pytest.mark.parametrize(
    "method",
    ["transform", "inverse_transform", "score_samples", "score", "interpolate"],
)
def test_long_inference_calls_show_a_bar(X, capsys, eager_bars, method):
    model = ACAITransformer(n_components=2, verbose=1, **SMALL).fit(X)
    capsys.readouterr()
    data = model.transform(X) if method == "inverse_transform" else X
    capsys.readouterr()
    if method == "interpolate":
        model.interpolate(X[:40], X[40:80], 3)
    else:
        getattr(model, method)(data)
    err = capsys.readouterr().err
    assert re.search(rf"ACAI {method}\b", err)
    assert not tqdm.tqdm._instances


def test_bars_change_no_result(X, eager_bars, capsys):
    quiet = ACAITransformer(n_components=2, **SMALL).fit(X)
    loud = ACAITransformer(n_components=2, verbose=2, **SMALL).fit(X)
    for a, b in zip(run_every_method(quiet, X), run_every_method(loud, X), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_single_batch_never_shows_an_inference_bar(X, capsys, monkeypatch):
    monkeypatch.setattr(_progress, "INFERENCE_DELAY", 0)
    model = ACAITransformer(n_components=2, verbose=1, **SMALL).fit(X)
    capsys.readouterr()
    run_every_method(model, X)  # 100 rows, one batch of 4096
    assert capsys.readouterr().err == ""


def test_bars_redraw_rarely_outside_a_terminal(monkeypatch):
    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.setattr(_progress.sys, "stderr", Stream(False))
    assert _progress._interval() == _progress.LOG_INTERVAL
    monkeypatch.setattr(_progress.sys, "stderr", Stream(True))
    assert _progress._interval() == 0.1
