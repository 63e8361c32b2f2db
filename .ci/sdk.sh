#!/usr/bin/env bash
# CI check of Shoal's .NET packages (issues 20 and 12): packs Shoal.Client and the `shoal` tool
# (tools/install-shoal.sh), checks their metadata, restores Shoal.Client from the local folder
# into samples/SearchApp (a fresh application outside Cluster.sln, with a package folder of its
# own) and publishes it with native AOT (trim/AOT analysis warnings fail it), installs the tool
# from the folder, starts the embedded default gateway on free ports and searches it with the
# native sample and the installed tool, then the tool through the repository's manifest.
# Every process it starts is stopped on exit, failed or not.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/shoal-ci-sdk.XXXXXX)
gateway_pid=
passed=0
failed=0
cleanup() {
  if [ -n "$gateway_pid" ] && kill -0 "$gateway_pid" 2>/dev/null; then
    kill "$gateway_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$gateway_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$gateway_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
check() { # check NAME COMMAND...: runs a check, counts it
  local name=$1; shift
  if "$@"; then echo "sdk: ok   $name"; passed=$((passed + 1)); else echo "sdk: FAIL $name" >&2; failed=$((failed + 1)); fi
}

echo "== sdk: pack"
bash tools/install-shoal.sh --pack-only
feed=$root/artifacts/packages
version=$(dotnet msbuild src/Client/Shoal.Cli/Shoal.Cli.csproj -nologo -getProperty:PackageVersion)
nuspec() { unzip -p "$feed/$1.$version.nupkg" "$1.nuspec"; }
has_metadata() {
  local spec; spec=$(nuspec "$1")
  grep -q "<license type=\"expression\">MIT</license>" <<<"$spec" && grep -q "<readme>README.md</readme>" <<<"$spec" \
    && grep -q "<repository type=\"git\" url=\"http" <<<"$spec" && grep -q "<description>.\{40,\}</description>" <<<"$spec" \
    && [ -f "$feed/$1.$version.snupkg" ]
}
check "Shoal.Client $version: licence, readme, repository, description, symbols" has_metadata Shoal.Client
check "shoal $version: licence, readme, repository, description, symbols" has_metadata shoal
check "shoal is a .NET tool with the command 'shoal'" bash -c "unzip -l '$feed/shoal.$version.nupkg' | grep -q 'tools/net10.0/any/DotnetToolSettings.xml' && unzip -p '$feed/shoal.$version.nupkg' tools/net10.0/any/DotnetToolSettings.xml | grep -q 'Name=\"shoal\"'"
check "the tool manifest names shoal $version" grep -q "\"version\": \"$version\"" .config/dotnet-tools.json
# The sample's own default (what `dotnet run` there takes without -p:ShoalClientVersion) must follow a version bump.
sample_version=$(dotnet msbuild samples/SearchApp/SearchApp.csproj -nologo -getProperty:ShoalClientVersion)
check "samples/SearchApp's default ShoalClientVersion ($sample_version) is $version" test "$sample_version" = "$version"

echo "== sdk: native AOT toolchain"
# Native AOT compiles and links with `clang`. Where only a versioned clang is installed (Debian and
# Ubuntu's clang-14 package without the unversioned alternative), use the newest one through
# CppCompilerAndLinker instead of installing anything; only when there is none, install clang.
aot_compiler=clang
aot_args=()
if ! command -v clang >/dev/null 2>&1; then
  aot_compiler=$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -u -t- -k2,2n | tail -1 || true)
  if [ -n "$aot_compiler" ]; then
    aot_args+=("-p:CppCompilerAndLinker=$aot_compiler")
    echo "sdk: no clang on PATH; using $aot_compiler (-p:CppCompilerAndLinker=$aot_compiler)"
  else
    aot_compiler=clang
    echo "sdk: no clang on PATH; installing clang, lld and zlib1g-dev"
    export DEBIAN_FRONTEND=noninteractive
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq && $sudo apt-get install -y -qq clang lld zlib1g-dev >/dev/null
  fi
fi
echo "sdk: native AOT mode: compiler and linker $aot_compiler ($("$aot_compiler" --version | head -1))"

