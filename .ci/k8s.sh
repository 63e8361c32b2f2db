#!/usr/bin/env bash
# Deployment test with real containers (issue 16). Renders deploy/k8s/overlays/local and the two
# Job kustomizations, builds Shoal's images from this repository on a registry-free Debian base,
# plays the manifests with `podman kube play` (through deploy/podman/kube-to-podman.py: one Pod per
# replica on the host network; see README "Kubernetes" for what this covers and what it does not),
# waits for the declared probes, runs the indexing Job (SciFact through the gateway), searches,
# runs the load-test Job, stops one of the two silos gracefully (SIGTERM) and checks that searches
# keep every shard during its hand-over, brings it back until the replicas are spread again, kills
# it (SIGKILL) and checks that searches still answer, then tears everything down. Also checks that the manifests name only settings the binaries read
# (tests/Shoal.Deploy.Tests), that a silo refuses a misspelt one, and that the CUDA silo image
# (silo-cuda, built on the same base: no CUDA base image can be pulled here) starts and refuses to
# encode on the CPU when an encoder requires CUDA.
#   bash .ci/k8s.sh            (root, Debian 12; ../shared/data/scifact beside the repository)
# Environment: SHOAL_BASE_CACHE (default /var/cache/shoal-k8s) caches the debootstrap base.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
start_all=$SECONDS
step() { echo "== k8s: $* ($((SECONDS - start_all)) s)"; }

data=$(cd ../shared/data 2>/dev/null && pwd) || { echo "k8s: ../shared/data is missing" >&2; exit 1; }
[ -f "$data/scifact/corpus.jsonl" ] || { echo "k8s: $data/scifact/corpus.jsonl is missing" >&2; exit 1; }

step "prerequisites"
need=()
for tool in podman:podman runc:runc debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v azurite-blob >/dev/null 2>&1 || npm install -g --no-audit --no-fund azurite@3 >/dev/null
command -v kubectl >/dev/null 2>&1 || { echo "k8s: kubectl (with kustomize) is required" >&2; exit 1; }

work=$(mktemp -d /tmp/shoal-k8s.XXXXXX)
# crun fails on this machine's hybrid cgroups; podman's default ulimits are refused here.
printf '[containers]\ndefault_ulimits = []\n' > "$work/containers.conf"
export CONTAINERS_CONF=$work/containers.conf
podman=(podman --runtime runc)
pods=()
cleanup() {
  status=$?
  set +e
  if [ "$status" -ne 0 ]; then
    for p in "${pods[@]}"; do
      for c in $("${podman[@]}" ps -a --filter "pod=$p" --format '{{.Names}}' 2>/dev/null | grep -v -- '-infra$'); do
        echo "--- logs of $c (last 40 lines)"; "${podman[@]}" logs --tail 40 "$c" 2>&1 | tr '\r' '\n' | tail -40
      done
    done
  fi
  for p in "${pods[@]}"; do "${podman[@]}" pod rm -f -t 5 "$p" >/dev/null 2>&1; done
  "${podman[@]}" rm -f shoal-settings-check shoal-cuda-check >/dev/null 2>&1
  rm -rf "$work"
  echo "k8s: torn down ($((SECONDS - start_all)) s in all)"
  exit "$status"
}
trap cleanup EXIT

step "schema and settings checks of every rendered object (tests/Shoal.Deploy.Tests)"
# Before the RID-specific publish below, which restores the shared projects for linux-x64.
if [ "${SHOAL_K8S_SKIP_DEPLOY_TESTS:-0}" = 1 ]; then
  echo "skipped (SHOAL_K8S_SKIP_DEPLOY_TESTS=1, for iterating on the container part)"
elif ! dotnet test tests/Shoal.Deploy.Tests -c Release -nologo > "$work/deploy-tests.log" 2>&1; then
  tail -60 "$work/deploy-tests.log" >&2; echo "k8s: tests/Shoal.Deploy.Tests failed" >&2; exit 1
else
  grep -E "Passed!|Failed!" "$work/deploy-tests.log" || tail -5 "$work/deploy-tests.log"
fi

step "base image (debootstrap, cached in ${SHOAL_BASE_CACHE:-/var/cache/shoal-k8s})"
bash deploy/docker/make-base.sh

step "Shoal images from this repository (dotnet publish here, deploy/docker/Dockerfile)"
if [ "${SHOAL_K8S_REUSE_IMAGES:-0}" = 1 ] && "${podman[@]}" image exists localhost/shoal-silo:0.1.0 \
   && "${podman[@]}" image exists localhost/shoal-gateway:0.1.0 && "${podman[@]}" image exists localhost/shoal-cli:0.1.0; then
  echo "reusing the existing localhost/shoal-{silo,gateway,cli}:0.1.0 (SHOAL_K8S_REUSE_IMAGES=1)"
