#!/usr/bin/env bash
# Builds Shoal's images (silo, gateway, cli) from this repository with deploy/docker/Dockerfile.
#   bash deploy/docker/build-images.sh [--tag 0.1.0] [--base IMAGE] [--prebuilt] [--engine podman|docker]
# Default: everything happens inside the build (the SDK image publishes the apps); pulls the
# public .NET images. --prebuilt runs `dotnet publish` here instead (self-contained linux-x64)
# and hands the output to the same Dockerfile (PUBLISHED build argument), so no SDK image is
# needed: with --base localhost/shoal-base:bookworm (deploy/docker/make-base.sh) nothing is
# pulled from a registry at all. Images: localhost/shoal-{silo,gateway,cli}:TAG.
# The CUDA silo (target silo-cuda) is built on its own: see docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=0.1.0 base= prebuilt=0 engine=${SHOAL_CONTAINER_ENGINE:-podman} roles="silo gateway cli"
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --prebuilt) prebuilt=1; shift ;;
    --engine) engine=$2; shift 2 ;;
    --roles) roles=$2; shift 2 ;;
    *) echo "build-images: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [ "$engine" = podman ]; then cli=(podman --runtime "${SHOAL_OCI_RUNTIME:-runc}"); else cli=("$engine"); fi
args=()
[ -n "$base" ] && args+=(--build-arg "BASE_IMAGE=$base")

if [ "$prebuilt" = 1 ]; then
  out=.scratch/publish
  rm -rf "$out" && mkdir -p "$out/out"
  declare -A project=([silo]=src/Silo [gateway]=src/Gateway [cli]=src/Client/Shoal.Cli)
  for role in $roles; do
    start=$SECONDS
    dotnet publish "${project[$role]}" -c Release -r linux-x64 --self-contained -nologo -clp:ErrorsOnly -o "$out/out/$role" >/dev/null
    echo "published $role in $((SECONDS - start)) s ($(du -sm "$out/out/$role" | cut -f1) MB)"
  done
  # A small image holding /out, the layout the Dockerfile's publish stage produces.
  printf 'FROM %s\nCOPY out /out\n' "${base:-mcr.microsoft.com/dotnet/runtime-deps:10.0}" > "$out/Containerfile"
  "${cli[@]}" build -q -t "localhost/shoal-published:$tag" "$out" >/dev/null
  args+=(--build-arg "PUBLISHED=localhost/shoal-published:$tag")
fi
for role in $roles; do
  "${cli[@]}" build -q "${args[@]}" --target "$role" -t "localhost/shoal-$role:$tag" -f deploy/docker/Dockerfile . >/dev/null
  echo "built localhost/shoal-$role:$tag"
done
if [ "$prebuilt" = 1 ]; then
  "${cli[@]}" rmi -f "localhost/shoal-published:$tag" >/dev/null 2>&1 || true
  rm -rf .scratch/publish
fi
