#!/usr/bin/env bash
# Packs the `shoal` CLI (a .NET tool) and the Shoal.Client SDK into artifacts/packages, then
# installs the tool from that folder:
#   bash tools/install-shoal.sh                   # global tool: ~/.dotnet/tools/shoal
#   bash tools/install-shoal.sh --local           # the repository's tool manifest (.config/dotnet-tools.json):
#                                                 #   dotnet shoal ... / dotnet tool run shoal ...
#   bash tools/install-shoal.sh --tool-path DIR   # DIR/shoal
#   bash tools/install-shoal.sh --pack-only       # only the packages
#   --no-pack                                     # install what artifacts/packages holds
# The version comes from Directory.Build.props (VersionPrefix). The packages are local builds, so
# the script removes an earlier copy of the same version from the NuGet cache before installing,
# and installs from the local folder only (never from a remote feed).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=global
tool_path=
pack=1
while [ $# -gt 0 ]; do
  case "$1" in
    --local) mode=local ;;
    --global) mode=global ;;
    --tool-path) mode=path; tool_path=${2:?--tool-path needs a directory}; shift ;;
    --pack-only) mode=none ;;
    --no-pack) pack=0 ;;
    *) echo "install-shoal: unknown argument '$1' (--global, --local, --tool-path DIR, --pack-only, --no-pack)" >&2; exit 2 ;;
  esac
  shift
done

feed=$PWD/artifacts/packages
version=$(dotnet msbuild src/Client/Shoal.Cli/Shoal.Cli.csproj -nologo -getProperty:PackageVersion)
if [ "$pack" = 1 ]; then
  echo "install-shoal: packing shoal $version and Shoal.Client $version into $feed"
  mkdir -p "$feed"
  rm -f "$feed"/shoal."$version".*nupkg "$feed"/Shoal.Client."$version".*nupkg
  dotnet pack src/Client/Shoal.Client -c Release -nologo -clp:ErrorsOnly -o "$feed"
  dotnet pack src/Client/Shoal.Cli -c Release -nologo -clp:ErrorsOnly -o "$feed"
elif [ ! -f "$feed/shoal.$version.nupkg" ]; then
  echo "install-shoal: $feed/shoal.$version.nupkg is missing; run without --no-pack" >&2; exit 1
fi
[ "$mode" = none ] && exit 0

# A NuGet configuration naming only the local folder, so no remote package can stand in.
config=$(mktemp --suffix=.config)
trap 'rm -f "$config"' EXIT
cat > "$config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><clear /><add key="shoal-local" value="$feed" /></packageSources></configuration>
XML

case "$mode" in
  global)
    dotnet tool uninstall --global shoal >/dev/null 2>&1 || true
    dotnet tool install --global shoal --version "$version" --configfile "$config"
    case ":$PATH:" in *":$HOME/.dotnet/tools:"*) ;; *) echo "install-shoal: add ~/.dotnet/tools to PATH to run 'shoal'" ;; esac
    ;;
  path)
    dotnet tool uninstall shoal --tool-path "$tool_path" >/dev/null 2>&1 || true
    dotnet tool install shoal --tool-path "$tool_path" --version "$version" --configfile "$config"
    ;;
  local)
    # Local tools run from the NuGet cache: drop an earlier local build of the same version there.
    cache=$(dotnet nuget locals global-packages --list | sed -e 's/^global-packages: *//')
    rm -rf "${cache%/}/shoal/$version"
    if grep -q "\"version\": \"$version\"" .config/dotnet-tools.json; then
      dotnet tool restore --configfile "$config"
    else
      dotnet tool update --local shoal --version "$version" --configfile "$config"
    fi
    echo "install-shoal: run it in the repository as 'dotnet shoal ...' (or 'dotnet tool run shoal ...')"
    ;;
esac
