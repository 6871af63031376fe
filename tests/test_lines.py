"""The lines benchmark: the synthetic data set and its two metrics."""

import inspect

import numpy as np
import pytest

from skacai import ACAITransformer
from skacai.datasets import draw_line, make_lines, reference_lines
from skacai.metrics import (
    evaluate_lines,
    line_interpolation_scores,
    nearest_lines,
    smoothness_scores,
)


def ink(image):
    """Drawn area in pixels: each pixel holds (value + 1) / 2 of ink."""
    return float(np.sum((image + 1) / 2))


def test_make_lines_is_seeded_and_in_range():
    X, angles = make_lines(50, random_state=0)
    X2, angles2 = make_lines(50, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(angles, angles2)
    assert not np.array_equal(make_lines(50, random_state=1)[1], angles)
    assert X.shape == (50, 1024) and angles.shape == (50,)
    assert X.min() == -1.0 and X.max() == 1.0
    assert np.all((angles >= 0) & (angles < 2 * np.pi))
    assert np.mean(X == -1) > 0.9  # mostly background


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, np.True_, "10"])
def test_make_lines_rejects_bad_sizes(bad):
    with pytest.raises(
        ValueError,
        match=r"The 'n_samples' parameter of make_lines must be an int \(not a bool\) "
        r"in the range \[1, inf\)",
    ):
        make_lines(bad)


def test_make_lines_rejects_a_bool_image_size():
    with pytest.raises(
        ValueError,
        match=r"The 'image_size' parameter of make_lines must be an int \(not a bool\) "
        r"in the range \[4, inf\)\. Got True instead",
    ):
        make_lines(3, image_size=True)


def test_numpy_ints_are_ints():
    X, angles = make_lines(np.int64(3), image_size=np.int32(8), random_state=np.int64(0))
    assert X.shape == (3, 64) and angles.shape == (3,)
    assert draw_line(np.float32(0.5), np.int64(8)).shape == (8, 8)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: make_lines(3, image_size=3), "image_size"),
        (lambda: make_lines(3, image_size=16.0), "image_size"),
        (lambda: make_lines(3, random_state=True), "random_state"),
        (lambda: make_lines(3, random_state=-1), "random_state"),
        (lambda: make_lines(3, random_state="0"), "random_state"),
        (lambda: draw_line("0.5"), "angle"),
        (lambda: draw_line(np.nan), "angle"),
        (lambda: draw_line(np.inf), "angle"),
        (lambda: draw_line(0.5, image_size=True), "image_size"),
        (lambda: draw_line(0.5, image_size=1), "image_size"),  # failed inside NumPy
        (lambda: draw_line(0.5, thickness=0), "thickness"),
        (lambda: draw_line(0.5, thickness="2"), "thickness"),
        (lambda: reference_lines(True), "image_size"),
        (lambda: reference_lines(32.0), "image_size"),  # not served from the cache
        (lambda: reference_lines(8, n_angles=0), "n_angles"),
        (lambda: reference_lines(8, n_angles=False), "n_angles"),
    ],
)
def test_bad_arguments_to_the_line_drawers_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"The '{name}' parameter of [a-z_]+ must be") as info:
        call()
    assert isinstance(info.value, TypeError)  # scikit-learn's InvalidParameterError is both


def test_the_checked_functions_keep_their_signatures():
    """validate_params wraps them with functools.wraps: help() and Sphinx see the real
    parameters and docstrings."""
    assert str(inspect.signature(make_lines)) == (
        "(n_samples=1000, *, image_size=32, random_state=None)"
    )
    assert str(inspect.signature(draw_line)) == "(angle, image_size=32, thickness=2.0)"
    assert str(inspect.signature(reference_lines)) == "(image_size=32, n_angles=10000)"
    assert make_lines.__name__ == "make_lines" and "ACAI paper" in make_lines.__doc__
    assert inspect.unwrap(make_lines) is not make_lines  # it is checked


def test_reference_lines_are_cached_and_read_only():
    angles, images = reference_lines(8, n_angles=12)
    assert reference_lines(8, n_angles=12)[1] is images
    assert images.shape == (12, 64) and not images.flags.writeable
    assert angles.shape == (12,) and not angles.flags.writeable


@pytest.mark.parametrize(
    "angle, rows, columns",
    [
        (0.0, [15, 16], range(16, 31)),  # right, from the centre out to radius 15
        (np.pi, [15, 16], range(1, 16)),  # left
        (np.pi / 2, range(1, 16), [15, 16]),  # up: rows grow downwards
        (3 * np.pi / 2, range(16, 31), [15, 16]),  # down
    ],
)
def test_axis_aligned_lines_cover_exactly_two_pixels_by_fifteen(angle, rows, columns):
    image = draw_line(angle)
    expected = np.full((32, 32), -1.0)
    expected[np.ix_(list(rows), list(columns))] = 1.0
    np.testing.assert_allclose(image, expected, atol=1e-12)
    assert ink(image) == pytest.approx(30.0)


