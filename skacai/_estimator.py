"""ACAITransformer: the scikit-learn estimator around the ACAI networks."""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from functools import partial
from numbers import Real
from typing import ClassVar

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from skacai import _device, _fit_loop, _model, _persistence, _plan, _progress, _rollback, _scaling
from skacai._inference import Model
from skacai._model import FITTED_ATTRIBUTES
from skacai._networks import ARCHITECTURES, MAX_SIZE
from skacai._objective import epoch_record
from skacai._rollback import one_writer
from skacai._sklearn_compat import RANDOM_STATE, Integers, Interval, StrOptions, _fit_context
from skacai._training import model_rows
from skacai._validation import (
    FLOAT_DTYPES,
    check_sparse_structure,
    check_X_val,
    checked,
    csr_rows,
    finite_real,
    interpolation_alphas,
    sample_weights,
    validation_weights,
)


class ACAITransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Adversarially Constrained Autoencoder Interpolation (ACAI) as a transformer.

    ACAI (Berthelot et al., ICLR 2019) trains an autoencoder together with a
    critic. The critic sees decoded mixtures of two latent codes and tries to
    recover the mixing coefficient; the autoencoder is rewarded for decodings
    that make the critic answer 0, i.e. that look like real data. The paper
    reports codes (``transform``) that cluster and classify better than a
    plain autoencoder's and decoded blends of two codes (``interpolate``) that
    stay realistic. How skacai's codes compare with a plain autoencoder's is
    measured in ``docs/fidelity.md`` and ``docs/defaults.md``.

    Each training step draws ``alpha ~ U[0, 1]`` per sample, folded onto
    ``[0, 0.5]``, pairs each sample with its mirror in the batch, and updates
    both networks from the same batch::

        z = f(x);  x_hat = g(z);  x_mix = g(alpha z + (1 - alpha) z[::-1])
        L_ae     = mean((x - x_hat)^2) + lambda mean(d(x_mix)^2)        # f, g
        L_critic = mean((d(x_mix) - alpha)^2)
                   + mean(d(gamma x + (1 - gamma) x_hat)^2)              # d

    with ``lambda = adversarial_weight`` and ``gamma = critic_regularization``.

    Parameters
    ----------
    n_components : int, default=16
        Size of the latent code (the number of output features of
        ``transform``). 16 fills the conv networks' 4x4 latent grid of 28x28
        or 32x32 images with one channel; what other sizes measured is in
        ``docs/defaults.md``.

    hidden_layer_sizes : int or tuple of int, default=(512, 256)
        Widths of the encoder's hidden layers, from the input inwards. The
        decoder uses them in reverse order and the critic copies the encoder.
        An empty tuple gives linear encoder and decoder.

    dropout : float, default=0.0
        Dropout rate in ``[0, 1)`` after every hidden layer's activation of
        the encoder, decoder and critic (``architecture="mlp"`` only), as in
        the TensorFlow 2 blog version of ACAI (which uses 0.5): during
        training each hidden activation is zeroed with this probability and
        the others are scaled by ``1 / (1 - dropout)``, with masks drawn from
        the model's own seeded generator. ``transform`` and the other
        inference methods never drop. ``0`` trains exactly as without dropout.
        May be changed between ``partial_fit`` calls and warm-started fits.

    adversarial_weight : float, default=0.5
        ``lambda``: weight of the critic's verdict in the autoencoder's loss.
        ``0`` trains exactly a plain autoencoder (the paper's baseline).

    critic_regularization : float, default=0.2
        ``gamma`` in ``[0, 1]``: the critic is also taught to output 0 on
        ``gamma x + (1 - gamma) x_hat``, a blend of real data and its
        reconstruction.

    architecture : {"auto", "mlp", "conv"}, default="auto"
        Network family; both use leaky ReLU (slope 0.2), linear output layers
        and the paper's initialisation (``docs/user_guide.md``, "Architecture").

        - ``"auto"``: ``"conv"`` when ``image_shape`` is given, ``"mlp"``
          otherwise.
        - ``"mlp"``: fully-connected layers of ``hidden_layer_sizes``.
        - ``"conv"``: the paper's convolutional networks for images of
          ``image_shape`` (``conv_width``, ``n_scales``). The latent code is a
          grid of ``(height / 2**n_scales) x (width / 2**n_scales)`` cells, so
          ``n_components`` must be a multiple of its cell count.

    image_shape : tuple of int or None, default=None
        ``(channels, height, width)`` or ``(height, width)`` of the images
        whose flattened pixels (C-order, channel first) are the rows of X; its
        product must equal ``n_features``. Giving it makes ``architecture="auto"``
        build conv networks and ``scaling="auto"`` scale globally. With
        ``architecture="conv"``, None reads each row as a 1-D signal. Sizes
        that are not multiples of ``2**n_scales`` are padded inside the
        networks (MNIST's 28x28 to 32x32, as in the paper) and cropped off the
        output of ``inverse_transform``; ``scaling`` decides how
        (``docs/user_guide.md``, "architecture="conv"" and "Input scaling").

    conv_width : int, default=8
        Conv networks only: filters in the first scale, doubled at each
        following scale (the paper's ``depth``: 16 for MNIST and the lines, 64
        for SVHN and CIFAR-10). Use 16 for the paper's networks; what 8 and 16
        cost and give on a CPU is in ``docs/performance.md``.

    n_scales : int or "auto", default="auto"
        Conv networks only: how many times the encoder halves the image (the
        decoder doubles it back). The paper uses 3 for MNIST (32x32 to a 4x4
        latent grid; ``n_components=32`` is 4x4x2) and 4 for the lines (2x2x16,
        ``n_components=64``). ``"auto"`` halves down to a grid of about 4
        cells on the shorter side, ``ceil(log2(side / 4))`` times (at least
        0): 3 for 28x28 or 32x32 images, 1 for 8x8, so that
        ``n_components=16`` is one channel of a 4x4 grid. What other depths
        measured is in ``docs/defaults.md``.

    encoder, decoder, critic : Network, callable, torch.nn.Module or None, default=None
        Networks of your own in place of skacai's (None: the ``architecture``'s
        network); ACAI's losses, mixing and both Adam optimisers stay as they
        are. Each may be a :class:`skacai.Network` ``(module, **kwargs)``, whose
        keyword arguments are parameters (``encoder__width``), a module class or
        a function returning a module, or a module instance (deep-copied by
        each fit). The encoder maps ``(n, n_features)`` scaled rows to ``(n,
        n_components)`` codes, the decoder codes back, and the critic rows to
        values averaged to one per row; ``fit`` checks the shapes on the first
        rows. ``save`` writes their weights; ``load`` needs the same networks.
        Factory arguments, seeding, dropout, the training step and padding:
        ``docs/user_guide.md``, "Your own networks".

    scaling : {"auto", "global", "feature", "minmax"} or None, default="auto"
        How inputs are scaled before training; ``inverse_transform``,
        ``interpolate`` and ``score_samples`` undo it. ``"auto"``: ``"global"``
        when the features share one range (as pixels do), ``"feature"``
        otherwise, None for sparse data; the first ``fit`` or ``partial_fit``
        decides. ``"global"``: centre each feature and divide all by one number
        (the root mean square of their standard deviations). ``"feature"``:
        standardize each feature. ``"minmax"``: the paper's convention, the
        minimum to -1 and the maximum to 1, not centred (and the paper's
        padding with conv networks). None: the data as given. The scaling sets
        what ``adversarial_weight`` means: ``docs/user_guide.md``, "Input
        scaling", and ``docs/fidelity.md``.

    max_iter : int or "auto", default="auto"
        Maximum number of epochs (passes over the training data) in ``fit``.
        ``"auto"`` is a budget of about 600,000 training samples with MLP
        networks and 120,000 with conv networks (``round(budget /
        n_samples)`` epochs, at least 1, at most 100): 10 epochs (MLP) or 2
        (conv) for MNIST's 60,000 images, 100 epochs for data sets below 6,000
        rows (1,200 with conv); ``docs/defaults.md`` gives the time they take.
        Pass an int to train longer; ``fit`` stops earlier when the loss
        plateaus (``tol``, ``n_iter_no_change``).

    batch_size : int or "auto", default="auto"
        Samples per training step; ``"auto"`` is 128 for MLP networks and 64
        (the paper's) for conv networks (what they measured against other
        sizes: ``docs/defaults.md``). Batches hold ``min(batch_size,
        n_samples)`` samples.

    learning_rate_init : float, default=1e-3
        Learning rate of both Adam optimisers (autoencoder and critic).

    tol : float, default=1e-4
        Training stops when the monitored quantity (the training
        reconstruction error, or the validation score with
        ``early_stopping=True``) has not improved by at least ``tol`` for
        ``n_iter_no_change`` consecutive epochs.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (or use the
        ``X_val`` given to ``fit``), monitor its score (``scoring``; by
        default the negative reconstruction error) after every epoch, stop
        when it stops improving and keep the weights of the best epoch.

    validation_fraction : float, default=0.1
        Share of the training data held out when ``early_stopping=True``;
        ignored when ``fit`` gets ``X_val``.

    scoring : callable or None, default=None
        The validation score early stopping follows (higher is better); used
        only with ``early_stopping=True``. None: the negative mean squared
        reconstruction error of the scaled validation rows. A callable is
        called after every epoch as ``scoring(estimator, X_val)``
        (scikit-learn's scorer signature without ``y``; ``f(estimator, X,
        y=None)`` and ``check_scoring(model)`` work), on this estimator in that
        epoch's state; it must return a finite real number and leave the
        estimator unchanged. Scorer names and ``make_scorer`` objects do not
        apply (a transformer has no ``predict``); a callable cannot be
        ``save``-d. See ``docs/user_guide.md``, "Early stopping on your own
        validation data and score".

    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` before training stops.

    shuffle : bool, default=True
        Shuffle the samples at each epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the mixing coefficients, the
        dropout masks and the validation split. An int gives the same model on
        every fit on CPU. skacai never draws from (or reseeds) the global NumPy
        or torch random state, not even with ``None``, which draws fresh
        operating-system entropy.

    verbose : int, default=0
        0 prints nothing. 1 shows a progress bar (tqdm, on stderr; a widget in
        Jupyter) over the training samples of ``fit`` and ``partial_fit``,
        with the epoch, the throughput and the last epoch's loss terms, and
        a bar for ``transform``, ``inverse_transform``, ``score_samples``,
        ``score`` and ``interpolate`` calls that run longer than two seconds.
        2 also prints one line per epoch with the loss terms on stdout.

    warm_start : bool, default=False
        When True, ``fit`` continues from the current weights, optimiser state
        and input scaling instead of starting anew.

    device : str, default="auto"
        Torch device to train and evaluate on: ``"auto"`` (CUDA when
        available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...

    precision : {"float32", "bfloat16"}, default="float32"
        Arithmetic of training. ``"bfloat16"`` is mixed precision: the matrix
        products and convolutions of each training step take bfloat16 inputs
        (``torch.autocast`` semantics, one step at a time), while the
        weights, their gradients, the optimisers' state and the losses stay
        float32. It pays on hardware with fast bfloat16 and can be much
        slower elsewhere (``docs/user_guide.md``, "Precision", and the
        measurements in ``docs/performance.md``). The trained model differs
        from a float32 fit; inference always runs in the input's float32 or
        float64. On CUDA, float32 convolutions run in full float32, not
        cuDNN's default TF32.

    whiten : bool, default=True
        Whiten the codes that ``transform`` returns, as the ACAI paper's
        clustering protocol and ``PCA(whiten=True)`` do: centred, rotated onto
        the training codes' principal axes and divided by their standard
        deviations (rows weighted by ``sample_weight``), so that KMeans and
        other distance-based steps weigh every direction alike.
        ``inverse_transform`` undoes it (``interpolate`` and ``score_samples``
        are unchanged); each ``partial_fit`` recomputes it from its own rows
        (a call that keeps none of its epochs leaves it, with the networks);
        model files, pickles and exported networks keep it. ``False`` returns
        the encoder's raw codes. Why it is the default: ``docs/defaults.md``.

    Attributes
    ----------
    encoder_ : torch.nn.Module
        The encoder ``f``: maps ``(n, n_features_in_)`` scaled inputs to
        ``(n, n_components)`` codes.

    decoder_ : torch.nn.Module
        The decoder ``g``: maps ``(n, n_components)`` codes to
        ``(n, n_features_in_)`` scaled inputs.

    critic_ : torch.nn.Module
        The critic ``d``: maps ``(n, n_features_in_)`` scaled inputs to
        ``(n,)`` estimates of the mixing coefficient.

    mean_ : ndarray of shape (n_features,)
        Per-feature offset subtracted before the encoder (zeros when
        ``scaling=None``).

    scale_ : ndarray of shape (n_features,)
        Per-feature divisor applied after ``mean_`` (ones when
        ``scaling=None``). 0 for a feature without spread in the training
        data (within rounding error of its magnitude: with
        ``scaling="feature"`` judged per feature, otherwise over all): it is
        divided by 1 on the way in, and ``inverse_transform``,
        ``interpolate`` and ``score_samples`` return it exactly as its
        ``mean_``.

    n_iter_ : int
        Number of epochs trained (summed over ``partial_fit`` calls and
        warm-started fits).

    loss_curve_ : list of float, of length ``n_iter_``
        The autoencoder's loss ``L_ae`` averaged over each epoch.

    history_ : dict of str to list of float
        Per-epoch means of every loss term, each a list of length
        ``n_iter_``: ``"loss"`` (``L_ae``, same as ``loss_curve_``),
        ``"reconstruction"`` (``mean((x - x_hat)^2)``), ``"adversarial"``
        (``mean(d(x_mix)^2)``), ``"critic"`` (``mean((d(x_mix) - alpha)^2)``)
        and ``"critic_regularization"``
        (``mean(d(gamma x + (1 - gamma) x_hat)^2)``), all on scaled inputs.
        A term added to skacai after a model file was written holds NaN for
        that file's epochs (see ``docs/persistence.md``).

    best_loss_ : float or None
        Lowest training reconstruction error seen; None with
        ``early_stopping=True``.

    validation_scores_ : list of float or None
        Per-epoch validation score of the last fit with ``early_stopping=True``
        (``scoring``'s value, by default the negative mean squared
        reconstruction error of the scaled validation data), else None.

    best_validation_score_ : float or None
        Best of ``validation_scores_``, the epoch whose weights the model
        keeps; None without early stopping, or where no epoch was scored (a
        Ctrl-C while the first one was).

    device_ : str
        Device holding the networks. A model unpickled is on ``"cpu"``.

    image_shape_ : tuple of int or None
        ``(channels, height, width)`` the convolutional networks read X as;
        the validated ``image_shape`` (None for ``"mlp"`` without one).

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (n_features,)
        Names of features seen during ``fit``; defined only when ``X`` has
        feature names that are all strings.

    See Also
    --------
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.neural_network.MLPRegressor : Fully-connected networks in scikit-learn.

    Notes
    -----
    Training runs in float32. ``transform``, ``inverse_transform`` and
    ``interpolate`` return float32 for float32 input and float64 otherwise;
    ``score_samples`` returns float64.

    An epoch whose losses or weights become non-finite, or that is interrupted
    with Ctrl-C, is rolled back (weights, optimiser and generator state):
    training stops with a warning and the model keeps the last completed
    epoch. Any other exception in ``fit`` or ``partial_fit`` (invalid
    parameters or data, out of memory...) leaves the model exactly as it was
    before the call, fitted or not, and is re-raised.

    Inputs must be real-valued (float, int or bool) 2-D arrays or scipy
    sparse matrices with at least one row and one column, and finite.
    Otherwise, and for a wrong number of features, the methods raise
    ``ValueError`` (``inverse_transform`` takes dense codes only: ``TypeError``
    for sparse ones); the methods of an unfitted model raise
    ``NotFittedError``. Sparse X (CSR or CSC; other formats are converted to
    CSR) is densified one batch of rows at a time, never whole, and trains
    only with ``scaling=None`` (what ``"auto"`` picks for it): the centring
    scalings are refused. Training runs in float32, so ``fit`` refuses data that
    overflow it once scaled (``scaling=None`` with values beyond about
    ``3.4e38``). ``transform``, ``inverse_transform``,
    ``interpolate`` and ``score_samples`` raise ``ValueError`` rather than
    return infinities or NaN when an input far outside the training data's
    range overflows the computation. A single training sample is accepted, as
    are more ``n_components`` than features (an overcomplete code).

    Inference (``transform``, ``inverse_transform``, ``interpolate``,
    ``score_samples``) never modifies the model and may run in several
    threads at once; training must not run alongside other calls.

    References
    ----------
    D. Berthelot, C. Raffel, A. Roy, I. Goodfellow. "Understanding and
    Improving Interpolation in Autoencoders via an Adversarial Regularizer".
    ICLR 2019. arXiv:1807.07543.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skacai import ACAITransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> acai = ACAITransformer(n_components=8, max_iter=5, random_state=0)
    >>> codes = acai.fit_transform(X)
    >>> codes.shape
    (1797, 8)
    >>> acai.inverse_transform(codes).shape
    (1797, 64)
    >>> acai.interpolate(X[:3], X[3:6], n_steps=5).shape
    (3, 5, 64)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Integers(1, MAX_SIZE, closed="both")],
        "hidden_layer_sizes": ["array-like", Integers(1, MAX_SIZE, closed="both")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "adversarial_weight": [Interval(Real, 0, None, closed="left")],
        "critic_regularization": [Interval(Real, 0, 1, closed="both")],
        "architecture": [StrOptions({"auto", *ARCHITECTURES})],
        "image_shape": ["array-like", None],
        "conv_width": [Integers(1, MAX_SIZE, closed="both")],
        "n_scales": [Integers(0, 30, closed="both"), StrOptions({"auto"})],
        "encoder": [callable, None],  # a Network, a module class or function, a module
        "decoder": [callable, None],
        "critic": [callable, None],
        "scaling": [StrOptions({"auto", "global", "feature", "minmax"}), None],
        "max_iter": [Integers(1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Integers(1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "scoring": [callable, None],
        "n_iter_no_change": [Integers(1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": RANDOM_STATE,
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "whiten": ["boolean"],
        "device": [str],
        "precision": [StrOptions({"float32", "bfloat16"})],
    }

    def __init__(
        self,
        n_components=16,
        *,
        hidden_layer_sizes=(512, 256),
        dropout=0.0,
        adversarial_weight=0.5,
        critic_regularization=0.2,
        architecture="auto",
        image_shape=None,
        conv_width=8,
        n_scales="auto",
        encoder=None,
        decoder=None,
        critic=None,
        scaling="auto",
        max_iter="auto",
        batch_size="auto",
        learning_rate_init=1e-3,
        tol=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        scoring=None,
        n_iter_no_change=10,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
        device="auto",
        precision="float32",
        whiten=True,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.adversarial_weight = adversarial_weight
        self.critic_regularization = critic_regularization
        self.architecture = architecture
        self.image_shape = image_shape
        self.conv_width = conv_width
        self.n_scales = n_scales
        self.encoder = encoder
        self.decoder = decoder
        self.critic = critic
        self.scaling = scaling
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.scoring = scoring
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.whiten = whiten
        self.device = device
        self.precision = precision

    # ------------------------------------------------------------------ fitting

    @one_writer(writes=True)
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None, *, X_val=None, sample_weight_val=None):
        """Train the autoencoder and the critic on X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (real-valued, finite). A scipy sparse matrix (CSR or
            CSC) is densified one batch at a time and trains with
            ``scaling=None`` only.

        y : None
            Ignored; present for API consistency.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows (None: all equal). Each epoch
            draws its ``n_samples`` rows with replacement, with probabilities
            proportional to the weights, so that a row of weight 2 is trained on
            as often as two copies of it would be (in expectation: not exactly
            the model of the repeated rows, which trains on other batches); the
            input scaling's means and spreads are weighted too. Rows of weight 0
            are left out; weights that are all equal train exactly as None.

        X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
            Validation data for early stopping (``early_stopping=True`` is
            required, as scikit-learn's ``HistGradientBoostingRegressor``
            requires it): checked like X and scaled with the model's scaling,
            it replaces the held-out ``validation_fraction`` of X, so that
            all of X trains. Keyword only. In a ``Pipeline``,
            ``transform_input=["X_val"]`` passes it through the steps before
            this one (with metadata routing enabled and
            ``set_fit_request(X_val=True)``).

        sample_weight_val : array-like of shape (n_val,), default=None
            Non-negative weights of the rows of ``X_val`` (None: all equal),
            as scikit-learn's ``HistGradientBoosting*`` take: early stopping
            follows the weighted mean of the rows' reconstruction errors. Rows
            of weight 0 are left out. Needs ``X_val``, and refused with a
            ``scoring`` callable (which sees ``X_val`` only). Keyword only.

        Returns
        -------
        self : ACAITransformer
            The fitted transformer.

        Raises
        ------
        ValueError
            If a parameter is invalid (scikit-learn's ``InvalidParameterError``
            is both a ``ValueError`` and a ``TypeError``), if X is not a 2-D,
            real-valued, finite array with at least one sample and one feature,
            if X's values overflow the float32 training once scaled or its
            statistics overflow float64, if ``dropout > 0`` with
            ``architecture="conv"``, if ``warm_start=True`` continues
            networks that the parameters no longer describe, or if
            ``sample_weight`` is not one finite, non-negative weight per row
            (not all zero), if ``X_val`` is given with ``early_stopping=False``
            or is not valid data for this model (as for ``transform``), if
            ``sample_weight_val`` is given without ``X_val``, with
            ``scoring``, or is not one valid weight per row of ``X_val``, if
            ``scoring`` returns anything but a finite real number, or if X is
            sparse and ``scaling`` is ``"global"``, ``"feature"`` or
            ``"minmax"`` (or, with ``warm_start=True``, the fitted scaling
            centres X: ``mean_`` is not zero), which would make it dense; use
            ``scaling=None``.

        Notes
        -----
        A call that raises, here or in any step of training (e.g. out of
        memory, or an exception raised by ``scoring``, which propagates),
        leaves the model exactly as it was. A Ctrl-C keeps the last
        completed epoch instead, with a warning.

        Examples
        --------
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0)
        >>> model.fit(X).n_iter_
        5
        >>> sorted(model.history_)
        ['adversarial', 'critic', 'critic_regularization', 'loss', 'reconstruction']
        >>> X_val = np.random.default_rng(1).normal(size=(50, 8))  # your validation data
        >>> len(model.set_params(early_stopping=True).fit(X, X_val=X_val).validation_scores_)
        5
        >>> model.best_validation_score_ == max(model.validation_scores_)  # its weights kept
        True
        """
        continuing = self.warm_start and self.__sklearn_is_fitted__()
        rng = _device.random_state(self.random_state)
        with self._unchanged_on_error(continuing):
            X, device, params = self._prepare(X, reset=not continuing)
            X, weights = sample_weights(sample_weight, X)
            checked_val = check_X_val(  # X_val as given goes to scoring
                X_val, self.early_stopping, lambda X: self._validate_input(X, reset=False)
            )
            checked_val, given_weights = validation_weights(
                sample_weight_val, checked_val, self.scoring
            )
            fitted = self._model.spec if continuing else None
            if continuing:
                _plan.check_same_networks(params, fitted, "warm_start=True")
            if checked_val is None:
                X_train, checked_val, weights, val_weights = _plan.split(params, X, weights, rng)
                X_val = checked_val  # scoring gets the held-out rows
            else:
                X_train, val_weights = X, given_weights  # all of X trains
            plan = _plan.plan(params, X_train, fitted)
            if not continuing:
                self._model = _model.new_model(plan, params, X_train, weights, rng, device)
            score = self._validation_score(checked_val, X_val, device, val_weights)
            outcome = self._train(
                X_train, score, plan, plan.max_epochs, device, weights, stop_early=True
            )
        self._warn_about(outcome, plan.max_epochs)
        return self

    @one_writer(writes=True)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one epoch (one pass) over X, e.g. one chunk of a larger set.

        The first call initialises the model; its data also fixes the input
        scaling (``mean_`` and ``scale_``), so it should be representative.
        Later calls continue from the current weights and optimiser state.
        ``early_stopping`` and ``warm_start`` do not apply.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (real-valued, finite); sparse as in ``fit``.

        y : None
            Ignored; present for API consistency.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the rows, as in ``fit``: they draw this
            epoch's rows and, in the first call, weight the input scaling.

        Returns
        -------
        self : ACAITransformer
            The updated transformer.

        Raises
        ------
        ValueError
            As ``fit``; also if X's number of features differs from the first
            call's, if the parameters no longer describe the networks that
            the first call built, or if X is sparse and the scaling fixed by
            the first call centres it (``mean_`` is not zero).

        Notes
        -----
        A call that raises leaves the model exactly as it was (unfitted after
        a failed first call).

        Examples
        --------
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 8))
        >>> model = ACAITransformer(n_components=3, random_state=0)
        >>> for chunk in np.array_split(X, 4):  # e.g. chunks read from disk
        ...     _ = model.partial_fit(chunk)
        >>> model.n_iter_  # one epoch per call
        4
        """
        first_call = not self.__sklearn_is_fitted__()
        with self._unchanged_on_error(not first_call):
            X, device, params = self._prepare(X, reset=first_call)
            X, weights = sample_weights(sample_weight, X)
            if first_call:
                plan = _plan.plan(params, X)
                rng = _device.random_state(self.random_state)
                self._model = _model.new_model(plan, params, X, weights, rng, device)
            else:
                _plan.check_same_networks(params, self._model.spec, "partial_fit")
                plan = _plan.plan(params, X, self._model.spec)
            outcome = self._train(X, None, plan, 1, device, weights, stop_early=False)
        self._warn_about(outcome)
        return self

    def __sklearn_is_fitted__(self):
        return "_model" in vars(self)

    @contextmanager
    def _unchanged_on_error(self, continuing):
        """Leave the estimator exactly as it was if the block raises (its fitted model
        too, which a continued fit trains in place), and re-raise."""
        saved = dict(vars(self))
        try:
            with _rollback.unchanged_on_error(self._model if continuing else None):
                yield
        except BaseException:
            vars(self).clear()
            vars(self).update(saved)
            raise

    def _prepare(self, X, *, reset):
        """The checks that open ``fit`` and ``partial_fit``: X, the device, the parameters."""
        X = self._validate_input(X, reset=reset)
        device = _device.resolve_device(self.device)
        params = self.get_params(deep=False)
        _plan.check_params(params)
        if sparse.issparse(X):  # a first fit checks the parameter, a later one mean_
            _scaling.refuse_centring(self.scaling, None if reset else self._model)
        return X, device, params

    def _validate_input(self, X, *, reset):
        """X checked as a float array, or a CSR / CSC matrix (others are converted),
        returned as canonical CSR (:func:`csr_rows`)."""
        if sparse.issparse(X):  # before scipy or scikit-learn index into it
            check_sparse_structure(X)
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=FLOAT_DTYPES, reset=reset)
        return csr_rows(X) if sparse.issparse(X) else X

    def _validation_score(self, X_val, scored, device, weights=None):
        """``score(networks)`` for early stopping on the validation rows X_val (None
        without them): ``scoring(self, scored)`` with ``scored`` the validation data
        as the callable gets it, or without ``scoring`` ``-MSE`` on X_val scaled,
        weighted by the held-out rows' ``weights`` if given."""
        if X_val is None:
            return None
        if self.scoring is None:
            weights = None if weights is None else torch.from_numpy(weights).to(device)
            padded = self._model.spec.loss_on_padding
            return _fit_loop.reconstruction_score(
                model_rows(self._model, X_val, self.scaling, device), padded, weights
            )

        def score(_networks):  # this estimator's own networks, as inference uses them
            value = self.scoring(self, scored)
            if (number := finite_real(value)) is None:
                raise ValueError(
                    f"scoring={self.scoring!r} returned {value!r} in epoch {self.n_iter_}; "
                    "it must return a finite real number (higher is better)."
                )
            return number

        return score

    def _train(self, X, score, plan, n_epochs, device, weights=None, *, stop_early):
        """Train up to ``n_epochs`` as ``plan`` says; return how it ended and the epoch
        whose weights the model keeps, for :meth:`_warn_about`.

        Then the code maps that the parameters turn on (``whiten``) are fitted on
        X's codes: after a first fit, and after any call that completed an epoch. A
        call that continues training and keeps none of its epochs (every one rolled
        back: non-finite, or interrupted) leaves them as they were, with the networks.

        ``score``: the validation score that early stopping follows (see
        :meth:`_validation_score`; None: the training loss).
        """
        model = self._model
        start, new = model.n_iter, model.optimizer_states is None  # None until trained
        networks = model.networks_on(device)
        optimizers = _fit_loop.make_optimizers(
            networks, model.optimizer_states, self.learning_rate_init, model.device
        )
        generator = _device.restore_generator(model.generator_state, device)
        X_rows = model_rows(model, X, self.scaling, device)
        monitor = (
            _fit_loop.EarlyStopping(self.tol, self.n_iter_no_change, score) if stop_early else None
        )
        bar = _progress.training_bar(self.verbose, n_epochs, X.shape[0])
        try:
            outcome = _fit_loop.run_epochs(
                networks,
                optimizers,
                generator,
                X_rows,
                n_epochs,
                plan.settings,
                monitor=monitor,
                record=lambda terms: self._record(terms, bar),
                bar=bar,
                weights=None if weights is None else torch.from_numpy(weights).to(device),
            )
        finally:
            bar.close()
            model.optimizer_states = tuple(opt.state_dict() for opt in optimizers)
            model.generator_state = (str(device), generator.get_state())
        if stop_early:
            model.keep_progress(monitor)
        kept = model.n_iter  # the last epoch's weights, or the best validated epoch's
        if monitor is not None and monitor.best_epoch is not None:
            kept += monitor.best_epoch - monitor.epochs
        if new or model.n_iter > start:  # the code maps follow the networks
            encode = partial(self._inference().encode, X)
            model.code_maps = _scaling.fit_code_maps(self.get_params(deep=False), encode, weights)
        return outcome, kept

    def _warn_about(self, ending, n_epochs=None):
        """Warn the caller of fit / partial_fit about how training ended (``_train``'s
        ``(outcome, kept epoch)``).

        Called after the training's rollback context, so that a warning turned
        into an error does not undo the completed epochs.
        """
        outcome, kept = ending
        _fit_loop.warn_about(
            outcome,
            n_iter=self.n_iter_,
            kept=kept,
            learning_rate_init=self.learning_rate_init,
            max_iter=self.max_iter,
            n_epochs=n_epochs,
        )

    def _record(self, terms, bar):
        entry = epoch_record(terms, self.adversarial_weight)
        self._model.record(entry)
        _progress.show_epoch(bar, self.verbose, self.n_iter_, entry)

    # -------------------------------------------------------------- inference

    @one_writer(writes=False)
    def transform(self, X):
        """Encode X into latent codes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode; a sparse matrix is densified one batch at a time.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            Latent codes; float32 for float32 input, float64 otherwise.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            If X is not a 2-D, real-valued, finite array with at least one row
            and ``n_features_in_`` columns, if its feature names differ from
            those seen in ``fit``, or if it lies so far outside the training
            data's range that the result overflows to infinity or NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0).fit(X)
        >>> codes = model.transform(X)
        >>> codes.shape, codes.dtype
        ((200, 3), dtype('float64'))
        >>> model.transform(X.astype(np.float32)).dtype
        dtype('float32')
        """
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        return self._inference().transform(X)

    @one_writer(writes=False)
    def inverse_transform(self, X):
        """Decode latent codes back to the input space (in the input's units).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, e.g. from ``transform`` or blends of them.

        Returns
        -------
        X_reconstructed : ndarray of shape (n_samples, n_features)
            Decoded data; float32 for float32 codes, float64 otherwise.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            If X is not a 2-D, real-valued, finite array with at least one row
            and ``n_components`` columns, or if the codes lie so far outside
            those of the training data that the result overflows.
        TypeError
            If X is a sparse matrix.

        Examples
        --------
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0).fit(X)
        >>> X_hat = model.inverse_transform(model.transform(X))
        >>> X_hat.shape
        (200, 8)
        >>> blend = model.inverse_transform(model.transform(X[:2]).mean(axis=0, keepdims=True))
        >>> blend.shape
        (1, 8)
        """
        check_is_fitted(self)
        if sparse.issparse(X):  # before check_array, whose messages print X
            raise TypeError(
                "Sparse data was passed for X, but dense data is required. Use "
                "'.toarray()' to convert it: inverse_transform takes codes, the output "
                "of transform."
            )
        codes = check_array(X, dtype=FLOAT_DTYPES, input_name="X")
        n_components = self._n_features_out
        if codes.shape[1] != n_components:
            raise ValueError(
                f"inverse_transform expects codes with {n_components} columns "
                f"(n_components of the fitted model), got {codes.shape[1]}; pass "
                "the output of transform."
            )
        return self._inference().inverse_transform(codes)

    @one_writer(writes=False)
    def interpolate(self, X_start, X_end, n_steps=None, *, alphas=None):
        """Decode convex combinations of the codes of paired rows.

        Row ``i`` of the result morphs ``X_start[i]`` into ``X_end[i]``::

            result[i, k] = g((1 - alphas[k]) * f(X_start[i]) + alphas[k] * f(X_end[i]))

        so ``alpha = 0`` decodes the start's code and ``alpha = 1`` the end's
        (reconstructions, not the inputs themselves).

        Parameters
        ----------
        X_start, X_end : {array-like, sparse matrix} of shape (n_pairs, n_features)
            The pairs' two ends.

        n_steps : int, default=None
            Number of evenly spaced alphas from 0 to 1, endpoints included;
            10 when neither ``n_steps`` nor ``alphas`` is given.

        alphas : array-like of shape (n_steps,), default=None
            Explicit mixing coefficients in ``[0, 1]`` (extrapolation outside
            that range is refused). Give either ``n_steps`` or ``alphas``.

        Returns
        -------
        frames : ndarray of shape (n_pairs, n_steps, n_features)
            Decoded frames in the input's units; float32 for float32
            ``X_start``, float64 otherwise.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            If ``X_start`` or ``X_end`` is invalid (as for ``transform``), if
            their shapes differ, if ``n_steps`` is not an int >= 2, if
            ``alphas`` is not 1-D, non-empty, finite and in ``[0, 1]``, if both
            ``n_steps`` and ``alphas`` are given, or if the result overflows.

        Examples
        --------
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0).fit(X)
        >>> frames = model.interpolate(X[:2], X[2:4], n_steps=5)
        >>> frames.shape  # (pairs, steps, features)
        (2, 5, 8)
        >>> bool(np.allclose(frames[:, 0], model.inverse_transform(model.transform(X[:2]))))
        True
        >>> model.interpolate(X[:2], X[2:4], alphas=[0.0, 0.5, 1.0]).shape
        (2, 3, 8)
        """
        check_is_fitted(self)
        alphas = interpolation_alphas(n_steps, alphas)
        X_start = self._validate_input(X_start, reset=False)
        X_end = self._validate_input(X_end, reset=False)
        if X_start.shape != X_end.shape:
            raise ValueError(
                f"X_start and X_end must have the same shape (one row per pair), got "
                f"{X_start.shape} and {X_end.shape}."
            )
        with np.errstate(over="ignore", invalid="ignore"):  # checked below
            X_end = X_end.astype(X_start.dtype, copy=False)
            a = alphas.astype(X_start.dtype)[None, :, None]
            model = self._inference()
            z_start = model.encode(X_start, "interpolate (encoding X_start)")
            z_end = model.encode(X_end, "interpolate (encoding X_end)")
            codes = (1 - a) * z_start[:, None, :] + a * z_end[:, None, :]
        n_pairs, n_alphas, n_components = codes.shape
        frames = model.decode(codes.reshape(n_pairs * n_alphas, n_components), "interpolate")
        return checked(frames.reshape(n_pairs, n_alphas, -1), "interpolate", X_start.dtype)

    @one_writer(writes=False)
    def score_samples(self, X):
        """Negative mean squared reconstruction error of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to reconstruct; a sparse matrix is densified one batch at a time.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``-mean((x - inverse_transform(transform(x)))^2)`` over features, in
            the input's units (float64). Higher is better.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            If X is not a 2-D, real-valued, finite array with at least one row
            and ``n_features_in_`` columns, if its feature names differ from
            those seen in ``fit``, or if it lies so far outside the training
            data's range that the result overflows to infinity or NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0).fit(X)
        >>> scores = model.score_samples(X)
        >>> scores.shape
        (200,)
        >>> bool(np.all(scores <= 0))
        True
        >>> int(np.argmin(scores)) == int(np.argmax(np.square(X - model.inverse_transform(
        ...     model.transform(X))).mean(axis=1)))
        True
        """
        return self._score_samples(X, "score_samples")

    @one_writer(writes=False)
    def score(self, X, y=None):
        """Negative mean squared reconstruction error over X (higher is better).

        This is what ``GridSearchCV`` maximises when no ``scoring`` is given.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to reconstruct; a sparse matrix is densified one batch at a time.

        y : None
            Ignored; present for API consistency.

        Returns
        -------
        score : float
            Mean of ``score_samples(X)``.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            As ``score_samples``, or if the mean of the scores overflows.

        Examples
        --------
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(200, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0).fit(X)
        >>> bool(np.isclose(model.score(X), model.score_samples(X).mean()))
        True
        """
        scores = self._score_samples(X, "score")
        with np.errstate(over="ignore"):
            return float(checked(np.mean(scores), "score", scores.dtype))

    def _score_samples(self, X, method):
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        return self._inference().score_samples(X, method)

    def _inference(self):
        """The fitted model as a batched inference engine."""
        return Model(self._model, verbose=self.verbose)

    @property
    def _n_features_out(self):
        """Number of output features, used by ``get_feature_names_out``."""
        return self._model.spec.n_components

    # Read by tests and benchmarks (benchmarks/quality/quality.py, defaults/whiten_default.py).
    _network_spec = property(lambda self: self._model.spec)
    _whitening = property(lambda self: self._model.code_map("whitening"))
    _optimizer_states = property(lambda self: self._model.optimizer_states)
    _generator_state = property(lambda self: self._model.generator_state)

    # ------------------------------------------------------------ persistence

    @one_writer(writes=False)
    def save(self, path):
        """Write the model to a file that loads without running any code.

        The file is a `safetensors <https://huggingface.co/docs/safetensors>`_
        file: the networks' weights, the optimisers' state, the input scaling
        and the training generator's state as raw arrays, and a JSON
        description of the parameters, the other fitted attributes and the
        skacai, torch and scikit-learn versions that wrote it, all covered by a
        SHA-256 checksum. Unlike a pickle, reading it cannot execute code, so it
        is the format to exchange models in. Everything is stored on the CPU,
        and a reloaded model transforms identically and keeps training exactly
        where this one stopped.

        The write is atomic: the data go to a temporary file in the same folder
        that replaces ``path`` only once complete, so an interrupted save never
        leaves a half-written or damaged model at ``path``.

        Parameters
        ----------
        path : str or os.PathLike
            File to write (``.safetensors`` is a good suffix); an existing file
            is replaced. Its folder must exist.

        Raises
        ------
        TypeError
            If a parameter holds a value the format cannot record (anything
            but numbers, strings, None, tuples, lists and ``RandomState``
            instances), e.g. a ``scoring`` callable, or a network of your own
            holds a tensor of a dtype the format does not store. Networks of
            your own (``encoder``, ``decoder``, ``critic``) are recorded by
            their weights and a description, and ``load`` needs them again.

        See Also
        --------
        load : Read a file written by ``save``.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(100, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0).fit(X)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder) / "model.safetensors"
        ...     model.save(path)
        ...     loaded = ACAITransformer.load(path)
        >>> bool(np.array_equal(loaded.transform(X), model.transform(X)))
        True
        """
        _persistence.save(path, self.__skacai_saved__())

    @classmethod
    def load(cls, path, *, encoder=None, decoder=None, critic=None):
        """Read a model written by ``save``, without executing anything in the file.

        The model is returned on the CPU (``device_ == "cpu"``), with its
        parameters, fitted attributes, optimiser and generator states as
        saved: ``partial_fit`` and ``warm_start`` continue exactly where the
        saved model stopped.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by ``ACAITransformer.save``.

        encoder, decoder, critic : Network, callable or torch.nn.Module, default=None
            The networks of your own that the model was saved with (the file
            holds their weights, not their code): the same factory with the
            same keyword arguments, or for a module instance one of the same
            class. They become the loaded model's parameters; the fitted
            networks are built from them for the file's shapes and take the
            file's weights. None for skacai's own networks.

        Returns
        -------
        model : ACAITransformer
            The saved model (unfitted if it was saved unfitted).

        Raises
        ------
        FileNotFoundError
            If there is no file at ``path``.
        skacai.exceptions.ModelFileError
            (a ``ValueError``) If the file is not a skacai model (e.g. a
            pickle, which is refused, never unpickled), is truncated, corrupted
            or modified after it was saved (checksum mismatch), or was written
            in a newer format than this skacai reads.
        ValueError
            If ``encoder``, ``decoder`` or ``critic`` are not the networks the
            model was saved with (the message names both), or build networks
            whose tensors differ from the file's.

        Warns
        -----
        skacai.exceptions.VersionMismatchWarning
            If the file was written under other skacai, torch or scikit-learn
            versions than the running ones.

        Examples
        --------
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(size=(100, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0).fit(X)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder) / "model.safetensors"
        ...     model.save(path)
        ...     loaded = ACAITransformer.load(path)
        >>> loaded.n_iter_, loaded.device_
        (5, 'cpu')
        """
        saved = _persistence.load(
            path, cls.__name__, (encoder, decoder, critic), lambda p: cls(**p)._validate_params()
        )
        with _persistence.invalid_description(saved.where):
            estimator = cls(**saved.params)
            if saved.output_config is not None:
                estimator.set_output(**saved.output_config)
        if saved.model is not None:
            estimator._model = saved.model
            estimator.n_features_in_ = saved.model.spec.n_features
            if saved.feature_names is not None:
                estimator.feature_names_in_ = saved.feature_names
        return estimator

    def __skacai_saved__(self):
        """What ``save`` writes, as a :class:`skacai._persistence.SavedModel`."""
        return _persistence.SavedModel(
            type(self).__name__,
            self.get_params(deep=False),
            getattr(self, "_sklearn_output_config", None),
            vars(self).get("_model"),
            getattr(self, "feature_names_in_", None),
        )

    @one_writer(writes=False)
    def export(self, path, *, part="encoder", format="auto"):
        """Write the encoder (or decoder), input scaling included, as a file that runs
        without skacai: TorchScript, a ``torch.export`` program or ONNX.

        The exported graph takes raw features, as ``transform`` does, and gives
        the same codes (to float32 rounding): it computes
        ``encoder((X - mean_) / scale_)`` (features without spread are divided
        by 1). The decoder's graph takes codes and gives
        ``decoder(codes) * scale_ + mean_``, as ``inverse_transform`` does. Both
        are float32 CPU graphs in evaluation mode, for any number of rows (a
        dynamic batch dimension): feed them float32 arrays of shape
        ``(n_samples, n_features_in_)`` (encoder) or ``(n_samples,
        n_components)`` (decoder). The model itself is not changed (its device
        included), and the file is written atomically: a failed export leaves
        ``path`` as it was.

        Parameters
        ----------
        path : str or os.PathLike
            File to write; an existing file is replaced. Its folder must exist.

        part : {"encoder", "decoder"}, default="encoder"
            The network to export: the encoder (features -> codes, input
            ``"X"``, output ``"codes"``) or the decoder (codes -> data, input
            ``"codes"``, output ``"X_reconstructed"``).

        format : {"auto", "torchscript", "pt2", "onnx"}, default="auto"
            ``"torchscript"``: a traced ``torch.jit`` module (``torch.jit.load``,
            also from C++ with LibTorch; PyTorch has deprecated TorchScript, so
            recent versions warn when loading it). ``"pt2"``: a
            ``torch.export`` program (``torch.export.load(path).module()``),
            PyTorch's successor to TorchScript. ``"onnx"``: an ONNX graph (opset
            18) for onnxruntime and other runtimes; needs ``pip install
            'skacai[onnx]'``. ``"auto"`` picks the format from the suffix of
            ``path``: ``.pt``, ``.pth`` or ``.torchscript`` (TorchScript),
            ``.pt2`` or ``.onnx``.

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            If ``part`` or ``format`` is not one of the options, if
            ``format="auto"`` and the suffix of ``path`` names no format, if
            ``mean_`` or ``scale_`` hold values that float32 cannot hold
            precisely, or if the TorchScript or pt2 graph does not compute what
            the model computes on a fixed sample (a ``forward`` that branches on
            the data); nothing is written then.
        FileNotFoundError
            If the folder of ``path`` does not exist.
        IsADirectoryError
            If ``path`` is a folder.
        ImportError
            If ``format="onnx"`` and onnx or onnxscript is not installed.

        See Also
        --------
        save : Write the whole model (to train further or reload in skacai).

        Examples
        --------
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> import torch
        >>> from skacai import ACAITransformer
        >>> X = np.random.default_rng(0).normal(loc=5.0, size=(100, 8))
        >>> model = ACAITransformer(n_components=3, max_iter=5, random_state=0).fit(X)
        >>> X32 = X.astype(np.float32)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder) / "encoder.pt2"
        ...     model.export(path)
        ...     encoder = torch.export.load(path).module()
        ...     codes = encoder(torch.from_numpy(X32)).numpy()
        >>> bool(np.allclose(codes, model.transform(X32), rtol=1e-5, atol=1e-5))
        True
        """
        from skacai import _export

        check_is_fitted(self)
        _export.export(path, self._model, part=part, format=format)

    def __getstate__(self):
        """Pickle with every tensor on the CPU so the model loads anywhere.

        The pickle also records the skacai and torch versions; unpickling under
        other versions warns (``VersionMismatchWarning``), as scikit-learn does
        for its own version.
        """
        # A copy: on Python >= 3.11 the base class returns the live __dict__ itself.
        state = dict(super().__getstate__())
        # The fitted model as the attributes pickles have always held (CPU tensors).
        if "_model" in state:
            state.update(state.pop("_model").to_attributes())
        # scikit-learn records and checks its own version (_sklearn_version).
        versions = _persistence.versions()
        state["_skacai_versions"] = {name: versions[name] for name in ("skacai", "torch")}
        return state

    def __setstate__(self, state):
        recorded = state.pop("_skacai_versions", None)
        if "encoder_" in state:
            state["_model"] = _model.FittedModel.from_attributes(state)
        # A pickle from before a parameter existed gets its default (e.g. dropout=0).
        for name, parameter in inspect.signature(type(self).__init__).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                state.setdefault(name, parameter.default)
        super().__setstate__(state)
        if recorded is not None:
            _persistence.warn_version_mismatch(
                "This unpickled ACAITransformer", recorded, stacklevel=2
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # Sparse X trains unless the scaling would centre it (refused, saying so).
        tags.input_tags.sparse = self.scaling in ("auto", None)
        return tags


def _fitted_attribute(name):
    """The estimator's fitted attribute ``name``, held by its fitted model."""

    def get(self):
        if "_model" not in vars(self):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return self._model.attribute(name)

    def set(self, value):
        setattr(self._model, name[:-1], value)

    # No docstring: the class docstring's Attributes section documents it (with one,
    # numpydoc links the name to a page that the API reference does not build).
    return property(get, set)


for _name in FITTED_ATTRIBUTES:
    setattr(ACAITransformer, _name, _fitted_attribute(_name))
