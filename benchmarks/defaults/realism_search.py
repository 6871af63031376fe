"""What a search over ``adversarial_weight`` picks with each score (issue 33, item 2).

On the digits as 8 x 8 images (the stratified 75 / 25 split of
``budget_curves.load``), for each model seed: ``GridSearchCV`` over
``adversarial_weight`` in ``--weights`` (``ACAITransformer(image_shape=(8, 8),
max_iter=--epochs, random_state=seed)``, ``cv=3``), all scores measured on the
same fits (multi-metric scoring):

- ``score``: the estimator's own (negative reconstruction error);
- ``balanced``, ``nn_ratio``, ``critic``: :func:`skacai.metrics.make_realism_scorer`;
- ``pipeline``: the accuracy of ``Pipeline([acai, LogisticRegression])``
  (a separate search, the estimator inside a Pipeline with a classifier).

Then each score's pick and the plain autoencoder (weight 0) are fitted on the
whole training split with the same seed, and
:func:`skacai.metrics.interpolation_realism` scores both on the test split
(labelled pairs, the training split as reference). One JSON line per seed.

    python benchmarks/defaults/realism_search.py --seeds 0 1 2 --threads 1 \\
        --json benchmarks/results/realism_search.jsonl
    python benchmarks/defaults/realism_search.py --report benchmarks/results/realism_search.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import append_record, ignore_convergence, mean_std, read_records, set_threads
from budget_curves import load

SCORES = ("score", "balanced", "nn_ratio", "critic", "pipeline")
REALISM = ("confidence", "nn_ratio", "critic_accuracy")


def search(seed, weights, epochs, X, y):
    """The weight each score picks, and every candidate's mean test score."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline

    from skacai import ACAITransformer
    from skacai.metrics import make_realism_scorer

    model = ACAITransformer(image_shape=(8, 8), max_iter=epochs, random_state=seed)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    scoring = {"score": _own_score}
    scoring |= {name: make_realism_scorer(name) for name in ("balanced", "nn_ratio", "critic")}
    grid = {"adversarial_weight": weights}
    with ignore_convergence():
        plain = GridSearchCV(model, grid, scoring=scoring, refit=False, cv=folds).fit(X, y)
        pipeline = Pipeline([("acai", model), ("clf", LogisticRegression(max_iter=2000))])
        classified = GridSearchCV(pipeline, {"acai__adversarial_weight": weights}, cv=folds).fit(
            X, y
        )
    results = {
        name: [float(v) for v in plain.cv_results_[f"mean_test_{name}"]] for name in scoring
    }
    results["pipeline"] = [float(v) for v in classified.cv_results_["mean_test_score"]]
    picks = {name: weights[int(np.argmax(values))] for name, values in results.items()}
    return picks, results


def _own_score(estimator, X, y=None):
    return estimator.score(X)


def realism_of(weight, seed, epochs, data):
    from skacai import ACAITransformer
    from skacai.metrics import interpolation_realism

    X_train, y_train, X_test, y_test = data
    model = ACAITransformer(
        image_shape=(8, 8), max_iter=epochs, adversarial_weight=weight, random_state=seed
    )
    with ignore_convergence():
        model.fit(X_train)
        scores = interpolation_realism(
            model, X_test, y_test, X_reference=X_train, y_reference=y_train, random_state=seed
        )
    return {name: round(scores[name], 5) for name in REALISM}


def run(args):
    data = load("digits")
    for seed in args.seeds:
        picks, results = search(seed, args.weights, args.epochs, data[0], data[1])
        realism = {w: realism_of(w, seed, args.epochs, data) for w in {0.0, *picks.values()}}
        append_record(
            args.json,
            {"benchmark": "realism_search", "seed": seed, "epochs": args.epochs,
             "weights": args.weights, "picks": picks,
             "mean_test_scores": {k: [round(v, 5) for v in vs] for k, vs in results.items()},
             "realism": {str(w): r for w, r in realism.items()}},
        )  # fmt: skip


def report(path):
    records = read_records(path)
    print(f"{len(records)} seeds; weights {records[0]['weights']}, {records[0]['epochs']} epochs")
    for name in SCORES:
        picks = [r["picks"][name] for r in records]
        line = f"{name:9s} picks {picks}"
        for measure in REALISM:
            diffs = [
                r["realism"][str(float(r["picks"][name]))][measure] - r["realism"]["0.0"][measure]
                for r in records
            ]
            mean, spread = mean_std(diffs)
            line += f"  {measure} pick - AE {mean:+.3f} ± {spread:.3f}"
        print(line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.5, 2.0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, help="append one JSON line per seed")
    parser.add_argument("--report", type=Path, help="print the table of a results file")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.report:
        report(args.report)
    else:
        run(args)


if __name__ == "__main__":
    main()