def test_lines_are_anti_aliased_with_fractional_coverage():
    # Angle 0.3 runs along the columns from the centre (column 16) to column
    # 16 + 15 cos(0.3) = 30.33: 15 columns, each carrying a 2-pixel-wide span.
    outwards = draw_line(0.3)
    partial = outwards[(outwards > -1) & (outwards < 1)]
    assert partial.size >= 15  # grey edge pixels, not a jagged binary line
    assert ink(outwards) == pytest.approx(30.0)
    # Mirrored, the walk starts at the far end, column 16 - 14.33 = 1.67, whose
    # column only counts its fractional part (2 - 1.67): 2 * 14.33 pixels of ink.
    inwards = draw_line(np.pi - 0.3)
    assert ink(inwards) == pytest.approx(2 * 15 * np.cos(0.3))


def test_nearest_lines_recovers_the_angle_of_drawn_lines():
    X, angles = make_lines(20, random_state=3)
    distances, found = nearest_lines(X)
    wrapped = np.angle(np.exp(1j * (found - angles)))
    assert np.all(np.abs(wrapped) < 2 * np.pi / 10_000)
    assert np.all(distances < 1e-3)


def test_smoothness_hand_cases():
    scores = smoothness_scores(
        [np.linspace(0, 1, 5), [0, 0, 0, 1, 1], [0, 0.5, 0.5, 0.5, 1.0], [2, 2, 2, 2, 2]]
    )
    # even steps: 0; one jump: 1/1 - 1/4; two half jumps: 0.5 - 0.25; no change: NaN
    np.testing.assert_allclose(scores[:3], [0.0, 0.75, 0.25], atol=1e-12)
    assert np.isnan(scores[3])


def test_smoothness_unwraps_angles_across_zero():
    angles = np.linspace(-0.2, 0.2, 5) % (2 * np.pi)  # 6.08, 6.18, 0, 0.1, 0.2
    np.testing.assert_allclose(smoothness_scores([angles]), [0.0], atol=1e-12)


def test_undefined_smoothness_counts_as_zero_but_stays_in_the_mean():
    jump = [draw_line(a).ravel() for a in (0, 0, 0, 1, 1)]
    still = [draw_line(0.5).ravel()] * 5
    distance, smoothness = line_interpolation_scores(np.array([jump, still]))
    assert smoothness == pytest.approx(0.75 / 2, abs=1e-3)
    assert distance < 1e-3


@pytest.fixture(scope="module")
def pairs():
    starts, start = make_lines(256, random_state=0)
    ends, end = make_lines(256, random_state=1)
    return start, end, starts, ends


T = np.linspace(0, 1, 16)  # 16 frames, endpoints included, as in the paper


def test_sanity_value_of_a_correct_interpolation(pairs):
    start, end, _, _ = pairs
    shortest = (end - start + np.pi) % (2 * np.pi) - np.pi
    frames = np.array(
        [[draw_line(a + t * d).ravel() for t in T] for a, d in zip(start, shortest, strict=True)]
    )
    distance, smoothness = line_interpolation_scores(frames)
    # ACAI.md: about 2e-7 / 2e-5; measured 1.8e-7 / 4.5e-4 (angles off the bank's grid)
    assert distance < 1e-6
    assert smoothness < 1e-3


def test_sanity_value_of_a_pixel_cross_fade(pairs):
    _, _, starts, ends = pairs
    frames = (1 - T)[None, :, None] * starts[:, None] + T[None, :, None] * ends[:, None]
    distance, smoothness = line_interpolation_scores(frames)
    # ACAI.md: about 7.2e-3 / 0.94; measured here 6.4e-3 / 0.906 (6.1-6.4e-3 and
    # 0.88-0.91 over other pair seeds): see docs/lines_benchmark.md on the gap
    assert 5.5e-3 < distance < 7.5e-3
    assert 0.8 < smoothness < 1.0


def test_sanity_value_of_an_abrupt_jump(pairs):
    _, _, starts, ends = pairs
    frames = np.where((T < 0.5)[None, :, None], starts[:, None], ends[:, None])
    distance, smoothness = line_interpolation_scores(frames)
    # ACAI.md: about 2.5e-7 / 0.93; measured 1.8e-7 / 0.933
    assert distance < 1e-6
    assert 0.9 < smoothness < 0.96


class PixelCrossFade:
    """A stand-in 'model' whose interpolation is a plain pixel cross-fade."""

    n_features_in_ = 1024

    def interpolate(self, X_start, X_end, n_steps):
        t = np.linspace(0, 1, n_steps)[None, :, None]
        return (1 - t) * X_start[:, None] + t * X_end[:, None]


