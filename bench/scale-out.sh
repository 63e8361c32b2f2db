#!/usr/bin/env bash
# Scale-out experiment: 1, 2 and 3 silo processes plus a client-mode gateway on loopback with Redis
# membership, the same index (SciFact, 6 shards) and the same closed-loop load for each silo count.
# Prints queries/s and p99 per silo count, then the cluster-path overhead: end-to-end p50 through
# the gateway over the engine-alone p50 (bench `text` workload) measured in the same run.
# On a 2-core machine the figures show overhead and correctness under load, not linear scaling.
# usage: bash bench/scale-out.sh [duration_s=10] [clients=8]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
clients=${2:-8}
corpus=../shared/data/scifact/corpus.jsonl
queries=../shared/data/scifact/queries.test.jsonl
work=$(mktemp -d /tmp/shoal-scale-XXXX)
pids=()
cleanup() { for ((j=${#pids[@]}-1; j>=0; j--)); do kill "${pids[j]}" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

dotnet build -c Release -nologo -clp:ErrorsOnly Cluster.sln >/dev/null
silo=src/Silo/bin/Release/net10.0/Shoal.Silo.dll
gateway=src/Gateway/bin/Release/net10.0/Shoal.Gateway.dll
cli=src/Client/Shoal.Cli/bin/Release/net10.0/shoal.dll

echo "== engine alone (same queries, single thread)"
engine=$(dotnet run -c Release --no-build --project bench/Shoal.Bench -- text --repeat 3 | tail -1)
engine_ms=$(echo "$engine" | sed -E 's/.*"shoal_ms":([0-9.]+).*/\1/')
echo "engine ms/query: $engine_ms"

printf "\n| silos | queries/s | p50 ms | p99 ms | errors | partial |\n|---|---|---|---|---|---|\n" > "$work/table"
for n in 1 2 3; do
  redis_port=$((20000 + RANDOM % 10000))
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  pids+=($!)
  sleep 0.5
  for i in $(seq 1 "$n"); do
    dotnet "$silo" --Redis 127.0.0.1:$redis_port --ClusterId scale$n --SiloPort $((31000 + n * 10 + i)) \
      --GatewayPort $((32000 + n * 10 + i)) --DataDirectory "$work/data$n" > "$work/silo$n-$i.log" 2>&1 &
    pids+=($!)
  done
  port=$((5100 + n))
  dotnet "$gateway" --Mode client --Redis 127.0.0.1:$redis_port --ClusterId scale$n --urls http://127.0.0.1:$port \
    --Corpus "$(realpath $corpus)" --Index scifact --Shards 6 > "$work/gateway$n.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 240); do
    curl -sf http://127.0.0.1:$port/health/ready >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -sf http://127.0.0.1:$port/health/ready >/dev/null || { echo "cluster with $n silos did not become ready"; tail -20 "$work/gateway$n.log"; exit 1; }
  echo "== $n silo(s)"
  result=$(dotnet "$cli" loadtest --url http://127.0.0.1:$port --index scifact --queries "$queries" --clients "$clients" --duration "$duration" --warmup 3 | tail -1)
  echo "$result"
  get() { echo "$result" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }
  echo "| $n | $(get qps) | $(get p50_ms) | $(get p99_ms) | $(get errors) | $(get partial) |" >> "$work/table"
  [ "$n" = 1 ] && p50_one=$(get p50_ms)
  # Stop the gateway and silos first (newest first) so they can leave the membership table; Redis last.
  for ((j=${#pids[@]}-1; j>=0; j--)); do kill "${pids[j]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done
cat "$work/table"
overhead=$(awk -v a="$p50_one" -v b="$engine_ms" 'BEGIN { printf "%.1f", a / b }')
echo
echo "cluster-path overhead (1 silo): end-to-end p50 $p50_one ms over engine-alone mean $engine_ms ms = ${overhead}x"
echo "RESULT {\"engine_ms\":$engine_ms,\"p50_1silo_ms\":$p50_one,\"overhead\":$overhead}"
