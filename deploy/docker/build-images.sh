#!/usr/bin/env bash
# Builds Shoal's images (silo, gateway, cli) from this repository with deploy/docker/Dockerfile.
#   bash deploy/docker/build-images.sh [--tag 0.1.0] [--base IMAGE] [--cuda-base IMAGE] [--prebuilt]
#                                      [--roles "silo gateway cli silo-cuda"] [--engine podman|docker]
# Default: everything happens inside the build (the SDK image publishes the apps); pulls the
# public .NET images. --prebuilt runs `dotnet publish` here instead (self-contained linux-x64)
# and hands the output to the same Dockerfile (PUBLISHED build argument), so no SDK image is
# needed: with --base localhost/shoal-base:bookworm (deploy/docker/make-base.sh) nothing is
# pulled from a registry at all. Images: localhost/shoal-ROLE:TAG for each of --roles (default
# silo gateway cli). Role silo-cuda is the silo with ONNX Runtime's CUDA build: with --prebuilt it
# is published here with -p:ShoalOnnxRuntime=Gpu (its own output and obj folders, so the CPU build
# of this checkout is left alone; .scratch/cuda-artifacts is kept, so a later publish is incremental)
# and handed over through PUBLISHED_CUDA. Its base is --cuda-base,
# else --base when given, else the Dockerfile's nvidia/cuda default (see docs/deploy.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=0.1.0 base= cuda_base= prebuilt=0 engine=${SHOAL_CONTAINER_ENGINE:-podman} roles="silo gateway cli"
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --cuda-base) cuda_base=$2; shift 2 ;;
    --prebuilt) prebuilt=1; shift ;;
    --engine) engine=$2; shift 2 ;;
    --roles) roles=$2; shift 2 ;;
    *) echo "build-images: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for role in $roles; do
  case "$role" in silo|gateway|cli|silo-cuda) ;; *) echo "build-images: unknown role '$role' (silo, gateway, cli, silo-cuda)" >&2; exit 2 ;; esac
done
if [ "$engine" = podman ]; then cli=(podman --runtime "${SHOAL_OCI_RUNTIME:-runc}"); else cli=("$engine"); fi
args=()
[ -n "$base" ] && args+=(--build-arg "BASE_IMAGE=$base")
cuda_base=${cuda_base:-$base}
[ -n "$cuda_base" ] && args+=(--build-arg "CUDA_BASE_IMAGE=$cuda_base")

# Puts a folder holding out/ into a small image (the layout the Dockerfile's publish stages make).
published_image() { # published_image DIR IMAGE
  printf 'FROM %s\nCOPY out /out\n' "${base:-mcr.microsoft.com/dotnet/runtime-deps:10.0}" > "$1/Containerfile"
  "${cli[@]}" build -q -t "$2" "$1" >/dev/null
}
if [ "$prebuilt" = 1 ]; then
  out=.scratch/publish
  rm -rf "$out" && mkdir -p "$out/out"
  declare -A project=([silo]=src/Silo [gateway]=src/Gateway [cli]=src/Client/Shoal.Cli)
  cpu=0
  for role in $roles; do
    start=$SECONDS
    if [ "$role" = silo-cuda ]; then
      # Restored against Microsoft.ML.OnnxRuntime.Gpu: obj/ and bin/ under .scratch/cuda-artifacts,
      # never mixed with this checkout's CPU obj/.
      rm -rf .scratch/publish-cuda && mkdir -p .scratch/publish-cuda/out
      dotnet publish src/Silo -c Release -r linux-x64 --self-contained -p:ShoalOnnxRuntime=Gpu \
        --artifacts-path .scratch/cuda-artifacts -nologo -clp:ErrorsOnly -o .scratch/publish-cuda/out/silo >/dev/null
      ls .scratch/publish-cuda/out/silo/libonnxruntime_providers_cuda.so >/dev/null \
        || { echo "build-images: the CUDA publish has no libonnxruntime_providers_cuda.so" >&2; exit 1; }
      echo "published silo-cuda in $((SECONDS - start)) s ($(du -sm .scratch/publish-cuda/out/silo | cut -f1) MB)"
      published_image .scratch/publish-cuda "localhost/shoal-published-cuda:$tag"
      args+=(--build-arg "PUBLISHED_CUDA=localhost/shoal-published-cuda:$tag")
      continue
    fi
    dotnet publish "${project[$role]}" -c Release -r linux-x64 --self-contained -nologo -clp:ErrorsOnly -o "$out/out/$role" >/dev/null
    echo "published $role in $((SECONDS - start)) s ($(du -sm "$out/out/$role" | cut -f1) MB)"
    cpu=1
  done
  if [ "$cpu" = 1 ]; then
    published_image "$out" "localhost/shoal-published:$tag"
    args+=(--build-arg "PUBLISHED=localhost/shoal-published:$tag")
  fi
fi
for role in $roles; do
  start=$SECONDS
  "${cli[@]}" build -q "${args[@]}" --target "$role" -t "localhost/shoal-$role:$tag" -f deploy/docker/Dockerfile . >/dev/null
  echo "built localhost/shoal-$role:$tag ($((SECONDS - start)) s)"
done
if [ "$prebuilt" = 1 ]; then
  "${cli[@]}" rmi -f "localhost/shoal-published:$tag" "localhost/shoal-published-cuda:$tag" >/dev/null 2>&1 || true
  rm -rf .scratch/publish .scratch/publish-cuda
fi
