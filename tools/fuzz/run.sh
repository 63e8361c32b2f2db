#!/usr/bin/env bash
# Longer fuzzing of Shoal's parsers with afl-fuzz (AFL++ from apt) and SharpFuzz, outside CI.
#   bash tools/fuzz/run.sh <target> [seconds=600]
#   bash tools/fuzz/run.sh all [seconds-per-target=120]
# Targets: update-batch manifest corpus-line sparse-line dense-line shoalvec qrels run topics corpus-file text-segment
#          sparse-segment dense-segment vocabulary sparse-queries
# Installs afl++ (apt) and the SharpFuzz instrumenter (dotnet tool SharpFuzz.CommandLine 2.3.0) when
# absent, publishes tools/fuzz/Shoal.Fuzz, instruments Shoal.Engine.dll and Shoal.Evaluation.dll, writes seed inputs and runs
# afl-fuzz. Findings go to tools/fuzz/findings/<target>/ (crashes/ and hangs/ hold the inputs;
# reproduce one with: dotnet tools/fuzz/bin/Shoal.Fuzz.dll <target> --replay FILE). Exit code 1
# when any crash or hang was found.
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?usage: run.sh <target>|all [seconds]}
seconds=${2:-600}
all=(update-batch manifest corpus-line sparse-line dense-line shoalvec qrels run topics corpus-file text-segment
     sparse-segment dense-segment vocabulary sparse-queries)

if ! command -v afl-fuzz >/dev/null 2>&1; then
  echo "installing afl++ (apt)"
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; else sudo=; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq afl++ >/dev/null
fi
export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null 2>&1; then
  dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0 >/dev/null
fi

rm -rf bin
dotnet publish Shoal.Fuzz -c Release -o bin -nologo -clp:ErrorsOnly >/dev/null
# Seeds before instrumenting: instrumented code run outside afl-fuzz has no coverage map to write to.
rm -rf seeds && dotnet bin/Shoal.Fuzz.dll --write-seeds seeds
sharpfuzz bin/Shoal.Engine.dll
sharpfuzz bin/Shoal.Evaluation.dll   # qrels, run and topics readers

# afl-fuzz settings for a managed target: no binary check (the target is `dotnet`), no memory
# limit (the runtime reserves address space), and no CPU pinning (shared machines).
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
found=0
run_one() {
  local t=$1
  rm -rf "findings/$t"; mkdir -p findings
  echo "== fuzzing $t for ${seconds}s"
  afl-fuzz -V "$seconds" -t 5000 -m none -i "seeds/$t" -o "findings/$t" -- dotnet bin/Shoal.Fuzz.dll "$t" >"findings/$t.log" 2>&1 || true
  local crashes hangs
  crashes=$(find "findings/$t" -path '*crashes/id*' -type f 2>/dev/null | wc -l)
  hangs=$(find "findings/$t" -path '*hangs/id*' -type f 2>/dev/null | wc -l)
  local execs
  execs=$(grep -h '^execs_done' "findings/$t"/*/fuzzer_stats 2>/dev/null | awk '{s+=$3} END {print s+0}')
  echo "$t: $execs executions, $crashes crashes, $hangs hangs"
  [ "$crashes" -eq 0 ] && [ "$hangs" -eq 0 ] || found=1
}
if [ "$target" = all ]; then for t in "${all[@]}"; do run_one "$t"; done; else run_one "$target"; fi
exit $found
