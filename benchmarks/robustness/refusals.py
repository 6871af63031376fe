"""What refusing a bad file costs: time and peak memory of loading forged or foreign files.

Each case writes one file, then loads it in a fresh Python process (after the imports,
so that the numbers are the load's own): wall time, and the growth of the process's
resident memory during the load (sampled every 2 ms) over what the imports left. With
``--old PATH`` (a checkout of an older skacai, e.g. ``git worktree add /tmp/old <commit>``) every
case also runs against that code, in the same session, for a before/after table.

Cases (docs/reliability.md, "Model files"):

- ``layers``: a valid file whose description claims 30,000 hidden layers;
- ``extra-tensors``: a valid file with 200,000 unused tensors added;
- ``foreign-1.5GB``: a 1.5 GB file (sparse) that starts like a ``.npy`` file;
- ``nested-json``: a header nested 100,000 deep;
- ``npy-header``: a 200-byte ``.npy`` file whose header claims a (10**11, 64) array,
  read by the command line's ``load_data``;
- ``valid``: a valid default-sized model (784 features, hidden 512 and 256), for scale.

Usage::

    python benchmarks/robustness/refusals.py [--old /tmp/old] \\
        [--out benchmarks/results/refusals.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import RESULTS, append_record, machine, read_records

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = RESULTS / "refusals.jsonl"

# Runs in the child process: import, note the peak memory, load, report.
CHILD = r"""
import json, os, sys, threading, time, warnings
sys.path.insert(0, sys.argv[1])
import numpy as np
from skacai import ACAITransformer
from skacai._cli import load_data
warnings.simplefilter("ignore")
path, kind = sys.argv[2], sys.argv[3]
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * page
base = peak = rss()
done = False
def sample():  # the resident memory's peak during the load, sampled every 2 ms
    global peak
    while not done:
        peak = max(peak, rss())
        time.sleep(0.002)
sampler = threading.Thread(target=sample)
sampler.start()
start = time.perf_counter()
try:
    (load_data if kind == "data" else ACAITransformer.load)(path)
    outcome = "loaded"
except BaseException as error:
    outcome = f"{type(error).__name__}: {str(error)[:160]}"
seconds = time.perf_counter() - start
done = True
sampler.join()
growth = round((peak - base) / 2**20, 1)
print(json.dumps({"seconds": round(seconds, 3), "peak_rss_growth_mib": growth,
                  "outcome": outcome}))
"""


def make_files(folder):
    """name -> (path, kind) of every case's file."""
    import numpy as np
    import torch

    from skacai import ACAITransformer, _model_file, _persistence

    rng = np.random.default_rng(0)
    small = ACAITransformer(n_components=4, hidden_layer_sizes=(16, 8), max_iter=1)
    small.set_params(random_state=0, batch_size=32).fit(rng.normal(size=(64, 12)))
    files = {}

    description, tensors = _persistence._describe(small)
    description["state"]["network_spec"]["hidden_layer_sizes"] = [8] * 30_000
    path = folder / "layers.safetensors"
    path.write_bytes(_model_file.serialize(description, tensors))
    files["layers"] = (path, "model")

    description, tensors = _persistence._describe(small)
    tensors.update({f"unused.{i}": torch.zeros(2) for i in range(200_000)})
    path = folder / "extra.safetensors"
    path.write_bytes(_model_file.serialize(description, tensors))
    files["extra-tensors"] = (path, "model")

    path = folder / "foreign.npy"
    with path.open("wb") as file:
        file.write(b"\x93NUMPY\x01\x00v\x00{'descr': '<f8'}")
        file.truncate(1_500_000_000)
    files["foreign-1.5GB"] = (path, "model")

    header = ("[" * 100_000 + "]" * 100_000).encode()
    path = folder / "nested.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    files["nested-json"] = (path, "model")

    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f8", "fortran_order": False, "shape": (10**11, 64)}
    )
    path = folder / "huge.npy"
    path.write_bytes(np.lib.format.MAGIC_PREFIX + b"\x01\x00" + buffer.getvalue()[8:])
    files["npy-header"] = (path, "data")

    valid = ACAITransformer(max_iter=1, random_state=0, batch_size=256)
    valid.fit(rng.random((512, 784)))
    path = folder / "valid.safetensors"
    valid.save(path)
    files["valid"] = (path, "model")
    return files


def measure(code_root, path, kind):
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(code_root), str(path), kind],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        check=False,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        return {"outcome": f"process failed ({result.returncode}): {result.stderr[-300:]}"}
    return json.loads(lines[-1])


def report(path):
    """A markdown table of the last run of each case, current code beside the old."""
    runs = {(record["case"], record["code"]): record for record in read_records(path)}
    print("| file | size | before: time, memory, outcome | now: time, memory, outcome |")
    print("|---|---|---|---|")
    for case in dict.fromkeys(case for case, _ in runs):
        cells = []
        for code in ("old", "current"):
            record = runs.get((case, code))
            if record is None:
                cells.append("—")
                continue
            outcome = record["outcome"].split(":")[0]
            cells.append(
                f"{record['seconds']:.3g} s, +{record['peak_rss_growth_mib']:.0f} MiB, {outcome}"
            )
        size = runs[(case, "current")]["file_bytes"]
        print(f"| {case} | {size:,} bytes | " + " | ".join(cells) + " |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="checkout of an older skacai to compare")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cases", nargs="*", help="run only these cases")
    parser.add_argument("--report", type=Path, help="print a results file's table and stop")
    args = parser.parse_args(argv)
    if args.report:
        report(args.report)
        return
    trees = [("current", ROOT)] + ([("old", args.old)] if args.old else [])
    with tempfile.TemporaryDirectory() as folder:
        files = make_files(Path(folder))
        for case, (path, kind) in files.items():
            if args.cases and case not in args.cases:
                continue
            for tree, root in trees:
                record = {
                    "case": case,
                    "code": tree,
                    "file_bytes": path.stat().st_size,
                    **measure(root, path, kind),
                    "machine": machine(),
                }
                append_record(args.out, record)


if __name__ == "__main__":
    main()