def test_evaluate_lines_scores_what_the_model_interpolates():
    distance, smoothness = evaluate_lines(PixelCrossFade())
    assert 5.5e-3 < distance < 7.5e-3 and 0.8 < smoothness < 1.0  # the cross-fade values


def test_evaluate_lines_runs_on_a_fitted_acai_transformer():
    X, _ = make_lines(512, random_state=0)
    model = ACAITransformer(16, hidden_layer_sizes=(64,), max_iter=2, random_state=0).fit(X)
    distance, smoothness = evaluate_lines(model, n_pairs=32)
    assert 0 <= distance < 1 and np.isfinite(smoothness)


def test_evaluate_lines_rejects_non_image_models():
    model = PixelCrossFade()
    model.n_features_in_ = 1000
    with pytest.raises(ValueError, match="not on square line images"):
        evaluate_lines(model)
    model.n_features_in_ = 9  # 3x3: too small to draw a line in
    with pytest.raises(ValueError, match=r"not on square line images \(at least 4x4"):
        evaluate_lines(model)


def test_nearest_lines_rejects_images_too_small_for_a_line():
    with pytest.raises(ValueError, match=r"at least 4x4 pixels: 9 pixels per image"):
        nearest_lines(np.zeros((2, 9)))
    with pytest.raises(ValueError, match="10 pixels per image is not such a square"):
        nearest_lines(np.zeros((2, 10)))


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: evaluate_lines(PixelCrossFade(), n_pairs=True), "n_pairs"),
        (lambda: evaluate_lines(PixelCrossFade(), n_pairs=0), "n_pairs"),
        (lambda: evaluate_lines(PixelCrossFade(), n_frames=1), "n_frames"),
        (lambda: evaluate_lines(PixelCrossFade(), n_frames=16.0), "n_frames"),
        (lambda: evaluate_lines(PixelCrossFade(), random_state=True), "random_state"),
        (lambda: evaluate_lines(np.zeros((2, 2))), "transformer"),
        (lambda: nearest_lines(draw_line(0.0).reshape(1, -1), chunk_size=True), "chunk_size"),
        (lambda: nearest_lines(draw_line(0.0).reshape(1, -1), chunk_size=0), "chunk_size"),
        (lambda: nearest_lines("lines"), "images"),
        (lambda: smoothness_scores(0.5), "angles"),
        (lambda: line_interpolation_scores(None), "frames"),
    ],
)
def test_bad_arguments_to_the_line_metrics_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"The '{name}' parameter of [a-z_]+ must be"):
        call()


def smoothness_of_both(seed):
    """tests' lines configuration (benchmarks/robustness/lines_test_seeds.py): (AE, ACAI)
    Smoothness."""
    X, _ = make_lines(2000, image_size=16, random_state=seed)
    scores = []
    for weight in (0.0, 0.5):
        model = ACAITransformer(
            16,
            architecture="conv",
            image_shape=(16, 16),
            conv_width=8,
            n_scales=3,
            adversarial_weight=weight,
            learning_rate_init=3e-4,
            batch_size=64,
            max_iter=5,
            random_state=seed,
        ).fit(X)
        scores.append(evaluate_lines(model, n_pairs=256, random_state=1000)[1])
    return tuple(scores)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_on_seed_0_acai_interpolates_lines_more_smoothly_than_the_plain_autoencoder():
    """A regression check of one configuration on one seed, not the paper's claim.

    Small conv models on 16x16 lines, 2,000 images x 5 epochs (~10 s each),
    scored on lines they were not trained on, data and model seed 0: ACAI's
    Smoothness must beat the plain autoencoder's by more than 0.03. Over seeds
    0-5 (``python benchmarks/robustness/lines_test_seeds.py 0 1 2 3 4 5``, one thread,
    ``benchmarks/results/lines_test_seeds.jsonl``) the autoencoder's Smoothness
    exceeded ACAI's by 0.103 +- 0.074 (0.530 against 0.427), and on seed 3 the
    autoencoder was the smoother (0.412 against 0.418); the claim over seeds
    is the slow test below. Mean Distance needs a larger budget to separate them.
    """
    ae_smoothness, acai_smoothness = smoothness_of_both(0)
    assert acai_smoothness < ae_smoothness - 0.03
    assert acai_smoothness < 0.6  # a real interpolation: a cross-fade scores ~0.9


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_acai_interpolates_lines_more_smoothly_on_average_over_six_seeds():
    """The claim over seeds (about 2 minutes): the mean paired difference over seeds
    0-5, measured 0.103 +- 0.074 (standard error 0.030), must exceed 0.03."""
    differences = [np.subtract(*smoothness_of_both(seed)) for seed in range(6)]
    assert np.mean(differences) > 0.03
