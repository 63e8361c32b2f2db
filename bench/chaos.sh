#!/usr/bin/env bash
# Chaos under load, measured. Starts redis-server (membership, append-only file so a restart keeps
# the table), Azurite (blob snapshot store), 3 silo processes (src/Silo) and a client-mode gateway
# on loopback, builds SciFact into 6 shards with replicas 2, then drives an open-loop
# `shoal loadtest` at a fixed rate while a writer (bench/chaos/writer.py) sends acknowledged
# upserts and deletes, and injects faults in phases:
#   baseline · kill -9 of a silo that does not hold the index grain · that silo restarted ·
#   kill -9 of the silo holding the index grain (read from GET /v1/indexes/scifact: "silo") ·
#   that silo restarted · Redis restarted (kill -9, start again) · Azurite paused (kill -STOP /
#   kill -CONT) · tail.
# Afterwards every acknowledged update is checked through real searches (upserted documents found,
# deleted ones gone). Prints a table per phase and ends with `RESULT {json}`.
# Bars: failed_unflagged = 0 (every failed query is a failure: a partial answer is flagged),
# lost_updates = 0, max_recovery_s <= 2 failure-detection periods (Orleans defaults: a silo is
# declared dead after NumMissedProbesLimit 3 x ProbeTimeout 5 s = 15 s, so 30 s).
# usage: bash bench/chaos.sh [rate=100] [phase_s=25] [base_port=41500]
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-100}
phase_s=${2:-25}
base=${3:-41500}
detection_period_s=15
corpus=$(realpath ../shared/data/scifact/corpus.jsonl)
queries=$(realpath ../shared/data/scifact/queries.test.jsonl)
work=$(mktemp -d /tmp/shoal-chaos-XXXX)
redis_port=$base; azurite_port=$((base + 1)); http_port=$((base + 30))
url=http://127.0.0.1:$http_port
declare -A pid_of=()

