#!/usr/bin/env python3
"""Single-precision matrix multiply rate of this machine (numpy's BLAS sgemm), the peer of the
encode benchmark's model FLOP/s. Prints PEER {"gflops", "n", "threads", "blas"}."""
import argparse
import json
import os
import sys
import time

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=1024, help="square matrix size")
parser.add_argument("--seconds", type=float, default=3.0, help="time to spend multiplying")
args = parser.parse_args()

rng = np.random.default_rng(42)
a = rng.standard_normal((args.n, args.n), dtype=np.float32)
b = rng.standard_normal((args.n, args.n), dtype=np.float32)
c = a @ b  # warm-up (thread pool start, page faults)
best = 0.0
deadline = time.perf_counter() + args.seconds
while time.perf_counter() < deadline:
    t0 = time.perf_counter()
    np.matmul(a, b, out=c)
    dt = time.perf_counter() - t0
    best = max(best, 2.0 * args.n ** 3 / dt / 1e9)
def loaded_blas():
    """The BLAS library numpy actually loaded (Debian switches it with update-alternatives)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and line.split()[-1].startswith("/")}
    except OSError:
        return "unknown"
    return ", ".join(sorted(os.path.join(os.path.basename(os.path.dirname(p)), os.path.basename(p)) for p in paths)) or "unknown"


blas = loaded_blas()
if blas.startswith("blas/"):
    print("numpy_sgemm: numpy runs on the reference BLAS (" + blas + "), far below this machine's rate; "
          "install an optimised one (apt-get install libopenblas0-pthread) for a meaningful peer figure",
          file=sys.stderr)
print("PEER " + json.dumps({"gflops": best, "n": args.n, "threads": os.environ.get("OPENBLAS_NUM_THREADS"), "blas": blas,
                           "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "detected by OpenBLAS")}))
