#!/usr/bin/env bash
# CI check (issue 15): the GPU flavour of ONNX Runtime (-p:ShoalOnnxRuntime=Gpu) restores and
# compiles (build only: no GPU here). It builds a copy of the committed tree in a temporary
# directory, so its obj/ and bin/ (restored against Microsoft.ML.OnnxRuntime.Gpu) never mix with
# the CPU build of this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q --no-hardlinks "$root" "$work/repo"
# ../shared is referenced by tests at run time only; the build does not need it.
echo "== GPU flavour build (ShoalOnnxRuntime=Gpu)"
dotnet build "$work/repo/tests/Shoal.Encoders.Tests" -c Release -p:ShoalOnnxRuntime=Gpu -nologo -clp:ErrorsOnly
ls "$work/repo/tests/Shoal.Encoders.Tests/bin/Release/net10.0/" | grep -E '^Microsoft\.ML\.OnnxRuntime\.dll$' >/dev/null
find "$work/repo/tests/Shoal.Encoders.Tests/bin/Release/net10.0/runtimes" -name 'libonnxruntime_providers_cuda.so' | grep -q . \
  || { echo "ci/models: the GPU flavour's output has no CUDA execution provider library" >&2; exit 1; }
echo "GPU flavour builds (CUDA provider library present)"
