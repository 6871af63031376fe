"""scikit-learn's own estimator checks, the default set and the opt-in ones."""

import pytest
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_get_feature_names_out_error,
    check_global_output_transform_pandas,
    check_param_validation,
    check_set_output_transform,
    check_set_output_transform_pandas,
    check_transformer_get_feature_names_out,
    check_transformer_get_feature_names_out_pandas,
    parametrize_with_checks,
)

from skacai import ACAITransformer

# Small networks and few epochs: the checks test the API, not the model's quality.
FAST = {"hidden_layer_sizes": (16,), "max_iter": 3, "batch_size": 16}
ESTIMATORS = [
    ACAITransformer(n_components=2, **FAST),
    ACAITransformer(n_components=2, adversarial_weight=0.0, scaling="feature", **FAST),
    ACAITransformer(n_components=3, scaling=None, early_stopping=True, **FAST),
    # The paper's convolutional networks, reading each row as a one-row image.
    # Several checks force n_components=1: 5 scales pool up to 32 features into
    # a single latent cell.
    ACAITransformer(
        n_components=2, architecture="conv", conv_width=2, n_scales=5, max_iter=3, batch_size=16
    ),
]


# sample_weight draws each epoch's rows by weight (tests/test_sample_weight.py): integer
# weights and repeated rows train on different batches, so their models differ,
# although their quality agrees (test_integer_weights_and_repeated_rows_give_models_of_
# equal_quality). Zero weights and equal weights are exact and pass scikit-learn's
# other sample-weight checks.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "a minibatch-stochastic estimator: integer weights draw rows with replacement, "
        "repeated rows are shuffled, so the batches (not the quality) differ"
    ),
}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda _: EXPECTED_FAILURES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "check",
    [
        check_param_validation,
        check_set_output_transform,
        check_set_output_transform_pandas,
        check_global_output_transform_pandas,
        check_dataframe_column_names_consistency,
        check_get_feature_names_out_error,
        check_transformer_get_feature_names_out,
        check_transformer_get_feature_names_out_pandas,
    ],
    ids=lambda check: check.__name__,
)
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_opt_in_checks(check, architecture):
    pytest.importorskip("pandas")
    conv = {"architecture": "conv", "n_scales": 5} if architecture == "conv" else {}
    check("ACAITransformer", ACAITransformer(n_components=2, **conv, **FAST))
