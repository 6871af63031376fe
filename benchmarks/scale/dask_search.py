"""Wall time of one GridSearchCV over ACAI's coefficients: local vs Dask clusters.

The same search (a Pipeline of ACAITransformer and KMeans on scikit-learn's
digits, scored by clustering accuracy) runs in one process, in these modes:

- ``local``: ``n_jobs=1`` in this process, torch limited to one thread;
- ``dask-1x1``: under ``joblib.parallel_backend("dask")`` on a
  ``distributed.LocalCluster`` of 1 worker process with 1 thread. joblib
  counts the cluster's threads, finds one, and then runs the search
  sequentially in this process: the workers receive nothing (the script
  watches the scheduler and says where the fits ran);
- ``dask-2x1``: 2 worker processes of 1 thread each, dask's default
  environment (which includes ``MALLOC_TRIM_THRESHOLD_=65536``);
- ``dask-2x1-notrim``: the same without ``MALLOC_TRIM_THRESHOLD_``
  (docs/scaling.md: it costs skacai's training about a third more CPU time);
- ``dask-1x2``: 1 worker process with 2 threads (two fits at once in it);
- ``loky-2`` (with ``--loky``): joblib's default process pool, ``n_jobs=2``.

All clusters are started first; then each round runs every mode once, so that
a change in the machine's load hits all modes alike. Reported: the best
``search.fit`` wall time over ``--repeats`` rounds, and its ratio to
``dask-1x1``; start-up (cluster start and a small warm-up search that imports
everything in the workers) is reported apart. Every mode must give the same
``cv_results_`` scores; the script says whether they did.

    python benchmarks/scale/dask_search.py --loky
    python benchmarks/scale/dask_search.py --n-weights 6 --gammas 0.2,0.5 --max-iter 20 --repeats 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import load_averages, system_line

TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def build_search(args):
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from skacai import ACAITransformer
    from skacai.metrics import clustering_accuracy

    pipe = Pipeline(
        [
            (
                "acai",
                ACAITransformer(
                    n_components=10,
                    hidden_layer_sizes=tuple(args.hidden),
                    max_iter=args.max_iter,
                    tol=0.0,
                    random_state=0,
                    device="cpu",
                ),
            ),
            ("km", KMeans(10, n_init=3, random_state=0)),
        ]
    )
    grid = {
        "acai__adversarial_weight": [float(w) for w in np.linspace(0, 1, args.n_weights)],
        "acai__critic_regularization": [float(g) for g in args.gammas.split(",")],
    }
    return GridSearchCV(pipe, grid, cv=args.cv, scoring=make_scorer(clustering_accuracy))


def run_search(search, X, y, backend):
    import joblib

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: short fits by design
        if backend is None:
            return search.fit(X, y)
        with joblib.parallel_backend(backend):
            return search.fit(X, y)


class Mode:
    """One way of running the search; ``start()`` returns its start-up seconds."""

    def __init__(self, name, backend=None, n_jobs=None, cluster=None):
        self.name, self.backend, self.n_jobs = name, backend, n_jobs
        self.cluster_spec = cluster  # (n_workers, threads_per_worker, dask config)
        self.cluster = self.client = None
        self.times, self.scores, self.ran_on = [], None, "this process"

    def start(self, args, X, y, stack):
        import dask
        import distributed

        start = time.perf_counter()
        if self.cluster_spec is not None:
            n_workers, n_threads, config = self.cluster_spec
            # The nanny writes its pre-spawn environment into os.environ; undo that, so
            # that each cluster (and loky) starts from this process's own environment.
            environ = dict(os.environ)
            with dask.config.set(config):
                self.cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=n_workers,
                        threads_per_worker=n_threads,
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=":0",
                        worker_dashboard_address=":0",
                    )
                )
            os.environ.clear()
            os.environ.update(environ)
            self.client = stack.enter_context(
                distributed.Client(self.cluster, set_as_default=False)
            )
        with self.context():
            warm_up = build_search(args).set_params(
                cv=2, n_jobs=self.n_jobs, estimator__acai__max_iter=1
            )
            run_search(warm_up, X[:200], y[:200], self.backend)
        return time.perf_counter() - start

    @contextlib.contextmanager
    def context(self):
        """This mode's client as the default one, and torch's threads for the local run."""
        import torch

        saved = torch.get_num_threads()
        if self.backend is None and self.n_jobs is None:
            torch.set_num_threads(1)  # the local run computes like one worker
        try:
            with self.client.as_current() if self.client else contextlib.nullcontext():
                yield
        finally:
            torch.set_num_threads(saved)

    def run(self, args, X, y):
        with self.context():
            before = self.cluster.scheduler.transition_counter if self.cluster else 0
            search = build_search(args).set_params(n_jobs=self.n_jobs)
            start = time.perf_counter()
            run_search(search, X, y, self.backend)
            self.times.append(time.perf_counter() - start)
            if self.cluster and self.cluster.scheduler.transition_counter > before:
                self.ran_on = "the workers"
        self.scores = search.cv_results_["mean_test_score"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1797, help="digits rows (at most 1797)")
    parser.add_argument("--n-weights", type=int, default=4, help="adversarial_weight values")
    parser.add_argument("--gammas", default="0.2,0.5", help="critic_regularization values")
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=10, help="epochs per fit")
    parser.add_argument("--hidden", type=int, nargs="*", default=[256, 128])
    parser.add_argument("--repeats", type=int, default=2, help="rounds; the best is reported")
    parser.add_argument("--loky", action="store_true", help="also time joblib's loky, n_jobs=2")
    args = parser.parse_args(argv)

    import dask
    import distributed
    import joblib
    import numpy as np
    import sklearn
    import torch
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[: args.rows], y[: args.rows]
    n_candidates = args.n_weights * len(args.gammas.split(","))
    print(
        f"{system_line()}, torch {torch.__version__}, scikit-learn {sklearn.__version__}, joblib "
        f"{joblib.__version__}, dask {dask.__version__}, distributed {distributed.__version__}"
    )
    print(
        f"GridSearchCV: {n_candidates} candidates x {args.cv} folds = "
        f"{n_candidates * args.cv} fits (+1 refit here), digits {X.shape[0]} x {X.shape[1]}, "
        f"MLP {tuple(args.hidden)}, {args.max_iter} epochs each; best of {args.repeats} rounds"
    )
    modes = [
        Mode("local"),
        Mode("dask-1x1", "dask", cluster=(1, 1, {})),
        Mode("dask-2x1", "dask", cluster=(2, 1, {})),
        Mode("dask-2x1-notrim", "dask", cluster=(2, 1, {TRIM: None})),
        Mode("dask-1x2", "dask", cluster=(1, 2, {})),
    ]
    if args.loky:
        modes.append(Mode("loky-2", n_jobs=2))
        modes[-1].ran_on = "2 loky processes"
    with contextlib.ExitStack() as stack:
        startup = {mode.name: mode.start(args, X, y, stack) for mode in modes}
        for _ in range(args.repeats):
            for mode in modes:
                mode.run(args, X, y)

    baseline = min(modes[1].times)
    print(f"{'mode':<16}{'wall s':>8}{'vs dask-1x1':>13}{'start-up s':>12}  fits ran in")
    for mode in modes:
        best = min(mode.times)
        print(
            f"{mode.name:<16}{best:>8.1f}{best / baseline:>13.2f}{startup[mode.name]:>12.1f}"
            f"  {mode.ran_on}"
        )
    print(
        "wall s: search.fit alone, best round; start-up: cluster or pool start and a small "
        "warm-up search (imports in the workers), not included"
    )
    same = all(np.array_equal(mode.scores, modes[0].scores) for mode in modes)
    print(f"identical mean_test_score in every mode: {'yes' if same else 'NO'}")
    print(
        f"load average after: {load_averages()} "
        "(other processes on the machine distort the ratios)"
    )


if __name__ == "__main__":
    main()