stop_all() {
  # Continue a paused Azurite first (a stopped process ignores SIGTERM), then stop everything, newest first.
  [ -n "${pid_of[azurite]:-}" ] && kill -CONT "${pid_of[azurite]}" 2>/dev/null || true
  for name in loadtest writer gateway silo9 silo8 silo7 silo6 silo5 silo4 silo3 silo2 silo1 azurite redis; do
    [ -n "${pid_of[$name]:-}" ] && kill "${pid_of[$name]}" 2>/dev/null || true
  done
  sleep 2
  for name in "${!pid_of[@]}"; do kill -9 "${pid_of[$name]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
cleanup() { stop_all; [ -n "${KEEP_CHAOS_WORK:-}" ] && echo "work directory kept: $work" || rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v redis-server >/dev/null || { echo "chaos: redis-server is missing (apt-get install redis-server)" >&2; exit 2; }
command -v azurite-blob >/dev/null || { echo "chaos: azurite-blob is missing (npm install -g azurite)" >&2; exit 2; }
[ -f "$corpus" ] || { echo "chaos: $corpus is missing" >&2; exit 2; }

if [ -z "${CHAOS_NO_BUILD:-}" ]; then
  for p in src/Silo src/Gateway src/Client/Shoal.Cli; do dotnet build "$p" -c Release -nologo -clp:ErrorsOnly >/dev/null; done
fi
silo_dll=src/Silo/bin/Release/net10.0/Shoal.Silo.dll
gateway_dll=src/Gateway/bin/Release/net10.0/Shoal.Gateway.dll
cli_dll=src/Client/Shoal.Cli/bin/Release/net10.0/shoal.dll
now_ms() { date +%s%3N; }
# Warnings and errors only (per-request information logs cost CPU on a small machine); start-up lines stay.
quiet="--Logging:LogLevel:Default=Warning --Logging:LogLevel:Microsoft.Hosting.Lifetime=Information"
log() { echo "[$(date -u +%H:%M:%S)] $*"; }

start_redis() {
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --appendonly yes --appendfsync always --save "" \
    > "$work/redis.log" 2>&1 &
  pid_of[redis]=$!
  for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "chaos: redis did not start" >&2; exit 1
}
start_redis
mkdir -p "$work/azurite"
azurite-blob --blobHost 127.0.0.1 --blobPort "$azurite_port" --location "$work/azurite" --silent --skipApiVersionCheck --loose --disableTelemetry \
  > "$work/azurite.log" 2>&1 &
pid_of[azurite]=$!
blob="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$azurite_port/devstoreaccount1;"

# Silo i listens on base+10+i (silo-to-silo) and base+20+i (gateway); a restarted silo takes a new slot.
# The ports lie in Linux's ephemeral range, so an outgoing connection can hold one: a silo that
# cannot bind exits at once, and the next slot is tried.
start_silo() {
  local i=$1
  while true; do
    dotnet "$silo_dll" --Redis 127.0.0.1:$redis_port --ClusterId chaos --SiloPort $((base + 10 + i)) --GatewayPort $((base + 20 + i)) \
      --DataDirectory "$work/silo$i" --BlobConnectionString "$blob" --BlobContainer chaos $quiet > "$work/silo$i.log" 2>&1 &
    pid_of[silo$i]=$!
    sleep 4
    if kill -0 "${pid_of[silo$i]}" 2>/dev/null || [ "$i" -ge 9 ]; then silo_slot=$i; return; fi
    log "silo$i exited at start ($(grep -m1 -o 'AddressInUse[A-Za-z]*' "$work/silo$i.log" || echo see log)); trying slot $((i + 1))"
    i=$((i + 1))
  done
}
start_silo 1; start_silo $((silo_slot + 1)); start_silo $((silo_slot + 1))
sleep 3
dotnet "$gateway_dll" --Mode client --Redis 127.0.0.1:$redis_port --ClusterId chaos --urls "$url" $quiet > "$work/gateway.log" 2>&1 &
pid_of[gateway]=$!
log "waiting for the cluster (work: $work)"
for _ in $(seq 1 600); do curl -sf "$url/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done
curl -sf "$url/health/ready" >/dev/null || { echo "chaos: the cluster did not become ready"; tail -20 "$work/gateway.log"; tail -20 "$work/silo1.log"; exit 1; }
# Build the index through the API; on a saturated machine a build can fail on a grain-call timeout, so retry.
built=
for attempt in 1 2 3; do
  log "building scifact: 6 shards, replicas 2 (attempt $attempt)"
  curl -sf -X POST "$url/v1/indexes/scifact/ingest" -H 'content-type: application/json' \
    -d "{\"corpus\": \"$corpus\", \"shards\": 6, \"replicas\": 2}" >/dev/null || { sleep 2; continue; }
  while true; do
    state=$(curl -sf "$url/v1/indexes/scifact/ingest" | sed -E 's/.*"state":"([a-z]+)".*/\1/') || state=unknown
    case "$state" in succeeded) built=1; break ;; failed) log "build failed: $(curl -sf "$url/v1/indexes/scifact/ingest")"; break ;; esac
    sleep 1
  done
  [ -n "$built" ] && break
done
[ -n "$built" ] || { echo "chaos: could not build the index"; exit 1; }
log "index: $(curl -sf "$url/v1/indexes/scifact" | head -c 200)"

# Which silo process runs the index grain: its runtime identity names the silo port.
silo_of_index() {
  local id port
  for _ in $(seq 1 30); do
    id=$(curl -sf --max-time 10 "$url/v1/indexes/scifact" | sed -nE 's/.*"silo":"([^"]*)".*/\1/p') || id=
    port=$(echo "$id" | sed -nE 's/^S?[0-9.]+:([0-9]+):.*/\1/p')
    [ -n "$port" ] && { echo $((port - base - 10)); return; }
    sleep 1
  done
  echo 0
}

