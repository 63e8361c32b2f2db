#!/usr/bin/python3
"""hnswlib peer for the dense-1M benchmark (see ../../../shared/docs/BENCHMARKS.md).

Reads the SHOALVEC files that Shoal's `dense` workload writes (format: README.md in this folder),
builds an hnswlib 'ip' index with the same M / ef_construction / seed as Shoal on --threads threads
(the build time is add_items alone, wall and process CPU seconds), then with set_num_threads(1) runs every query one at a time for
each ef of the sweep (one warm-up pass of 20 queries per ef; the best of --passes passes over all
queries counts, as on Shoal's side) and measures queries/s and recall@10 against the exact top-k
row ids in --truth (int32, queries x k, written by Shoal's exact search).
Prints one line `PEER {json}`.

usage: hnswlib_ann.py --base FILE --queries FILE --truth FILE [--k 10] [--m 16] [--efc 200]
                      [--threads 2] [--seed 42] [--ef 16,32,64] [--passes 3]
"""
import argparse
import json
import struct
import sys
import time

import numpy as np
import hnswlib


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
    ap.add_argument("--truth", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--ef", default="16,32,64,128")
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()

    xb = load(args.base)
    xq = np.ascontiguousarray(load(args.queries), dtype=np.float32)
    n, d = xb.shape
    nq = xq.shape[0]
    truth = np.fromfile(args.truth, dtype="<i4").reshape(nq, args.k)

    index = hnswlib.Index(space="ip", dim=d)
    index.init_index(max_elements=n, ef_construction=args.efc, M=args.m, random_seed=args.seed)
    index.set_num_threads(args.threads)
    t = time.perf_counter()
    cpu = time.process_time()
    index.add_items(xb, np.arange(n))
    build_s = time.perf_counter() - t
    build_cpu_s = time.process_time() - cpu
    del xb

    index.set_num_threads(1)
    sweep = []
    for ef in [int(e) for e in args.ef.split(",")]:
        index.set_ef(max(ef, args.k))
        for i in range(min(nq, 20)):
            index.knn_query(xq[i:i + 1], k=args.k)
        got = np.empty((nq, args.k), dtype=np.int64)
        seconds = float("inf")
        for _ in range(args.passes):
            t = time.perf_counter()
            for i in range(nq):
                labels, _ = index.knn_query(xq[i:i + 1], k=args.k)
                got[i] = labels[0]
            seconds = min(seconds, time.perf_counter() - t)
        found = sum(len(set(got[i].tolist()) & set(truth[i].tolist())) for i in range(nq))
        sweep.append({"ef": ef, "qps": nq / seconds, "recall": found / (nq * args.k)})
        print(f"hnswlib ef {ef}: {nq / seconds:.0f} qps, recall@{args.k} {found / (nq * args.k):.4f}", file=sys.stderr)

    print("PEER " + json.dumps({
        "hnswlib_build_s": build_s,
        "hnswlib_build_cpu_s": build_cpu_s,
        "threads": args.threads,
        "M": args.m,
        "ef_construction": args.efc,
        "passes": args.passes,
        "sweep": sweep,
    }))


if __name__ == "__main__":
    main()