else
  bash deploy/docker/build-images.sh --prebuilt --base localhost/shoal-base:bookworm --tag 0.1.0
fi

step "stand-ins for the public Redis and Azurite images (no registry here)"
# Same programs and command lines as the manifests use, from this machine's Debian redis-server
# and npm azurite, on the same base image.
deps=$work/deps
mkdir -p "$deps/redis/lib" "$deps/azurite"
cp "$(command -v redis-server)" "$deps/redis/redis-server"
ldd "$(command -v redis-server)" | awk '/=> \//{print $3}' | while read -r lib; do
  case "$(basename "$lib")" in libc.so*|libm.so*|ld-linux*|libstdc++*|libgcc_s*) ;; *) cp -L "$lib" "$deps/redis/lib/" ;; esac
done
cat > "$deps/redis/Containerfile" <<'EOF'
FROM localhost/shoal-base:bookworm
COPY lib /usr/local/lib/redis
COPY redis-server /usr/local/bin/redis-server
ENV LD_LIBRARY_PATH=/usr/local/lib/redis
WORKDIR /data
EOF
"${podman[@]}" build -q -t localhost/shoal-test-redis:ci "$deps/redis" >/dev/null
azurite_dir=$(npm root -g)/azurite
cp -al "$azurite_dir" "$deps/azurite/azurite" 2>/dev/null || cp -a "$azurite_dir" "$deps/azurite/azurite"
cp "$(readlink -f "$(command -v node)")" "$deps/azurite/node"
cat > "$deps/azurite/Containerfile" <<'EOF'
FROM localhost/shoal-base:bookworm
COPY node /usr/local/bin/node
COPY azurite /opt/azurite
RUN ln -s /opt/azurite/dist/src/blob/main.js /usr/local/bin/azurite-blob
WORKDIR /data
EOF
"${podman[@]}" build -q -t localhost/shoal-test-azurite:ci "$deps/azurite" >/dev/null

step "the silo image refuses a misspelt setting, on the command line and in the environment"
for bad in "--SiloPrt 11111" "-e Shoal__KeepVersion=3"; do
  if [ "${bad:0:2}" = "-e" ]; then out=$("${podman[@]}" run --rm --name shoal-settings-check ${bad} localhost/shoal-silo:0.1.0 2>&1) && rc=0 || rc=$?
  else out=$("${podman[@]}" run --rm --name shoal-settings-check localhost/shoal-silo:0.1.0 ${bad} 2>&1) && rc=0 || rc=$?; fi
  if [ "$rc" -ne 2 ] || ! grep -q "unknown setting" <<<"$out"; then
    echo "k8s: the silo image accepted the misspelt setting '$bad' (exit $rc): $out" >&2; exit 1
  fi
  echo "  silo refuses '$bad': $(head -1 <<<"$out")"
done

step "the CUDA silo image (silo-cuda) on the local base: it starts and refuses to run on the CPU"
# No CUDA base image (nvidia/cuda) can be pulled here and there is no GPU, so silo-cuda is built
# with ONNX Runtime's CUDA build (-p:ShoalOnnxRuntime=Gpu) on the Debian base instead, and run once
# with an encoder that requires CUDA: it must stop at start-up naming cuda-required, not serve.
if [ "${SHOAL_K8S_REUSE_IMAGES:-0}" = 1 ] && "${podman[@]}" image exists localhost/shoal-silo-cuda:0.1.0; then
  echo "reusing the existing localhost/shoal-silo-cuda:0.1.0 (SHOAL_K8S_REUSE_IMAGES=1)"
else
  bash deploy/docker/build-images.sh --prebuilt --roles silo-cuda --base localhost/shoal-base:bookworm --tag 0.1.0
fi
cuda_start=$SECONDS
out=$(timeout 180 "${podman[@]}" run --rm --name shoal-cuda-check --read-only --tmpfs /tmp --tmpfs /var/lib/shoal \
  -v "$repo/tests/fixtures/models:/models:ro" -v "$data/tokenizers:/vocab:ro" \
  -e Shoal__Roles=encoder -e Shoal__Encoders__gpu__Kind=dense \
  -e Shoal__Encoders__gpu__ModelPath=/models/dense-tiny.onnx -e Shoal__Encoders__gpu__VocabPath=/vocab/bert-base-uncased-vocab.txt \
  -e Shoal__Encoders__gpu__ExecutionProvider=cuda-required localhost/shoal-silo-cuda:0.1.0 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ] || ! grep -q 'Execution provider "cuda-required"' <<<"$out"; then
  echo "k8s: the CUDA silo image did not refuse to run without CUDA (exit $rc after $((SECONDS - cuda_start)) s):" >&2
  tail -30 <<<"$out" >&2; exit 1
