"""File size and speed of ``ACAITransformer.save`` / ``load`` against joblib.

Both formats store the same model (weights, optimiser state, scaling, history)
in the same process, on the same folder; the ratios compare them directly.

    python benchmarks/speed/persistence.py
    python benchmarks/speed/persistence.py --hidden 1000 1000 --features 784   # the blog's MLP
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path

import joblib
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import best_time

from skacai import ACAITransformer


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--hidden", type=int, nargs="*", default=[512, 256])
    parser.add_argument("--components", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    X = np.random.default_rng(0).random((512, args.features), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ACAITransformer(
            n_components=args.components,
            hidden_layer_sizes=tuple(args.hidden),
            max_iter=1,
            random_state=0,
            device="cpu",
        ).fit(X)
    with tempfile.TemporaryDirectory() as folder:
        safe, pickled = Path(folder) / "model.safetensors", Path(folder) / "model.joblib"
        _, save_s = best_time(lambda: model.save(safe), args.repeats)
        _, dump_s = best_time(lambda: joblib.dump(model, pickled), args.repeats)
        _, load_s = best_time(lambda: ACAITransformer.load(safe), args.repeats)
        _, joblib_load_s = best_time(lambda: joblib.load(pickled), args.repeats)
        assert np.array_equal(ACAITransformer.load(safe).transform(X), model.transform(X))
        result = {
            "features": args.features,
            "hidden": args.hidden,
            "components": args.components,
            "parameters": sum(
                p.numel()
                for m in (model.encoder_, model.decoder_, model.critic_)
                for p in m.parameters()
            ),
            "safe_mib": round(safe.stat().st_size / 2**20, 2),
            "joblib_mib": round(pickled.stat().st_size / 2**20, 2),
            "save_ms": round(1e3 * save_s, 1),
            "joblib_dump_ms": round(1e3 * dump_s, 1),
            "save_over_dump": round(save_s / dump_s, 2),
            "load_ms": round(1e3 * load_s, 1),
            "joblib_load_ms": round(1e3 * joblib_load_s, 1),
            "load_over_joblib_load": round(load_s / joblib_load_s, 2),
            "torch_threads": torch.get_num_threads(),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