: > "$work/phases.jsonl"
phase() { echo "{\"phase\":\"$1\",\"t\":$(now_ms)}" >> "$work/phases.jsonl"; log "phase $1"; }
total_s=$((phase_s * 8))
warmup_s=20
dotnet "$cli_dll" loadtest --url "$url" --index scifact --queries "$queries" --rate "$rate" --duration "$total_s" --warmup "$warmup_s" \
  --timeline "$work/timeline.jsonl" > "$work/loadtest.out" 2>&1 &
pid_of[loadtest]=$!
/usr/bin/python3 bench/chaos/writer.py "$url" scifact "$work/acked.jsonl" "$work/stop" 4 > "$work/writer.out" 2>&1 &
pid_of[writer]=$!

log "warm-up: ${warmup_s} s of unmeasured load"; sleep "$warmup_s"
phase baseline; sleep "$phase_s"
holder=$(silo_of_index)
victim=1; [ "$holder" = 1 ] && victim=2
log "index grain on silo$holder; killing silo$victim"
phase kill_silo; kill -9 "${pid_of[silo$victim]}"; sleep "$phase_s"
phase restart_silo; start_silo $((silo_slot + 1)); sleep $((phase_s - 4))
holder=$(silo_of_index)
log "index grain now on silo$holder; killing it"
phase kill_index_silo; kill -9 "${pid_of[silo$holder]}"; sleep "$phase_s"
phase restart_index_silo; start_silo $((silo_slot + 1)); sleep $((phase_s - 4))
phase redis_restart; kill -9 "${pid_of[redis]}"; wait "${pid_of[redis]}" 2>/dev/null || true; sleep 3; start_redis; sleep $((phase_s - 3))
phase azurite_pause; kill -STOP "${pid_of[azurite]}"; sleep 10; kill -CONT "${pid_of[azurite]}"; sleep $((phase_s - 10))
phase tail
wait "${pid_of[loadtest]}" || true
touch "$work/stop"; wait "${pid_of[writer]}" || true
log "load finished: $(tail -1 "$work/loadtest.out")"
log "writer: $(tail -1 "$work/writer.out")"

# Verify once every shard answers again.
for _ in $(seq 1 120); do
  curl -sf "$url/v1/indexes/scifact/search" -H 'content-type: application/json' -d '{"text":"cell","k":1}' | grep -q '"partial":false' && break
  sleep 0.5
done
verify=$(/usr/bin/python3 bench/chaos/verify.py "$url" scifact "$work/acked.jsonl")
log "verify: $verify"

echo
echo "chaos run: 3 silos (Redis membership, Azurite blob store), SciFact 6 shards x 2 replicas, open loop at $rate q/s, $phase_s s per phase"
echo "failure-detection period: ${detection_period_s} s (Orleans defaults: NumMissedProbesLimit 3 x ProbeTimeout 5 s); bar: full coverage within $((2 * detection_period_s)) s"
report=$(/usr/bin/python3 bench/chaos/report.py "$work/timeline.jsonl" "$work/phases.jsonl")
echo "$report" | sed '$d'
summary=$(echo "$report" | tail -1)
writer=$(tail -1 "$work/writer.out")
/usr/bin/python3 - "$summary" "$verify" "$writer" "$rate" "$detection_period_s" <<'PY'
import json, sys
s, v, w = (json.loads(a) for a in sys.argv[1:4])
rate, period = float(sys.argv[4]), int(sys.argv[5])
result = {"queries": s["queries"], "failed_unflagged": s["failed_unflagged"], "partial": s["partial"], "complete": s["complete"],
          "p99_ms": s["p99_ms"], "acknowledged_updates": v["acknowledged_updates"], "lost_updates": v["lost_updates"],
          "writer_failed_attempts": w.get("failed_attempts"), "max_recovery_s": s["max_recovery_s"], "rate": rate,
          "detection_period_s": period,
          "bars_met": s["failed_unflagged"] == 0 and v["lost_updates"] == 0 and s["max_recovery_s"] <= 2 * period,
          "phases": s["phases"]}
print("RESULT " + json.dumps(result, separators=(",", ":")))
PY