echo "== sdk: samples/SearchApp from the local feed, published with native AOT"
rm -rf samples/SearchApp/.packages samples/SearchApp/bin samples/SearchApp/obj
set +e
dotnet publish samples/SearchApp -c Release -r linux-x64 -nologo -p:ShoalClientVersion="$version" ${aot_args[@]+"${aot_args[@]}"} -o "$work/searchapp" > "$work/publish.log" 2>&1
publish=$?
set -e
grep -E "warning|error|Generating native code" "$work/publish.log" | sort -u | head -40 || true
check "SearchApp publishes with native AOT ($aot_compiler)" test "$publish" -eq 0 -a -x "$work/searchapp/SearchApp"
check "no trim or AOT warnings" bash -c "! grep -qE 'warning (IL[0-9]+|CS[0-9]+)' '$work/publish.log'"
same_package() { cmp -s "$feed/Shoal.Client.$version.nupkg" "samples/SearchApp/.packages/shoal.client/$version/shoal.client.$version.nupkg"; }
check "SearchApp restored the Shoal.Client just packed, into its own package folder" same_package

echo "== sdk: install the tool from the local folder"
bash tools/install-shoal.sh --no-pack --tool-path "$work/tools"

echo "== sdk: embedded default gateway"
dotnet build src/Gateway -c Release -nologo -clp:ErrorsOnly
dotnet src/Gateway/bin/Release/net10.0/Shoal.Gateway.dll --urls http://127.0.0.1:0 --DataDirectory "$work/data" \
  --Corpus "$root/samples/passages.jsonl" --Index sample --Shards 2 --SiloPort 0 --GatewayPort 0 > "$work/gateway.log" 2>&1 &
gateway_pid=$!
url=
for _ in $(seq 1 900); do
  kill -0 "$gateway_pid" 2>/dev/null || { cat "$work/gateway.log" >&2; echo "sdk: the gateway exited" >&2; exit 1; }
  [ -n "$url" ] || url=$(grep -oE 'Now listening on: http://127\.0\.0\.1:[0-9]+' "$work/gateway.log" | head -1 | sed 's/Now listening on: //' || true)
  if [ -n "$url" ] && curl -fsS "$url/health/ready" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS "$url/health/ready" >/dev/null || { cat "$work/gateway.log" >&2; echo "sdk: the gateway never became ready" >&2; exit 1; }
echo "gateway ready at $url"
# Ready means BM25 serves; the default then adds the dense channel in the background as version 2.
# Wait for it, so the paging below does not straddle the version change (the SDK refuses that).
for _ in $(seq 1 600); do grep -q "Hybrid: index 'sample'" "$work/gateway.log" && break; sleep 0.2; done
grep -q "Hybrid: index 'sample'" "$work/gateway.log" || { cat "$work/gateway.log" >&2; echo "sdk: the dense channel never came" >&2; exit 1; }

"$work/searchapp/SearchApp" --Shoal:BaseAddress="$url" --index sample --query "how does a search engine rank documents" | tee "$work/searchapp.out"
sample_found() { grep -qE '^RESULT \{"index":"sample","hits":(1[0-5]|[1-9]),"pages":[1-3],"measured":[1-9][0-9]*\}' "$work/searchapp.out"; }
check "the native SearchApp finds hits through AddShoalClient, pages and telemetry" sample_found

"$work/tools/shoal" search --url "$url" --index sample "coffee roasting" | tee "$work/tool.out"
check "the installed tool searches the gateway" grep -q "Coffee" "$work/tool.out"
start=$(date +%s%N); "$work/tools/shoal" --help >/dev/null; end=$(date +%s%N)
echo "RESULT {\"check\":\"shoal --help (installed tool)\",\"seconds\":$(( (end - start) / 1000000 ))e-3}"
help_ms=$(( (end - start) / 1000000 ))
under_a_second() { [ "$help_ms" -lt 1000 ]; }
check "the installed tool answers --help in under a second (${help_ms} ms)" under_a_second

echo "== sdk: the tool through the repository's manifest"
bash tools/install-shoal.sh --no-pack --local
dotnet tool run shoal indexes --url "$url" | tee "$work/manifest.out"
check "dotnet tool run shoal (manifest) lists the sample index" grep -q "sample" "$work/manifest.out"

echo "sdk: $passed checks passed, $failed failed"
[ "$failed" -eq 0 ]
