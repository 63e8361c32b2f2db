#!/usr/bin/env bash
# Makes a Debian 12 base image for Shoal without pulling from a container registry:
# debootstrap from the Debian mirror apt already uses, plus the native libraries a self-contained
# .NET app needs (OpenSSL, ICU, libstdc++, CA certificates), imported into podman as
#   localhost/shoal-base:bookworm
# The root filesystem tarball is cached (SHOAL_BASE_CACHE, default /var/cache/shoal-k8s) so later
# runs on the same machine import it in seconds; a fresh machine builds it (about 70-90 s).
#   bash deploy/docker/make-base.sh            # uses podman with the runc runtime
set -euo pipefail
cache=${SHOAL_BASE_CACHE:-/var/cache/shoal-k8s}
image=${SHOAL_BASE_IMAGE:-localhost/shoal-base:bookworm}
podman=(podman --runtime "${SHOAL_OCI_RUNTIME:-runc}")
packages="libssl3 ca-certificates libicu72 libstdc++6 tzdata"
tarball="$cache/shoal-base-bookworm.tar"
stamp="$cache/shoal-base-bookworm.packages"

if "${podman[@]}" image exists "$image" && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$packages" ]; then
  echo "base image $image present"; exit 0
fi
mkdir -p "$cache"
if [ ! -s "$tarball" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$packages" ]; then
  command -v debootstrap >/dev/null || { echo "make-base: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
  mirror=${SHOAL_DEBIAN_MIRROR:-$(grep -rhoE '^(deb|URIs:) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
            | head -1 | grep -oE 'https?://[^ ]+' || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "debootstrap bookworm from $mirror (cached afterwards in $cache)"
  start=$SECONDS
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  chroot "$rootfs" /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*"
  tar -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  echo "$packages" >"$stamp"
  echo "base root filesystem built in $((SECONDS - start)) s"
fi
"${podman[@]}" import --quiet "$tarball" "$image" >/dev/null
echo "base image $image imported from $tarball"
