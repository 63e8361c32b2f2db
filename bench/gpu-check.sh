#!/usr/bin/env bash
# One command for whoever has a CUDA GPU (issue 15): builds the GPU flavour of Shoal's encoders
# (-p:ShoalOnnxRuntime=Gpu, ONNX Runtime 1.32.0 with CUDA) in a separate copy of the tree, runs the
# encode benchmark on the real built-in model with "cuda-required" (never a silent CPU fallback)
# and then on the CPU with the same build, and prints
#   RESULT {"gpu_docs_per_s", "cpu_docs_per_s", "gpu_vs_cpu", "gpu_query_c16_per_s", "cpu_query_c16_per_s", "model", "docs"}
# Usage: bash bench/gpu-check.sh [--model arctic-xs] [--docs 1024]
# Needs: an NVIDIA driver and the CUDA 12 / cuDNN 9 libraries ONNX Runtime 1.32's CUDA provider
# loads, ../shared/data/scifact beside the repository, the .NET 10 SDK. Leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
model=arctic-xs
docs=1024
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --docs) docs=$2; shift 2 ;;
    *) echo "gpu-check: unknown argument $1 (use --model NAME --docs N)" >&2; exit 2 ;;
  esac
done
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no NVIDIA GPU here (nvidia-smi -L fails); nothing to measure" >&2
  exit 2
fi
nvidia-smi -L
[ -d "$root/../shared/data/scifact" ] || { echo "gpu-check: ../shared/data/scifact is missing" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A copy of the working tree (tracked and untracked files, not build outputs), so that the GPU
# build's obj/ and bin/ never mix with the CPU build here; ../shared resolves through a link.
mkdir -p "$work/repo"
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$work/repo"
ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"

echo "== building the GPU flavour"
dotnet build "$work/repo/bench/Shoal.Bench" -c Release -p:ShoalOnnxRuntime=Gpu -nologo -clp:ErrorsOnly
bench="$work/repo/bench/Shoal.Bench/bin/Release/net10.0/Shoal.Bench.dll"

run() {
  local provider=$1
  echo "== encode --model $model --provider $provider --docs $docs" >&2
  (cd "$work/repo" && dotnet "$bench" encode --model "$model" --provider "$provider" --docs "$docs" --seconds 5) | tee "$work/$provider.out" >&2
  grep '^RESULT ' "$work/$provider.out" | tail -1 | cut -c8-
}
gpu=$(run cuda-required)
cpu=$(run cpu)
python3 - "$gpu" "$cpu" "$model" "$docs" <<'PY'
import json, sys
gpu, cpu = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("RESULT " + json.dumps({
    "gpu_docs_per_s": gpu["bucketed_docs_per_s"],
    "cpu_docs_per_s": cpu["bucketed_docs_per_s"],
    "gpu_vs_cpu": round(gpu["bucketed_docs_per_s"] / cpu["bucketed_docs_per_s"], 2),
    "gpu_query_c16_per_s": gpu["query_c16_per_s"],
    "cpu_query_c16_per_s": cpu["query_c16_per_s"],
    "gpu_provider": gpu["execution_provider"],
    "model": sys.argv[3], "docs": int(sys.argv[4]),
}))
PY
