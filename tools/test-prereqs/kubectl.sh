# Sourced by test.sh: the deployment tests (tests/Shoal.Deploy.Tests) render deploy/k8s with
# `kubectl kustomize`. Installs kubectl from apt (Debian's kubernetes-client) when absent, then
# checks that its kustomize renders every kustomization the tests render (components, labels and
# patches need kustomize v4+, i.e. kubectl 1.21+); fails here, before the build, with what to do
# rather than letting every deployment test fail.
if ! command -v kubectl >/dev/null 2>&1; then
  echo "installing kubectl (apt: kubernetes-client)"
  apt_install kubernetes-client || true
fi
if ! command -v kubectl >/dev/null 2>&1; then
  echo "test.sh: kubectl is needed by the deployment tests (kubectl kustomize deploy/k8s/...) and could not be installed" >&2
  echo "  from apt (kubernetes-client). Install kubectl 1.21 or later (https://kubernetes.io/docs/tasks/tools/) and run again." >&2
  exit 1
fi
for k in deploy/k8s/overlays/* deploy/k8s/jobs/*; do
  [ -f "$k/kustomization.yaml" ] || continue
  if ! kubectl kustomize "$k" >/dev/null 2>"${TMPDIR:-/tmp}/shoal-kustomize.err"; then
    echo "test.sh: 'kubectl kustomize $k' fails with $(command -v kubectl) ($(kubectl version --client 2>/dev/null | head -1)):" >&2
    sed 's/^/  /' "${TMPDIR:-/tmp}/shoal-kustomize.err" >&2
    echo "  The deployment tests need kubectl 1.21 or later (kustomize v4+); install a current kubectl" >&2
    echo "  (https://kubernetes.io/docs/tasks/tools/) first on PATH and run again." >&2
    rm -f "${TMPDIR:-/tmp}/shoal-kustomize.err"
    exit 1
  fi
done
rm -f "${TMPDIR:-/tmp}/shoal-kustomize.err"
kubectl version --client 2>/dev/null | head -2
