#!/usr/bin/env bash
# README's second command: installs or starts what the tests need, builds, runs every test.
#   bash test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Gateway]
# Prerequisites are installed when absent (redis-server from apt, Azurite from npm, and whatever
# tools/test-prereqs/*.sh add); nothing is left running afterwards: every server a test needs is
# started and stopped by the test itself.
set -euo pipefail
cd "$(dirname "$0")"
configuration=${SHOAL_TEST_CONFIGURATION:-Release}

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; else sudo=; fi
  if [ -z "${_apt_updated:-}" ]; then $sudo apt-get update -qq; _apt_updated=1; fi
  $sudo apt-get install -y -qq "$@" >/dev/null
}

echo "== prerequisites"
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (apt)"; apt_install redis-server
fi
redis-server --version
if ! command -v azurite-blob >/dev/null 2>&1; then
  echo "installing azurite (npm)"; npm install -g --no-audit --no-fund azurite@3 >/dev/null
fi
echo "azurite $(azurite-blob --version)"
for prereq in tools/test-prereqs/*.sh; do
  [ -e "$prereq" ] || continue
  # shellcheck source=/dev/null
  source "$prereq"
done

echo "== build ($configuration)"
dotnet build Cluster.sln -c "$configuration" -nologo -clp:ErrorsOnly

echo "== test"
log=$(mktemp)
set +e
# --blame-crash names the test that was running if a test host dies; --blame-hang-timeout turns
# a hung test into a failure with its name instead of a stalled run.
dotnet test Cluster.sln -c "$configuration" --no-build -nologo --blame-crash --blame-crash-dump-type mini --blame-hang-timeout 15m --blame-hang-dump-type none "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
rm -f "$log"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "test.sh: tests failed (exit $status)" >&2
  exit 1
fi