fi
echo "  silo-cuda stopped in $((SECONDS - cuda_start)) s with exit $rc: $(grep -o 'Execution provider "cuda-required".*' <<<"$out" | head -1 | cut -c1-240)"

step "render the local overlay and the Jobs"
kubectl kustomize deploy/k8s/overlays/local > "$work/local.yaml"
# The gateway's API key, as the overlay's Secret holds it (the Jobs read the same Secret).
api_key=$(python3 -c '
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "Secret" and doc["metadata"]["name"] == "shoal-api-key":
        print(doc["stringData"]["key"])' "$work/local.yaml")
[ -n "$api_key" ] || { echo "k8s: the local overlay has no shoal-api-key Secret" >&2; exit 1; }
kubectl kustomize deploy/k8s/jobs/index > "$work/index.yaml"
kubectl kustomize deploy/k8s/jobs/loadtest > "$work/loadtest.yaml"
python3 deploy/podman/kube-to-podman.py "$work/local.yaml" "$work/index.yaml" "$work/loadtest.yaml" \
  --out "$work/play" --state-dir "$work/state" --host-path-map "/var/lib/shoal-corpora=$data" \
  --image-map docker.io/library/redis:7.4.2-bookworm=localhost/shoal-test-redis:ci \
  --image-map mcr.microsoft.com/azure-storage/azurite:3.35.0=localhost/shoal-test-azurite:ci
plan=$work/play/plan.json
port_of() { python3 -c "import json,sys; p={x['pod']:x for x in json.load(open('$plan'))}['$1']; print(p['containers'][0]['ports']['$2'])"; }

play() {
  for p in "$@"; do
    pods+=("$p")
    "${podman[@]}" kube play --quiet "$work/play/$p.yaml" >/dev/null
  done
}

step "play redis and azurite"
play redis-0 azurite-0
python3 deploy/podman/wait-ready.py "$plan" redis-0 azurite-0

step "play 2 silos"
play shoal-silo-0 shoal-silo-1
python3 deploy/podman/wait-ready.py "$plan" shoal-silo-0 shoal-silo-1

step "play the gateway"
play shoal-gateway-0
python3 deploy/podman/wait-ready.py "$plan" shoal-gateway-0
gateway="http://127.0.0.1:$(port_of shoal-gateway-0 8080)"

run_job() {
  local job=$1 limit=$2
  play "$job"
  local deadline=$((SECONDS + limit)) state
  while state=$("${podman[@]}" inspect --format '{{.State.Status}}' "$job-shoal" 2>/dev/null) && [ "$state" != exited ]; do
    [ $SECONDS -lt $deadline ] || { echo "k8s: job $job still $state after $limit s" >&2; return 1; }
    sleep 2
  done
  local rc
  rc=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' "$job-shoal")
  "${podman[@]}" logs "$job-shoal" 2>&1 | tr '\r' '\n' > "$work/$job.log"
  grep -v '^\[' "$work/$job.log" | tail -8
  [ "$rc" = 0 ] || { echo "k8s: job $job exited $rc" >&2; cat "$work/$job.log" >&2; return 1; }
}

search() { # search TEXT [KEY]: prints the HTTP status
  curl -s --max-time 120 -o "$work/search.json" -w '%{http_code}' "$gateway/v1/indexes/scifact/search" \
    -H 'content-type: application/json' -H "X-Api-Key: ${2-$api_key}" -d "{\"text\": \"$1\", \"k\": 5}"
}
check_search() {
  python3 - "$work/search.json" "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
c = r["coverage"]
assert r["hits"], f"no hits: {r}"
full = c["answered"] == c["shards"] and not c["partial"]
if sys.argv[2] == "full":
    assert full, f"partial answer: {c}"
print(f"    {len(r['hits'])} hits, top {r['hits'][0]['id']} ({r['hits'][0]['score']:.2f}), shards {c['answered']}/{c['shards']}, {r['tookMs']} ms")
EOF
}

step "indexing Job: shoal jobs submit (SciFact, 4 shards x 2 replicas) through the gateway"
run_job shoal-index 600

step "search through the gateway"
code=$(search "vitamin D deficiency and bone fractures")
[ "$code" = 200 ] || { echo "k8s: search answered $code: $(cat "$work/search.json")" >&2; exit 1; }
check_search full
code=$(search "vitamin D deficiency and bone fractures" "")
[ "$code" = 401 ] || { echo "k8s: a search without the API key answered $code, not 401" >&2; exit 1; }
echo "    without the API key: 401"

step "load-test Job: shoal loadtest"
run_job shoal-loadtest 300
python3 - "$work/shoal-loadtest.log" <<'EOF'
import json, sys
line = [l for l in open(sys.argv[1]) if l.startswith("RESULT ")][-1]
r = json.loads(line[len("RESULT "):])
print("  " + line.strip())
errors = r.get("errors", 0)
assert errors == 0, f"load test had {errors} errors"
EOF

step "graceful stop of silo shoal-silo-1 (SIGTERM, 60 s as the pod's grace period) while searching"
# What a rolling update or a scale-down does: the silo moves its replicas to shoal-silo-0 (drain),
# deactivates and leaves. Searches sent throughout must answer with every shard (a 503 is retried
# as the SDK does, and counted).
stop_start=$SECONDS
"${podman[@]}" pod stop -t 60 shoal-silo-1 >/dev/null &
stopper=$!
n=0 full=0 partial=0 retried=0
while kill -0 "$stopper" 2>/dev/null || [ "$n" -lt 10 ]; do
  n=$((n + 1))
  for attempt in 1 2 3 4; do
    code=$(search "graceful hand-over of a silo $n")
    [ "$code" = 503 ] && [ "$attempt" -lt 4 ] || break
    retried=$((retried + 1)); echo "    search $n: 503, retrying"; sleep 1
  done
  [ "$code" = 200 ] || { echo "k8s: search $n during the graceful stop answered $code: $(cat "$work/search.json")" >&2; exit 1; }
  if check_search full >/dev/null 2>&1; then full=$((full + 1)); else partial=$((partial + 1)); check_search any; fi
  sleep 0.5
done
wait "$stopper" || { echo "k8s: podman pod stop -t 60 shoal-silo-1 failed" >&2; exit 1; }
stop_s=$((SECONDS - stop_start))
silo_rc=$("${podman[@]}" inspect --format '{{.State.ExitCode}}' shoal-silo-1-silo)
echo "  graceful stop took $stop_s s (silo exit code $silo_rc); $n searches meanwhile: $full with every shard, $partial partial, $retried retries after 503"
[ "$silo_rc" != 137 ] || { echo "k8s: the silo did not stop within its 60 s grace period (SIGKILLed)" >&2; exit 1; }
[ "$partial" -eq 0 ] || { echo "k8s: $partial searches lost shards during a graceful stop" >&2; exit 1; }

step "shoal-silo-1 back (pod replayed on its volumes) and the replicas spread over both silos again"
"${podman[@]}" pod rm -f -t 0 shoal-silo-1 >/dev/null
play shoal-silo-1
python3 deploy/podman/wait-ready.py "$plan" shoal-silo-1
back=$(date -u +%s)
deadline=$((SECONDS + 180))
until curl -s --max-time 30 -o "$work/index.json" -H "X-Api-Key: $api_key" "$gateway/v1/indexes/scifact" \
      && python3 - "$work/index.json" "$back" <<'EOF'
import json, sys
from datetime import datetime
p = (json.load(open(sys.argv[1])).get("placement")) or {}
observed = p.get("observedUtc")
fresh = observed is not None and datetime.fromisoformat(observed.replace("Z", "+00:00")).timestamp() > int(sys.argv[2])
silos = {r["silo"] for r in p.get("replicas", [])}
sys.exit(0 if fresh and p.get("balanced") and len(silos) == 2 else 1)
EOF
do
  [ $SECONDS -lt $deadline ] || { echo "k8s: replicas not spread over both silos 180 s after shoal-silo-1 came back: $(cat "$work/index.json")" >&2; exit 1; }
  sleep 3
done
echo "  placement balanced over 2 silos $((SECONDS - deadline + 180)) s after shoal-silo-1 was ready"

step "kill silo shoal-silo-1 (SIGKILL, pod removed) and search again"
"${podman[@]}" pod rm -f -t 0 shoal-silo-1 >/dev/null
# A client retries 503 (Retry-After) as the SDK does; anything else fails the test.
full=0 partial=0 retried=0
for i in $(seq 1 20); do
  for attempt in 1 2 3 4; do
    code=$(search "coffee consumption and heart disease $i")
    [ "$code" = 503 ] && [ "$attempt" -lt 4 ] || break
    retried=$((retried + 1)); echo "    search $i: 503 ($(python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get('detail',''))" "$work/search.json")), retrying"; sleep 1
  done
  [ "$code" = 200 ] || { echo "k8s: search $i after the kill answered $code: $(cat "$work/search.json")" >&2; exit 1; }
  if check_search full >/dev/null 2>&1; then full=$((full + 1)); else partial=$((partial + 1)); check_search any; fi
  sleep 0.5
done
echo "  after the kill: 20/20 searches answered ($retried retries after 503), $full with every shard, $partial partial"
[ "$full" -ge 18 ] || { echo "k8s: too many partial answers after losing one of two silos" >&2; exit 1; }
code=$(search "vitamin D deficiency and bone fractures")
[ "$code" = 200 ] || { echo "k8s: final search answered $code" >&2; exit 1; }
check_search full

step "done: deployment test passed"
