#!/usr/bin/env bash
# Builds the fuzz harness into fuzz/out/bin and instruments the libraries there with SharpFuzz (their copies in out/bin
# only; the projects' own bin folders are never touched). Skipped when out/bin is newer than every source file, unless
# --force. With --seeds, also rewrites the generated seeds in corpus/ (Ssh.Transport.Fuzz seeds).
set -euo pipefail
cd "$(dirname "$0")"
force=0; seeds=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --seeds) seeds=1 ;;
    *) echo "usage: fuzz/build.sh [--force] [--seeds]" >&2; exit 2 ;;
  esac
done

out=out/bin
stamp=$out/.instrumented
if [ "$force" = 0 ] && [ -f "$stamp" ] && [ -z "$(find ../src/Ssh.Transport ../src/Ssh.Transport.Connection Ssh.Transport.Fuzz keys ../Directory.Build.props ../Directory.Packages.props \
    \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name 'id_*' \) -newer "$stamp" -not -path '*/obj/*' -not -path '*/bin/*' -print -quit)" ]; then
  exit 0
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore >/dev/null
rm -rf "$out"
echo "fuzz: building the harness into fuzz/$out"
dotnet publish Ssh.Transport.Fuzz/Ssh.Transport.Fuzz.csproj -c Release -o "$out" --nologo -v q -p:UseAppHost=false >/dev/null
for assembly in Ssh.Transport Ssh.Transport.Connection; do
  dotnet tool run sharpfuzz "$out/$assembly.dll" >/dev/null
done
echo "fuzz: instrumented Ssh.Transport.dll and Ssh.Transport.Connection.dll"
touch "$stamp"
if [ "$seeds" = 1 ]; then
  dotnet "$out/Ssh.Transport.Fuzz.dll" seeds corpus
fi
