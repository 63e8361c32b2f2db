#!/usr/bin/python3
"""SciPy peer for the sparse-1M benchmark (see ../../../shared/docs/BENCHMARKS.md).

Reads the documents and queries that Shoal's `sparse` workload writes (format: README.md in this
folder), quantises document weights exactly as Shoal does (level = round-half-even(w / max * 255),
clipped to 1..255, with the documents' max weight), builds a CSC matrix (docs x terms), and for each
query gathers the query's columns and accumulates them (`X[:, cols] @ weights`), then takes the
top-k with argpartition. One thread (run with OPENBLAS_NUM_THREADS=1). Prints one line
`PEER {json}`: mean/median ms per query, load seconds, and each query's top-k row ids (best first).

usage: scipy_sparse.py --docs FILE --queries FILE [--k 10]
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import scipy.sparse as sp

HEADER = 128


def read_csr(path, magic):
    with open(path, "rb") as f:
        head = f.read(HEADER)
    if head[:8] != magic:
        sys.exit(f"{path}: not a {magic.decode()} file")
    version, vocab, rows, nnz, _seed, max_weight = struct.unpack_from("<IIqqqf", head, 8)
    if version != 1:
        sys.exit(f"{path}: unsupported version {version}")
    offset = HEADER
    indptr = np.fromfile(path, dtype="<i8", count=rows + 1, offset=offset)
    offset += 8 * (rows + 1)
    indices = np.fromfile(path, dtype="<i4", count=nnz, offset=offset)
    offset += 4 * nnz
    data = np.fromfile(path, dtype="<f4", count=nnz, offset=offset)
    return indptr, indices, data, vocab, rows, max_weight


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    k = args.k

    t0 = time.perf_counter()
    indptr, indices, data, vocab, rows, max_weight = read_csr(args.docs, b"SHSPDOC1")
    levels = np.clip(np.rint(data.astype(np.float64) / np.float64(max_weight) * 255.0), 1, 255).astype(np.float32)
    del data
    csr = sp.csr_matrix((levels, indices, indptr), shape=(rows, vocab))
    del levels, indices, indptr
    X = csr.tocsc()
    del csr
    X.sort_indices()
    load_s = time.perf_counter() - t0

    q_indptr, q_indices, q_data, _, q_rows, _ = read_csr(args.queries, b"SHSPQRY1")
    queries = [(q_indices[q_indptr[i]:q_indptr[i + 1]].astype(np.int64), q_data[q_indptr[i]:q_indptr[i + 1]])
               for i in range(q_rows)]

    def search(cols, weights):
        sub = X[:, cols]
        scores = sub @ weights
        kk = min(k, scores.shape[0])
        top = np.argpartition(-scores, kk - 1)[:kk]
        # Best first; equal scores by lower row id (Shoal's tie-break).
        order = np.lexsort((top, -scores[top]))
        top = top[order]
        return top[scores[top] > 0]

    for cols, weights in queries[: min(10, len(queries))]:  # warm-up
        search(cols, weights)
    times = []
    tops = []
    for cols, weights in queries:
        t = time.perf_counter()
        top = search(cols, weights)
        times.append((time.perf_counter() - t) * 1000.0)
        tops.append([int(x) for x in top])
    print("PEER " + json.dumps({
        "peer": "scipy " + __import__("scipy").__version__,
        "mean_ms": float(np.mean(times)),
        "median_ms": float(np.median(times)),
        "load_s": load_s,
        "queries": len(times),
        "top": tops,
    }))


if __name__ == "__main__":
    main()
