#!/usr/bin/env bash
# The README's first command, checked as a new user meets it: a fresh clone with nothing built,
# `dotnet run -c Release --project src/Gateway` (taken from README.md) to "Ready", then README's
# example search (also taken from README.md) must return hits. Twice: with ../shared beside the
# clone (index scifact) and without it (the bundled sample, index sample: the same clone with the
# ../shared link removed and .shoal/ deleted, so the second run does not build again). Also checks
# the start-up line comes first, state lands in the clone's .shoal/, no spurious watchdog warning,
# and runs the getting-started `shoal` commands with the tool installed from the clone (each
# `shoal search` among them must print hits). A third run gives the gateway a relative
# `--Corpus samples/passages.jsonl` from the clone's root (relative paths resolve against the
# directory the user ran from, not src/Gateway) and searches the index it builds.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$repo/../shared" 2>/dev/null && pwd || true)
work=$(mktemp -d /tmp/shoal-first-hour-XXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

run_cmd=$(grep -m1 -E '^dotnet run -c Release --project src/Gateway$' "$repo/README.md") || { echo "first-hour: README has no 'dotnet run -c Release --project src/Gateway' line" >&2; exit 1; }
search_cmd=$(awk '/^curl -s http:\/\/127.0.0.1:5080\/v1\/indexes\/scifact\/search/ {on=1} on {print} on && !/\\$/ {exit}' "$repo/README.md")
[ -n "$search_cmd" ] || { echo "first-hour: README has no example search" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$work/new"
git clone -q "$repo" "$work/new/shoal"
shoal_cmds=$(awk '/Index a corpus of your own/ {on=1} on && /^shoal / {print} on && /^```$/ && seen {exit} on && /^```bash$/ {seen=1}' "$repo/README.md")

check() { # name, with_shared, index, run_shoal_cmds (yes/no), extra gateway arguments...
  local name=$1 with_shared=$2 index=$3 run_shoal=$4
  shift 4
  local extra="$*"
  echo "== first hour: $name"
  rm -rf "$work/new/shoal/.shoal" "$work/new/shared"
  if [ "$with_shared" = yes ]; then ln -s "$shared" "$work/new/shared"; fi
  local port; port=$(free_port)
  local log="$work/$name-gateway.log"
  ( cd "$work/new/shoal" && exec setsid bash -c "$run_cmd -- --urls http://127.0.0.1:$port $extra" ) >"$log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + 900))
  until grep -q "Ready: index '$index'" "$log"; do
    if ! kill -0 "$pid" 2>/dev/null; then cat "$log" >&2; echo "first-hour: the gateway exited before Ready" >&2; exit 1; fi
    if [ $SECONDS -gt $deadline ]; then tail -50 "$log" >&2; echo "first-hour: no Ready within 900 s" >&2; exit 1; fi
    sleep 2
  done
  grep -m1 -v '^\s*$' "$log" | grep -q '^shoal gateway: embedded cluster' || { head -5 "$log" >&2; echo "first-hour: the start-up line is not the first thing printed" >&2; exit 1; }
  if grep -q 'Participant check thread has not completed' "$log"; then echo "first-hour: spurious watchdog warning" >&2; exit 1; fi
  [ -d "$work/new/shoal/.shoal/snapshots" ] || { echo "first-hour: state is not in the clone's .shoal/" >&2; exit 1; }
  [ ! -e "$work/new/shoal/src/Gateway/.shoal" ] || { echo "first-hour: state landed in src/Gateway/.shoal" >&2; exit 1; }
  local cmd=${search_cmd//127.0.0.1:5080/127.0.0.1:$port}
  cmd=${cmd//\/indexes\/scifact\//\/indexes\/$index\/}
  local answer; answer=$(cd "$work/new/shoal" && bash -c "$cmd")
  local hits; hits=$(printf '%s' "$answer" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d["hits"]))')
  echo "README's example search on '$index': $hits hits; first: $(printf '%s' "$answer" | python3 -c 'import json,sys; h=json.load(sys.stdin)["hits"][0]; print(h["id"], "-", h.get("title"))')"
  [ "$hits" -gt 0 ] || { echo "first-hour: README's example search returned no hits: $answer" >&2; exit 1; }
  if [ "$run_shoal" = yes ] && [ -n "$shoal_cmds" ] && [ -f "$work/new/shoal/tools/install-shoal.sh" ]; then
    echo "README's getting-started shoal commands, with the tool installed from the clone:"
    [ -x "$work/tools/shoal" ] || ( cd "$work/new/shoal" && bash tools/install-shoal.sh --tool-path "$work/tools" >/dev/null )
    local c out
    while IFS= read -r c; do
      [ -n "$c" ] || continue
      echo "+ $c"
      out=$(cd "$work/new/shoal" && export PATH="$work/tools:$PATH" SHOAL_URL="http://127.0.0.1:$port" && bash -c "$c" 2>&1) \
        || { printf '%s\n' "$out" >&2; echo "first-hour: a getting-started shoal command failed: $c" >&2; exit 1; }
      printf '%s\n' "$out"
      # `shoal search` exits 0 with no hits too; the getting-started search must find something.
      if [[ $c == "shoal search"* ]] && ! printf '%s' "$out" | grep -qE ': [1-9][0-9,]* hits'; then
        echo "first-hour: '$c' printed no hits" >&2; exit 1
      fi
    done <<< "$shoal_cmds"
  fi
  kill -- "-$pid" 2>/dev/null || kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}

if [ -n "$shared" ] && [ -d "$shared/data/scifact" ]; then check with-shared yes scifact yes; fi
check without-shared no sample yes
# The issue's own case: a relative --Corpus from the repository root (it once resolved against src/Gateway).
check relative-corpus no rel no --Corpus samples/passages.jsonl --Index rel
echo "first-hour: README's first command and example search work on a fresh clone"
