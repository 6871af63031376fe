"""Budget curves: ACAI against its plain autoencoder as training goes on (issue 33).

For each data set (MNIST as 28 x 28 images; scikit-learn's digits as 8 x 8
images, 1,347 training rows), model seed and model (``acai``: the defaults;
``ae``: the same with ``adversarial_weight=0``, so the same seed gives the same
initial weights, shuffling and mixing coefficients), this trains
``ACAITransformer(image_shape=..., random_state=seed)`` with its default
parameters one epoch at a time (``partial_fit`` on the whole training set) and
saves the model (``save``: weights, Adam states and the generator) at each
budget point of ``STAGES``, as ``CHECKPOINTS/{data}-{model}-seed{seed}-epoch{e}.skacai``.

``train`` works through every (budget point, data set, seed, model) in order of
the samples seen, so that a stopped run has whole, paired points up to some
budget; it continues each model from its latest checkpoint (the rolling
``...-latest.skacai`` written after every epoch, or the last budget point), so a
run cut off by the end of a session resumes where it stopped. Each epoch's
seconds and losses go to ``budget_curves_train.jsonl``.

``evaluate`` scores every budget-point checkpoint not yet scored
(:class:`Evaluation`: KMeans on the codes as a Pipeline user gets them, the
official whitened protocol with 100 restarts, the linear probe, the test
reconstruction error and :func:`skacai.metrics.interpolation_realism`), and
raw pixels and PCA(16) once, into ``budget_curves.jsonl``; ``report`` prints
the paired table (means, spreads and ACAI - AE per seed) and ``plot`` draws
``docs/_static/budget_curves_{data}.png``.

    python benchmarks/defaults/budget_curves.py train --threads 1
    python benchmarks/defaults/budget_curves.py train --data digits --seeds 0 --threads 1
    taskset -c 0 python benchmarks/defaults/budget_curves.py train --threads 1 --models acai &
    taskset -c 1 python benchmarks/defaults/budget_curves.py train --threads 1 --models ae
    python benchmarks/defaults/budget_curves.py evaluate --threads 1
    python benchmarks/defaults/budget_curves.py report
    python benchmarks/defaults/budget_curves.py report --markdown --data digits mnist
    python benchmarks/defaults/budget_curves.py plot
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import (
    DEFAULT_MNIST,
    RESULTS,
    append_record,
    ignore_convergence,
    mean_std,
    read_records,
    set_threads,
)

CHECKPOINTS = RESULTS / "budget_curves"
TRAIN_LOG = RESULTS / "budget_curves_train.jsonl"
SCORES = RESULTS / "budget_curves.jsonl"
# Budget points in epochs of each data set's training rows (samples seen in brackets).
STAGES = {
    "mnist": (1, 2, 4, 8, 17),  # 60k, 120k (the default budget), 240k, 480k, 1.02M
    "digits": (15, 45, 89, 178, 356, 743),  # 20k, 61k, 120k (default), 240k, 480k, 1.0M
}
IMAGE_SHAPES = {"mnist": (28, 28), "digits": (8, 8)}
MODELS = {"acai": {}, "ae": {"adversarial_weight": 0.0}}


def load(name, mnist_path=DEFAULT_MNIST):
    """``(X_train, y_train, X_test, y_test)``: MNIST's split in [0, 1], or the digits'
    stratified 75 / 25 split (``random_state=0``) in their 0-16 grey levels."""
    if name == "mnist":
        from skacai.datasets import load_mnist

        return load_mnist(mnist_path)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    return X_train, y_train, X_test, y_test


def checkpoint(data, model, seed, epoch):
    return CHECKPOINTS / f"{data}-{model}-seed{seed}-{epoch}.skacai"


def stage_file(data, model, seed, epoch):
    return checkpoint(data, model, seed, f"epoch{epoch}")


def latest(data, model, seed):
    """The latest saved model of a run and its epoch count, or ``(None, 0)``."""
    from skacai import ACAITransformer

    candidates = [checkpoint(data, model, seed, "latest")]
    candidates += [stage_file(data, model, seed, e) for e in reversed(STAGES[data])]
    best = (None, 0)
    for path in candidates:
        if path.exists():
            loaded = ACAITransformer.load(path)
            if loaded.n_iter_ > best[1]:
                best = (loaded, loaded.n_iter_)
    return best


def new_model(data, model, seed):
    from skacai import ACAITransformer

    return ACAITransformer(image_shape=IMAGE_SHAPES[data], random_state=seed, **MODELS[model])


def train_to(data, model, seed, epochs, X, log=None):
    """Train one run up to ``epochs`` epochs, saving after each (and logging each to
    ``log``, by default ``TRAIN_LOG``); its model."""
    log = TRAIN_LOG if log is None else log
    estimator, done = latest(data, model, seed)
    if estimator is None:
        estimator = new_model(data, model, seed)
    while done < epochs:
        start = time.perf_counter()
        with ignore_convergence():
            estimator.partial_fit(X)
        seconds = time.perf_counter() - start
        done = estimator.n_iter_
        estimator.save(checkpoint(data, model, seed, "latest"))
        terms = {key: round(values[-1], 6) for key, values in estimator.history_.items()}
        append_record(
            log,
            {"data": data, "model": model, "seed": seed, "epoch": done,
             "seconds": round(seconds, 2), "samples_per_s": round(X.shape[0] / seconds, 1),
             "load_average": os.getloadavg()[0], **terms},
        )  # fmt: skip
        if done in STAGES[data]:
            estimator.save(stage_file(data, model, seed, done))
    return estimator


def jobs(datasets, seeds, max_samples, models=tuple(MODELS)):
    """(samples, data, epochs, seed, model) in order of samples seen, then data, seed, model."""
    sizes = {"mnist": 60_000, "digits": 1_347}
    todo = [
        (epochs * sizes[data], data, epochs, seed, model)
        for data in datasets
        for epochs in STAGES[data]
        for seed in seeds
        for model in models
        if epochs * sizes[data] <= max_samples
    ]
    return sorted(todo)


def train(args):
    CHECKPOINTS.mkdir(parents=True, exist_ok=True)
    data_cache = {}
    for _, data, epochs, seed, model in jobs(args.data, args.seeds, args.max_samples, args.models):
        if stage_file(data, model, seed, epochs).exists():
            continue
        if data not in data_cache:
            data_cache[data] = load(data, args.mnist)[0]
        print(f"training {data} {model} seed {seed} to epoch {epochs}", flush=True)
        train_to(data, model, seed, epochs, data_cache[data])


# ------------------------------------------------------------------- evaluation

N_REFERENCE = 20_000  # training rows the realism classifier and index are fitted on
N_PAIRS = 500
KMEANS_RESTARTS = 100  # of the official protocol's random restarts (the paper's: 1,000)


class Evaluation:
    """One data set's labels, reference rows and fitted realism classifier, shared by
    the scores of all its checkpoints and baselines."""

    def __init__(self, data, mnist_path):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.data = data
        self.X_train, self.y_train, self.X_test, self.y_test = load(data, mnist_path)
        self.reference = self.X_train[:N_REFERENCE]
        self.classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        with ignore_convergence():
            self.classifier.fit(self.reference, self.y_train[:N_REFERENCE])

    def code_scores(self, codes_train, codes_test, seed=0, whitened=True):
        """KMeans as a Pipeline user gets it, the official whitened protocol, and the probe."""
        from sklearn.cluster import KMeans
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from skacai.metrics import cluster_scores, clustering_accuracy

        kmeans = KMeans(10, n_init=10, random_state=seed).fit(codes_train)
        official = {"accuracy": float("nan")}
        if whitened:
            official = cluster_scores(
                codes_train, self.y_train, codes_test, self.y_test, n_init=KMEANS_RESTARTS
            )
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        with ignore_convergence():
            probe.fit(codes_train, self.y_train)
        return {
            "kmeans_raw": clustering_accuracy(self.y_test, kmeans.predict(codes_test)),
            "kmeans_whitened": official["accuracy"],
            "probe": float(probe.score(codes_test, self.y_test)),
        }

    def model_scores(self, model, seed):
        from skacai.metrics import interpolation_realism

        scores = self.code_scores(model.transform(self.X_train), model.transform(self.X_test))
        decoded = model.inverse_transform(model.transform(self.X_test))
        scores["test_mse"] = float(np.mean((decoded - self.X_test) ** 2))
        with ignore_convergence():
            realism = interpolation_realism(
                model, self.X_test, self.y_test, X_reference=self.reference,
                classifier=self.classifier, n_pairs=N_PAIRS, random_state=seed,
            )  # fmt: skip
        return {**scores, **realism}

    def baselines(self, n_components=16):
        from sklearn.decomposition import PCA

        pca = PCA(n_components).fit(self.X_train)
        decoded = pca.inverse_transform(pca.transform(self.X_test))
        return {  # pixels: the official protocol whitens codes, not 784 pixels
            "pixels": self.code_scores(self.X_train, self.X_test, whitened=False),
            "pca": {
                **self.code_scores(pca.transform(self.X_train), pca.transform(self.X_test)),
                "test_mse": float(np.mean((decoded - self.X_test) ** 2)),
            },
        }


def evaluate(args):
    from skacai import ACAITransformer

    done = {(r["data"], r["model"], r["seed"], r["epoch"]) for r in read_records(SCORES, True)}
    for data in sorted(args.data, key=lambda name: name != "digits"):  # the quick one first
        evaluation = None
        for epochs in STAGES[data]:
            for seed in args.seeds:
                for model in MODELS:
                    path = stage_file(data, model, seed, epochs)
                    if (data, model, seed, epochs) in done or not path.exists():
                        continue
                    evaluation = evaluation or Evaluation(data, args.mnist)
                    start = time.perf_counter()
                    scores = evaluation.model_scores(ACAITransformer.load(path), seed)
                    append_record(SCORES, {
                        "data": data, "model": model, "seed": seed, "epoch": epochs,
                        "samples": epochs * evaluation.X_train.shape[0], **_rounded(scores),
                        "eval_seconds": round(time.perf_counter() - start, 1),
                    })  # fmt: skip
        if (data, "pca", 0, 0) not in done:  # last: on MNIST's pixels, the slowest
            evaluation = evaluation or Evaluation(data, args.mnist)
            for name, scores in evaluation.baselines().items():
                append_record(SCORES, {"data": data, "model": name, "seed": 0, "epoch": 0,
                                       "samples": 0, **_rounded(scores)})  # fmt: skip


def _rounded(scores):
    return {key: round(float(value), 5) for key, value in scores.items()}


# ------------------------------------------------------------- report and plot

MEASURES = {  # name -> (label, higher is better)
    "kmeans_raw": ("KMeans on the codes (Pipeline), test accuracy", True),
    "kmeans_whitened": ("KMeans on whitened codes (official), test accuracy", True),
    "probe": ("linear probe, test accuracy", True),
    "test_mse": ("test reconstruction MSE", False),
    "confidence": ("classifier confidence on midpoints", True),
    "nn_ratio": ("midpoints' nearest-neighbour ratio", False),
    "critic_accuracy": ("independent critic's accuracy", False),
}
FIGURE = Path(__file__).resolve().parents[2] / "docs" / "_static" / "budget_curves_{data}.png"


def paired(records, data):
    """``{(measure, samples): (acai values, ae values, acai - ae per seed)}`` over the
    seeds with both models scored, and the baselines' values."""
    runs = {(r["model"], r["seed"], r["samples"]): r for r in records if r["data"] == data}
    table = {}
    for (model, seed, samples), record in runs.items():
        twin = runs.get(("ae", seed, samples))
        if model != "acai" or twin is None:
            continue
        for measure in MEASURES:
            entry = table.setdefault((measure, samples), ([], [], []))
            entry[0].append(record[measure])
            entry[1].append(twin[measure])
            entry[2].append(record[measure] - twin[measure])
    baselines = {name: runs.get((name, 0, 0)) for name in ("pixels", "pca")}
    return table, baselines


