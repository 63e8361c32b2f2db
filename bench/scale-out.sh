#!/usr/bin/env bash
# Scale-out benchmark: silo processes whose CPU is capped with Linux cgroups (so the silos, not the
# gateway or the load generator, are the bottleneck), Redis membership, a client-mode gateway and
# SciFact in 6 shards.
#   Phase 1: saturation throughput (closed loop) with 1, 2 and 3 capped silos, each cluster given
#            time to balance its shards first.
#   Phase 2: one silo under an open-loop load; two more silos join while it runs; reports failed and
#            partial queries and p99 over the run, and the seconds from the last join until the
#            index description says the shard map is balanced.
# Ends with RESULT {json}: qps_1, qps_2, qps_3, scaling_3, rebalance_failed, rebalance_partial,
# rebalance_p99_ms, balanced_after_s, max_shard_skew, silo_cpu, replicas, capped.
# usage: bash bench/scale-out.sh [duration_s=15] [clients=32,96,288] [silo_cpu=0.25] [port_base=random]
# clients: closed-loop client counts, comma-separated; each silo count runs each of them and its
# best queries/s is its saturation throughput (with silos stalled by their cap every period, a
# fixed 32 clients can all end up waiting on stalled silos: at 3 silos that measured latency, not
# capacity; 96 clients per silo keeps every silo as busy as one silo is at 96).
# Needs root for the cgroup caps (cgroup v1 cpu controller or cgroup v2 cpu.max); without them it
# runs uncapped and says so (then the figures do not measure scaling).
# The gateway runs without its per-client concurrency limit (Shoal:Limits:ConcurrentRequestsPerKey 0):
# the load generator is one client holding many requests at once, and a 429 from the gateway's own
# protection is not what this benchmark measures (stalls show up in p99 instead).
# SILO_ENV="NAME=value ..." passes extra environment to the silo processes.
# WARM_S=N: seconds of uncapped load that warm each throughput cluster before the cap (default 20).
# CFS_PERIOD_US=N: the cap's accounting period in microseconds (default 100000, the kernel's and
# Kubernetes' default). A capped silo that spends its quota early in a period stalls until the next
# one, so a short period (10000) turns 100 ms stalls into 10 ms ones at low caps.
# PROCESSOR_COUNT=N: the processor count capped silos start with (DOTNET_PROCESSOR_COUNT; default the cap
# rounded up, as a container with that CPU limit gives the runtime; 0: unset, the machine's cores).
# KEEP_WORK=1: keeps the work directory (logs of every silo, gateway and load run) instead of removing it.
# READY_TO_RUN=1: run the silos and gateway from a ReadyToRun publish, as the container images ship
# them, instead of the plain build output (JIT; the default, which the README's figures used).
# REPLICAS=N: replicas per shard (default 1: shards partition the corpus, so a search fans out to
# every silo; with as many replicas as silos every silo holds every shard and a search stays on the
# silo that took it, the way replicas add query throughput).
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-15}
clients=${2:-32,96,288}
silo_cpu=${3:-0.25}
port_base=${4:-$((20000 + RANDOM % 12000))} # below the ephemeral range (32768-60999): an outgoing connection can hold a port there
replicas=${REPLICAS:-1}
warm_s=${WARM_S:-20} # seconds of uncapped load that warm each throughput cluster before its cap is applied
corpus=$(realpath ../shared/data/scifact/corpus.jsonl)
queries=../shared/data/scifact/queries.test.jsonl
work=$(mktemp -d /tmp/shoal-scale-XXXX)
pids=()
cg_root=""
# Stops the silos, gateway and load first (a silo leaving gracefully moves its shards and updates
# the membership table, so Redis must outlive it; at most 90 s, then SIGKILL), Redis (pids[0]) last.
stop_all() {
  for ((j=${#pids[@]}-1; j>=1; j--)); do kill "${pids[j]}" 2>/dev/null || true; done
  for _ in $(seq 1 180); do
    alive=0; for ((j=1; j<${#pids[@]}; j++)); do kill -0 "${pids[j]}" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.5
  done
  for ((j=${#pids[@]}-1; j>=1; j--)); do kill -9 "${pids[j]}" 2>/dev/null || true; done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[0]}" 2>/dev/null || true
  wait 2>/dev/null || true; pids=(); silo_pids=(); silo_groups=()
}
# CPU seconds of each silo process, space-separated.
silo_cpu_each() {
  local p
  for p in "${silo_pids[@]}"; do
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f ", ($14 + $15) / hz }' "/proc/$p/stat" 2>/dev/null || printf "0 "
  done
}
cleanup() { stop_all; for g in "${cg_root:-/nonexistent}"/shoal-scale-$$-*; do [ -d "$g" ] && rmdir "$g" 2>/dev/null || true; done; if [ -n "${KEEP_WORK:-}" ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

# cgroups: v1 cpu controller (cpu.cfs_quota_us) or v2 (cpu.max).
cg_root=""; cg_kind=""
if [ -w /sys/fs/cgroup/cpu ] && [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then cg_root=/sys/fs/cgroup/cpu; cg_kind=v1
elif [ -e /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers && [ -w /sys/fs/cgroup ]; then cg_root=/sys/fs/cgroup; cg_kind=v2
fi
period=${CFS_PERIOD_US:-100000} # the cap's accounting period: a capped silo runs at most silo_cpu x period per period
quota=$(awk -v c="$silo_cpu" -v p="$period" 'BEGIN { printf "%d", c * p }')
make_group() { # name [quota] -> path of a group capped at the quota (default silo_cpu; -1: uncapped), or "" when caps are unavailable
  [ -z "$cg_root" ] && { echo ""; return; }
  local g="$cg_root/shoal-scale-$$-$1" q=${2:-$quota}
  mkdir -p "$g"
  # High weight, so that on a busy machine the group gets its cap (the cap, not other load, is what limits it).
  if [ "$cg_kind" = v1 ]; then echo "$period" > "$g/cpu.cfs_period_us"; echo "$q" > "$g/cpu.cfs_quota_us"; echo 102400 > "$g/cpu.shares"
  else if [ "$q" = -1 ]; then echo "max $period" > "$g/cpu.max"; else echo "$q $period" > "$g/cpu.max"; fi; echo 10000 > "$g/cpu.weight"; fi
  echo "$g"
}
in_group() { # group command... : runs the command in the group (or plainly without one)
  local g=$1; shift
  # exec, so that the pid the caller records ($!) is the process itself
  if [ -n "$g" ]; then exec bash -c 'echo $$ > "$0/cgroup.procs"; exec "$@"' "$g" "$@"; else exec "$@"; fi
}
# The runtime sizes itself (GC heaps, thread pool, spinning) by the processors it sees at start-up,
# and in a container with a CPU limit it sees the limit rounded up (0.25 -> 1). Silos here start
# uncapped (to warm up) and are capped later, so they would size themselves for every core of the
# machine and then run on a quarter of one: DOTNET_PROCESSOR_COUNT gives them what a container with
# the same limit gives them. PROCESSOR_COUNT=0 leaves it to the runtime (the machine's cores).
silo_procs=${PROCESSOR_COUNT:-$(awk -v c="$silo_cpu" 'BEGIN { n = int(c); if (n < c) n++; if (n < 1) n = 1; printf "%d", n }')}
if [ -n "$cg_root" ]; then capped=true; echo "silos capped at $silo_cpu CPU each (cgroup $cg_kind), started with DOTNET_PROCESSOR_COUNT=${silo_procs/#0/unset}"; else capped=false; echo "WARNING: no writable cgroup cpu controller; silos run uncapped, so the figures do not show scaling"; fi

if [ -z "${SKIP_BUILD:-}" ]; then # SKIP_BUILD=1 uses the Release builds already there
  for p in src/Silo src/Gateway src/Client/Shoal.Cli; do
    dotnet build -c Release -nologo -clp:ErrorsOnly "$p" > "$work/build.log" 2>&1 || { cat "$work/build.log"; echo "build of $p failed"; exit 1; }
  done
fi
silo=src/Silo/bin/Release/net10.0/Shoal.Silo.dll
gateway=src/Gateway/bin/Release/net10.0/Shoal.Gateway.dll
# READY_TO_RUN=1: the silos and the gateway run from a ReadyToRun publish, as the container images
# ship them (deploy/docker), so a silo that joins under its CPU cap answers its first queries from
# precompiled code instead of JIT-compiling the query path at 0.25 of a core. Republished when the
# build output is newer. Default 0: the plain build output (JIT), as in the README's figures.
if [ "${READY_TO_RUN:-0}" = 1 ]; then
  r2r=${R2R_DIR:-$PWD/.scratch/scale-out-r2r}
  for role in silo:src/Silo:Shoal.Silo gateway:src/Gateway:Shoal.Gateway; do
    IFS=: read -r name project assembly <<< "$role"
    if [ ! -f "$r2r/$name/$assembly.dll" ] || [ "$project/bin/Release/net10.0/Shoal.Grains.dll" -nt "$r2r/$name/$assembly.dll" ]; then
      start=$SECONDS
      dotnet publish "$project" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -nologo -clp:ErrorsOnly -o "$r2r/$name" > "$work/publish.log" 2>&1 \
        || { cat "$work/publish.log"; echo "ReadyToRun publish of $project failed"; exit 1; }
      echo "published $name with ReadyToRun in $((SECONDS - start)) s"
    fi
  done
  silo=$r2r/silo/Shoal.Silo.dll
  gateway=$r2r/gateway/Shoal.Gateway.dll
fi
cli=src/Client/Shoal.Cli/bin/Release/net10.0/shoal.dll

redis_port=$port_base
front=$(make_group front -1) # the gateway and the load generator: uncapped, same high weight
start_silo() { # cluster id, silo number, data dir [quota: default silo_cpu; -1 uncapped until cap_silos]
  local g; g=$(make_group "$1-$2" "${4:-$quota}")
  silo_groups+=("$g")
  local args=(--Redis 127.0.0.1:$redis_port --ClusterId "$1" --SiloPort $((port_base + 10 + $2)) --GatewayPort $((port_base + 20 + $2))
    --DataDirectory "$3" --Shoal:RebalanceInterval 00:00:02 --Shoal:RebalanceSettleDelay 00:00:01 --urls http://127.0.0.1:$((port_base + 30 + $2)))
  # SILO_ENV: extra environment for the silo processes (e.g. DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0).
  local procs=(); [ "$capped" = true ] && [ "$silo_procs" != 0 ] && procs=(DOTNET_PROCESSOR_COUNT="$silo_procs")
  in_group "$g" env "${procs[@]}" ${SILO_ENV:-} dotnet "$silo" "${args[@]}" > "$work/$1-silo$2.log" 2>&1 &
  pids+=($!)
  silo_pids+=($!)
}
# CPU seconds used so far by the silo processes (utime + stime from /proc, clock ticks).
# CPU seconds the whole machine has been busy (every core; /proc/stat: all but idle and iowait).
machine_busy_s() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}
silo_cpu_s() {
  local t=0 p
  for p in "${silo_pids[@]}"; do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
}
silo_pids=(); silo_groups=()
# Waits (uncapped, at most 120 s) until the silos are quiet: under 0.05 cores each in three 2 s
# windows in a row (the compiler works in bursts with lulls between them). A
# silo's runtime keeps compiling its hot paths for many seconds after the warm-up load (tiered
# compilation: a perf profile of a silo capped right after warm-up had 90% of its samples on the
# JIT's background thread, 0.1-0.25 cores for over 15 s with no query), and a cap applied before
# that ends would count start-up compilation as query cost. Prints the seconds waited.
settle_silos() {
  local start=$SECONDS a b quiet=0
  while [ $((SECONDS - start)) -lt 120 ] && [ "$quiet" -lt 3 ]; do
    a=$(silo_cpu_s); sleep 2; b=$(silo_cpu_s)
    if awk -v a="$a" -v b="$b" -v n="${#silo_pids[@]}" 'BEGIN { exit !((b - a) / 2 < 0.05 * n) }'; then quiet=$((quiet + 1)); else quiet=0; fi
  done
  echo $((SECONDS - start))
}
cap_silos() { # applies the cap to every silo group (started uncapped to warm up)
  local g
  for g in "${silo_groups[@]}"; do
    [ -z "$g" ] && continue
    if [ "$cg_kind" = v1 ]; then echo "$quota" > "$g/cpu.cfs_quota_us"; else echo "$quota $period" > "$g/cpu.max"; fi
  done
}
start_cluster() { # cluster id, silos [quota]
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
  pids+=($!)
  sleep 0.5
  for i in $(seq 1 "$2"); do start_silo "$1" "$i" "$work/$1" "${3:-$quota}"; done
  # Every silo active before the gateway connects: a client routes each grain through one of the
  # gateways it knows when it first calls that grain (see README, "Shard placement and scaling out").
  for i in $(seq 1 "$2"); do
    for _ in $(seq 1 240); do curl -sf http://127.0.0.1:$((port_base + 30 + i))/health/ready >/dev/null 2>&1 && break; sleep 0.5; done
  done
  http=$((port_base + 1))
  in_group "$front" dotnet "$gateway" --Mode client --Redis 127.0.0.1:$redis_port --ClusterId "$1" --urls http://127.0.0.1:$http \
    --Corpus "$corpus" --Index scifact --Shards 6 --Replicas "$replicas" --Shoal:Limits:ConcurrentRequestsPerKey 0 > "$work/$1-gateway.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 480); do curl -sf http://127.0.0.1:$http/health/ready >/dev/null 2>&1 && break; sleep 0.5; done
  curl -sf http://127.0.0.1:$http/health/ready >/dev/null || { echo "cluster $1 did not become ready"; tail -20 "$work/$1-gateway.log"; exit 1; }
}
# Prints "balanced distinct_silos skew" from the index description's placement.
placement() {
  curl -sf http://127.0.0.1:$http/v1/indexes/scifact | python3 -c '
import json, sys
p = json.load(sys.stdin).get("placement") or {}
reps = p.get("replicas") or []
print(str(bool(p.get("balanced"))).lower(), len({r["silo"] for r in reps}), p.get("skew", -1))'
}
wait_balanced() { # silos, timeout_s -> prints seconds waited, or "timeout"
  local start=$SECONDS
  while (( SECONDS - start < $2 )); do
    read -r b d _ < <(placement || echo "false 0 -1")
    if [ "$b" = true ] && [ "$d" = "$1" ]; then echo $((SECONDS - start)); return; fi
    sleep 0.5
  done
  echo timeout
}
get() { echo "$1" | sed -E "s/.*\"$2\":([0-9.]+).*/\1/"; }

printf "\n| silos | clients | queries/s | p50 ms | p99 ms | errors | partial | silo CPU idle (cores, all silos) | silo CPU ms per query | machine busy (cores) |\n|---|---|---|---|---|---|---|---|---|---|\n" > "$work/table"
declare -A qps first_qps
# REBALANCE_RATE=N skips the throughput phase and runs only the rebalance phase at N queries/s.
phases="1 2 3"; [ -n "${REBALANCE_RATE:-}" ] && phases="" && qps[1]=0 && qps[2]=0 && qps[3]=0
for n in $phases; do
  # Silos start uncapped and are warmed with load first: what is measured is a warmed silo's
  # steady state (a silo capped from its start spends minutes compiling its hot paths, and that
  # start-up cost would be counted as query cost).
  start_cluster "scale$n" "$n" -1
  echo "== $n silo(s): balanced after $(wait_balanced "$n" 120) s"
  (in_group "$front" dotnet "$cli" loadtest --url http://127.0.0.1:$http --index scifact --queries "$queries" --clients 8 --duration "$warm_s" --warmup 1 >/dev/null 2>&1) || true # in_group execs: a subshell
  echo "silos quiet $(settle_silos) s after the warm-up"
  cap_silos; sleep 2
  # Idle cost: what the silos burn with no queries (membership probes, timers, the runtime), over 5 s.
  c0=$(silo_cpu_s); t0=$(date +%s.%N); sleep 5; c1=$(silo_cpu_s); t1=$(date +%s.%N)
  idle=$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.3f", (b - a) / (e - s) }')
  # Saturation: each client count given is run in turn, and the best queries/s counts (a closed
  # loop whose clients all wait on silos stalled by their cap measures latency, not capacity).
  qps[$n]=0; first_qps[$n]=""
  for c in ${clients//,/ }; do
    c1=$(silo_cpu_s); e1=$(silo_cpu_each); m1=$(machine_busy_s); t1=$(date +%s.%N)
    result=$(in_group "$front" dotnet "$cli" loadtest --url http://127.0.0.1:$http --index scifact --queries "$queries" --clients "$c" --duration "$duration" --warmup 3 2>/dev/null | tail -1)
    c2=$(silo_cpu_s); e2=$(silo_cpu_each); m2=$(machine_busy_s); t2=$(date +%s.%N)
    machine=$(awk -v a="$m1" -v b="$m2" -v s="$t1" -v e="$t2" 'BEGIN { printf "%.2f", (b - a) / (e - s) }')
    # Each silo's share of the load: cores used during the run (the cap is silo_cpu).
    each=$(awk -v a="$e1" -v b="$e2" -v s="$t1" -v e="$t2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); for (i = 1; i <= n; i++) printf "%.3f ", (y[i] - x[i]) / (e - s) }')
    echo "$result"
    q=$(get "$result" qps)
    # CPU per query over the whole run (3 s warm-up included, at about the same rate).
    per_query=$(awk -v a="$c1" -v b="$c2" -v q="$q" -v d="$duration" 'BEGIN { n = q * (d + 3); printf "%.2f", (n > 0) ? (b - a) * 1000 / n : 0 }')
    echo "silo CPU ($c clients): idle $idle cores over all silos; $per_query ms per query under load; cores used by each silo under load: $each; whole machine busy: $machine of $(nproc) cores"
    echo "| $n | $c | $q | $(get "$result" p50_ms) | $(get "$result" p99_ms) | $(get "$result" errors) | $(get "$result" partial) | $idle | $per_query | $machine |" >> "$work/table"
    if awk -v a="$q" -v b="${qps[$n]}" 'BEGIN { exit !(a > b) }'; then qps[$n]=$q; fi
    [ -z "${first_qps[$n]}" ] && first_qps[$n]=$q
  done
  stop_all
done
cat "$work/table"

echo
echo "== rebalance under load: 1 silo, two more join while an open-loop load runs"
# Half of what the warmed single silo answered at the first (smallest) client count: a rate it
# serves with shallow queues. Not half its best: the best comes with hundreds of queued requests,
# and a capped silo spends less CPU per query when each wake-up finds many of them (with one
# processor, 0.17 ms at 288 clients against 0.36 ms at 32), which an open loop at a moderate rate
# does not give it, so half the best overloads one silo before any other joins. The joining silos
# start cold (capped from their start, they compile their hot paths while shards move onto them).
rate=${REBALANCE_RATE:-$(awk -v q="${first_qps[1]:-0}" 'BEGIN { r = q * 0.5; if (r < 5) r = 5; printf "%d", r }')}
start_cluster grow 1 -1
(in_group "$front" dotnet "$cli" loadtest --url http://127.0.0.1:$http --index scifact --queries "$queries" --clients 8 --duration "$warm_s" --warmup 1 >/dev/null 2>&1) || true
echo "silo quiet $(settle_silos) s after the warm-up"
cap_silos; sleep 2
run_s=$((duration + 45))
in_group "$front" dotnet "$cli" loadtest --url http://127.0.0.1:$http --index scifact --queries "$queries" --rate "$rate" --duration "$run_s" --warmup 2 --timeline "$work/grow-timeline.jsonl" > "$work/grow-load.txt" 2>/dev/null &
load_pid=$!
pids+=($load_pid)
sleep 8
start_silo grow 2 "$work/grow"
sleep 4
start_silo grow 3 "$work/grow"
joined=$SECONDS
balanced_after=$(wait_balanced 3 120)
read -r _ _ skew < <(placement)
wait "$load_pid" || true
load=$(tail -1 "$work/grow-load.txt")
echo "open loop at $rate q/s for $run_s s; last join at +12 s; balanced $balanced_after s after the last join; skew $skew"
echo "$load"
grep -h "first error" "$work/grow-load.txt" || true
if [ -s "$work/grow-timeline.jsonl" ]; then # failed queries per second of the run and their distinct messages
  python3 - "$work/grow-timeline.jsonl" <<'PY'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
if rows:
    t0 = min(r["t"] for r in rows)
    errs = [r for r in rows if r["status"] == "error"]
    secs = collections.Counter(int((r["t"] - t0) / 1000) for r in errs)
    print("errors by second of the run:", dict(sorted(secs.items())) or "none")
    for msg, n in collections.Counter(r.get("error", "") for r in errs).most_common(5):
        print(f"  {n} x {msg}")
PY
fi
grep -h "Placement: moving\|Placement: shard replica\|Warmed shard" "$work"/grow-silo*.log | sed -E 's/^.*(Placement|Warmed)/\1/' | awk 'NR <= 20' # not head: closing the pipe early would end the script (pipefail) before RESULT
scaling=$(awk -v a="${qps[3]}" -v b="${qps[1]}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "null" }') # null: throughput phases skipped (REBALANCE_RATE)
[ "$balanced_after" = timeout ] && balanced_after=-1
echo "RESULT {\"qps_1\":${qps[1]},\"qps_2\":${qps[2]},\"qps_3\":${qps[3]},\"scaling_3\":$scaling,\"rebalance_rate\":$rate,\"rebalance_failed\":$(get "$load" errors),\"rebalance_partial\":$(get "$load" partial),\"rebalance_p99_ms\":$(get "$load" p99_ms),\"balanced_after_s\":$balanced_after,\"max_shard_skew\":$skew,\"clients\":\"$clients\",\"silo_cpu\":$silo_cpu,\"replicas\":$replicas,\"cfs_period_us\":$period,\"silo_processors\":$silo_procs,\"ready_to_run\":${READY_TO_RUN:-0},\"capped\":$capped}"
