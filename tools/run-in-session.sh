#!/usr/bin/env bash
# Runs a command in a session of its own (setsid), showing its output and saving it in LOG. When
# the command ends, any process still in that session is a leftover: a server a test started and
# did not stop, or the children of a test host that crashed or was killed for hanging. Leftovers
# are listed, killed (by process id) and make the run fail, even when the command passed.
# Interrupting this script (Ctrl-C, SIGTERM) stops the whole session, which the terminal's
# Ctrl-C would not reach.
#   bash tools/run-in-session.sh LOG COMMAND [ARGS...]
# Exit status: the command's; 3 when it passed but left processes behind.
set -uo pipefail
if [ $# -lt 2 ]; then echo "usage: run-in-session.sh LOG COMMAND [ARGS...]" >&2; exit 2; fi
log=$1
shift
sidfile=$(mktemp)
sid=

session_pids() { [ -n "$sid" ] && ps -e -o pid=,sid= | awk -v s="$sid" '$2 == s {print $1}'; }

stop_session() {
  local pids
  pids=$(session_pids) || true
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086 # one id a word
  kill -TERM $pids 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(session_pids) || true
    [ -n "$pids" ] || return 0
    sleep 0.5
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
}

trap 'echo "run-in-session: interrupted; stopping session $sid" >&2; stop_session; rm -f "$sidfile"; exit 130' INT TERM

# The session's leader writes its id (its own pid, whether or not setsid had to fork) and becomes
# the command; -w makes setsid wait for it when it forks.
setsid -w bash -c 'echo $$ > "$0"; exec "$@"' "$sidfile" "$@" >"$log" 2>&1 &
runner=$!
tail -n +1 -f --pid="$runner" "$log" &
tailer=$!
for _ in $(seq 1 100); do
  sid=$(cat "$sidfile" 2>/dev/null || true)
  [ -n "$sid" ] && break
  kill -0 "$runner" 2>/dev/null || break
  sleep 0.1
done
sid=$(cat "$sidfile" 2>/dev/null || true)
wait "$runner"
status=$?
wait "$tailer" 2>/dev/null || true
rm -f "$sidfile"
if [ -z "$sid" ]; then echo "run-in-session: the command's session id was never written" >&2; exit "$(( status == 0 ? 1 : status ))"; fi

# Processes get a moment to finish exiting after the command returns.
left=
for _ in 1 2 3 4 5 6 7 8 9 10; do
  left=$(session_pids) || true
  [ -n "$left" ] || break
  sleep 0.5
done
if [ -n "$left" ]; then
  echo "run-in-session: the command left these processes running in its session $sid:" >&2
  # shellcheck disable=SC2086
  ps -o pid=,ppid=,pgid=,etime=,args= -p "$(echo $left | tr ' ' ',')" >&2 || true
  stop_session
  echo "run-in-session: killed them; a test that starts a process must stop it, even when it fails" >&2
  exit "$(( status == 0 ? 3 : status ))"
fi
exit "$status"