POINTS = {"kmeans_raw", "kmeans_whitened", "probe"}  # accuracies, printed in points
HEADERS = {
    "kmeans_raw": "KMeans, raw codes",
    "kmeans_whitened": "KMeans, whitened codes",
    "probe": "probe",
    "test_mse": "test MSE",
    "confidence": "confidence",
    "nn_ratio": "NN ratio",
    "critic_accuracy": "critic accuracy",
}


def markdown(records, datasets):
    """The docs' table: ACAI - AE per data set and budget, paired mean ± standard
    deviation over the seeds; bold where the mean's size exceeds the spread."""
    lines = [
        "| data, samples | seeds | " + " | ".join(HEADERS[m] for m in MEASURES) + " |",
        "|---|---|" + "---|" * len(MEASURES),
    ]
    for data in datasets:
        table, _ = paired(records, data)
        for samples in sorted({samples for _, samples in table}):
            cells = []
            for measure in MEASURES:
                diff = table.get((measure, samples), ((), (), ()))[2]
                d, sd = mean_std([100 * v for v in diff] if measure in POINTS else diff)
                digits = 1 if measure in POINTS else 4 if measure == "test_mse" else 3
                cell = f"{d:+.{digits}f} ± {sd:.{digits}f}"
                cells.append(f"**{cell}**" if abs(d) > sd else cell)
            seeds = len(table[next(iter(MEASURES)), samples][2])
            lines.append(f"| {data}, {samples:,} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(args):
    records = read_records(SCORES, missing_ok=True)
    if args.markdown:
        print(markdown(records, args.data))
        return
    for data in args.data:
        table, baselines = paired(records, data)
        print(f"\n{data}: ACAI, plain autoencoder and ACAI - AE (paired over seeds)")
        for measure in MEASURES:
            print(f"  {measure}")
            for (name, samples), (acai, ae, diff) in sorted(table.items()):
                if name != measure:
                    continue
                (a, sa), (b, sb), (d, sd) = mean_std(acai), mean_std(ae), mean_std(diff)
                print(
                    f"    {samples:>9,} samples, {len(acai)} seeds: ACAI {a:.4f} ± {sa:.4f}  "
                    f"AE {b:.4f} ± {sb:.4f}  ACAI - AE {d:+.4f} ± {sd:.4f}"
                )
            for name, record in baselines.items():
                if record is not None and measure in record:
                    print(f"    {name}: {record[measure]:.4f}")


def plot(args):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    records = read_records(SCORES, missing_ok=True)
    for data in args.data:
        table, baselines = paired(records, data)
        if not table:
            continue
        figure = Figure(figsize=(14, 7), layout="constrained")
        axes = figure.subplots(2, 4).ravel()
        for ax, (measure, (label, _)) in zip(axes, MEASURES.items(), strict=False):
            points = sorted((s, v) for (m, s), v in table.items() if m == measure)
            samples = np.array([s for s, _ in points])
            for index, (name, color) in enumerate((("ACAI", "C0"), ("autoencoder", "C1"))):
                values = [np.array(v[index]) for _, v in points]
                mean = np.array([v.mean() for v in values])
                spread = np.array([v.std(ddof=1) if v.size > 1 else 0.0 for v in values])
                ax.plot(samples, mean, "o-", color=color, label=name)
                ax.fill_between(samples, mean - spread, mean + spread, color=color, alpha=0.2)
            for name, style in (("pixels", ":"), ("pca", "--")):
                record = baselines.get(name)
                if record is not None and np.isfinite(record.get(measure, np.nan)):
                    ax.axhline(record[measure], color="grey", linestyle=style, label=name)
            ax.set_xscale("log")
            ax.set_xticks(samples, [f"{s / 1000:,.0f}k" for s in samples], fontsize=7)
            ax.minorticks_off()
            ax.set_title(label, fontsize=9)
            ax.set_xlabel("training samples seen")
        axes[0].legend(fontsize=8)
        axes[-1].set_axis_off()
        seeds = max(len(v[0]) for v in table.values())
        figure.suptitle(f"{data}: mean and ± 1 standard deviation over up to {seeds} seeds")
        path = Path(str(FIGURE).format(data=data))
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=80)
        print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["train", "evaluate", "report", "plot"])
    parser.add_argument("--data", nargs="+", choices=list(STAGES), default=list(STAGES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS),
        help="train only these (two processes on two cores: one model each)",
    )  # fmt: skip
    parser.add_argument("--max-samples", type=int, default=10**7)
    parser.add_argument(
        "--markdown", action="store_true", help="report: the docs' table of ACAI - AE"
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST)
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.command == "train":
        train(args)
    elif args.command == "evaluate":
        evaluate(args)
    elif args.command == "report":
        report(args)
    else:
        plot(args)


if __name__ == "__main__":
    main()
