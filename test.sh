#!/usr/bin/env bash
# README's second command: installs or starts what the tests need, builds, runs every test.
#   bash test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Gateway]
# Needs ../shared/data beside the repository (evaluation data, models, vocabularies); checked first.
# Prerequisites are installed when absent (redis-server from apt, npm and Azurite, and whatever
# tools/test-prereqs/*.sh add: Chromium, kubectl); nothing is left running afterwards: every server
# a test needs is started and stopped by the test itself, and `dotnet test` runs in a session of
# its own (tools/run-in-session.sh) so anything still running in it when the tests end (a server a
# test did not stop, the children of a test host that crashed or hung) is listed, killed and fails the run.
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
if [ ! -d ../shared/data ]; then
  echo "test.sh: $(cd .. && pwd)/shared/data is missing. The tests read evaluation data, models and" >&2
  echo "  vocabularies from ../shared/data beside the repository (README \"Layout\") and fail without it;" >&2
  echo "  put the shared data there (or a link to it) and run again." >&2
  exit 1
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (apt)"; apt_install redis-server
fi
redis-server --version
if ! command -v azurite-blob >/dev/null 2>&1; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "installing npm (apt)"; apt_install npm
  fi
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
# a hung test into a failure with its name instead of a stalled run. The run has a session of its
# own: whatever is still in it afterwards is a leftover (listed, killed, exit 3). MSBuild worker
# nodes are not kept for reuse, so none of them outlives the run and reads as a leftover.
MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0 \
  bash tools/run-in-session.sh "$log" dotnet test Cluster.sln -c "$configuration" --no-build -nologo --blame-crash --blame-crash-dump-type mini --blame-hang-timeout 15m --blame-hang-dump-type none "$@"
status=$?
set -e
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
rm -f "$log"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 3 ]; then
  echo "test.sh: the tests passed but left processes running (listed above)" >&2
  exit 1
fi
if [ "$status" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "test.sh: tests failed (exit $status)" >&2
  exit 1
fi
