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


@parametrize_with_checks(ESTIMATORS)
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
