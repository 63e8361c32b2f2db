#!/usr/bin/env bash
# Installs the peers the benchmarks measure Shoal beside (Debian packages), with an optimised BLAS:
# without libopenblas0-pthread, numpy and FAISS fall back to the reference BLAS (measured: sgemm at
# 6 GFLOP/s on a 2-core AMD EPYC VM), and every BLAS-backed peer figure would flatter Shoal.
# usage: bash bench/peers/install.sh
set -euo pipefail
sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq python3-numpy python3-scipy python3-faiss python3-hnswlib python3-xapian libopenblas0-pthread >/dev/null
/usr/bin/python3 - <<'PY'
import numpy, scipy, faiss, hnswlib, xapian
print("peers ready: numpy", numpy.__version__, "scipy", scipy.__version__, "faiss", faiss.__version__, "xapian", xapian.version_string())
PY
OPENBLAS_NUM_THREADS=$(nproc) /usr/bin/python3 "$(dirname "$0")/numpy_sgemm.py" --n 1024 --seconds 1 | tail -1
