#!/usr/bin/python3
"""FAISS IndexFlatIP peer for the dense-1M benchmark (see ../../../shared/docs/BENCHMARKS.md).

Reads the SHOALVEC files that Shoal's `dense` workload writes (format: README.md in this folder),
adds the documents to a faiss.IndexFlatIP and times exact inner-product top-k search on one thread
(faiss.omp_set_num_threads(1); run with OPENBLAS_NUM_THREADS=1):
  - one query per call (FAISS's sequential SIMD scan): each query's best of --passes runs, averaged;
  - batches of --batch queries per call (FAISS's BLAS sgemm path for nq >= 20): each batch's best of
    --passes runs, summed over the whole batches and divided by their queries.
The same timing method as Shoal's side of the benchmark.
Writes the single-query top-k row ids (int32, queries x k, best first) to --out-ids and prints one line
`PEER {json}`.

usage: faiss_flat.py --base FILE --queries FILE [--k 10] [--batch 64] [--passes 3] [--out-ids FILE]
"""
import argparse
import json
import os
import struct
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import faiss  # noqa: E402


def load(path):
    with open(path, "rb") as f:
        head = f.read(64)
    magic, version, dims, count, ids_offset, ids_length, rows_offset = struct.unpack_from("<8sIIQQQQ", head)
    if magic != b"SHOALVEC" or version != 1:
        sys.exit(f"{path}: not a SHOALVEC version 1 file")
    return np.memmap(path, dtype="<f4", mode="r", offset=rows_offset, shape=(count, dims))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--out-ids")
    args = ap.parse_args()
    faiss.omp_set_num_threads(1)

    xb = load(args.base)
    xq = np.ascontiguousarray(load(args.queries), dtype=np.float32)
    nq, d = xq.shape
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(d)
    index.add(np.ascontiguousarray(xb, dtype=np.float32))
    load_s = time.perf_counter() - t0
    del xb

    index.search(xq[:1], args.k)  # warm-up
    ids = np.empty((nq, args.k), dtype=np.int32)
    times = [float("inf")] * nq
    for _ in range(args.passes):
        for i in range(nq):
            t = time.perf_counter()
            _, labels = index.search(xq[i:i + 1], args.k)
            times[i] = min(times[i], time.perf_counter() - t)
            ids[i] = labels[0]
    flat_ms = 1e3 * sum(times) / nq

    batches = max(1, nq // args.batch)
    n = min(nq, batches * args.batch)
    index.search(xq[:min(nq, args.batch)], args.k)  # warm-up
    total = 0.0
    for b in range(batches):
        best = float("inf")
        for _ in range(args.passes):
            t = time.perf_counter()
            index.search(xq[b * args.batch:min(nq, (b + 1) * args.batch)], args.k)
            best = min(best, time.perf_counter() - t)
        total += best
    batch_ms = 1e3 * total / n

    if args.out_ids:
        ids.tofile(args.out_ids)
    opts = faiss.get_compile_options() if hasattr(faiss, "get_compile_options") else ""
    print("PEER " + json.dumps({
        "faiss_flat_ms": flat_ms,
        "faiss_flat_median_ms": 1e3 * float(np.median(times)),
        "faiss_batch_ms_per_query": batch_ms,
        "batch": args.batch,
        "passes": args.passes,
        "queries": nq,
        "load_s": load_s,
        "faiss_version": faiss.__version__,
        "faiss_compile_options": opts,
    }))


if __name__ == "__main__":
    main()
