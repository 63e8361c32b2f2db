#!/usr/bin/env bash
# CI check: the C# sources follow .editorconfig's layout (indentation, braces, spacing, line
# endings, final newlines). Whitespace only, over the files on disk (--folder: no restore or
# build, so it takes well under a minute). To fix what it reports:
#   dotnet format whitespace . --folder
# Why whitespace only: the analyzers (style and correctness) already run in every build with
# warnings as errors, so `dotnet format` style/analyzers passes would repeat the build's checks
# and need a restore; this leaves layout, which the build does not check.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== format (dotnet format whitespace --verify-no-changes)"
start=$(date +%s)
if ! dotnet format whitespace . --folder --verify-no-changes -v q; then
  echo "format.sh: files above are not formatted as .editorconfig says; run: dotnet format whitespace . --folder" >&2
  exit 1
fi
echo "format: ok ($(( $(date +%s) - start )) s)"
