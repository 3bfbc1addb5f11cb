#!/usr/bin/env bash
# Rewrites the PublicAPI.Unshipped.txt of every library (src/*/, the tool excepted) from what the compiler says
# about the code: builds each library with warnings left as warnings, takes the symbols of the PublicApiAnalyzers'
# RS0016 ("not part of the declared public API": added) and RS0017 ("part of the declared API, but ... could not be
# found": removed or changed) diagnostics, and writes the file back sorted, "#nullable enable" first. A removed
# symbol that PublicAPI.Shipped.txt declares becomes a "*REMOVED*" line, as the analyzer wants. Then builds again
# with warnings as errors to prove the files agree with the code. Review the diff before committing it.
# A PublicAPI.Unshipped.txt with merge-conflict markers is fine: the markers go, both sides' lines are kept, and the
# build keeps only the real ones.
#
#   eng/update-public-api.sh            (from anywhere in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_UI_LANGUAGE=en DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The libraries: every project under src/ but the tool (OutputType Exe). A new library gets its two files here.
projects=()
changed=0
for project in src/*/*.csproj; do
  grep -q '<OutputType>Exe</OutputType>' "$project" && continue
  dir=$(dirname "$project")
  for file in PublicAPI.Shipped.txt PublicAPI.Unshipped.txt; do
    [ -f "$dir/$file" ] || { echo '#nullable enable' > "$dir/$file"; echo "created $dir/$file"; }
  done
  projects+=("$project")
  # Merge-conflict markers out (both sides' lines stay: the build below says which are real), duplicates out, sorted.
  # Rewriting the file also makes the compiler (and so the analyzer) run even when no source changed.
  unshipped="$dir/PublicAPI.Unshipped.txt"
  grep -v -x -E '#nullable enable|(<<<<<<<|\|\|\|\|\|\|\||>>>>>>>)( .*)?|=======|' "$unshipped" | LC_ALL=C sort -u > "$work/normalized.txt" || true
  { echo '#nullable enable'; cat "$work/normalized.txt"; } > "$work/unshipped.txt"
  cmp -s "$work/unshipped.txt" "$unshipped" || changed=1
  cp "$work/unshipped.txt" "$unshipped"
done
[ ${#projects[@]} -gt 0 ] || { echo "no library project under src/" >&2; exit 1; }

for project in "${projects[@]}"; do
  if ! dotnet build "$project" -c Release -p:TreatWarningsAsErrors=false -v:q -clp:NoSummary >>"$work/build.txt" 2>&1; then
    cat "$work/build.txt" >&2
    echo "update-public-api: $project does not build (see above)" >&2
    exit 1
  fi
done

for project in "${projects[@]}"; do
  dir=$(dirname "$project")
  unshipped="$dir/PublicAPI.Unshipped.txt"
  shipped="$dir/PublicAPI.Shipped.txt"
  # Diagnostics end in " [/absolute/path/Project.csproj]" (or "...csproj::TargetFramework=...]"); each may be
  # printed more than once.
  grep -F -e "/$project]" -e "/$project::" "$work/build.txt" > "$work/diagnostics.txt" || true
  sed -n -E "s/^.*: warning RS0016: Symbol '(.*)' is not part of the declared public API.*$/\1/p" "$work/diagnostics.txt" \
    | LC_ALL=C sort -u > "$work/added.txt"
  sed -n -E "s/^.*: warning RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found.*$/\1/p" "$work/diagnostics.txt" \
    | LC_ALL=C sort -u > "$work/removed.txt"
  if [ -f "$shipped" ]; then
    grep -xF -f "$work/removed.txt" "$shipped" | sed 's/^/*REMOVED*/' > "$work/removed-shipped.txt" || true
  else
    : > "$work/removed-shipped.txt"
  fi
  {
    grep -v -x -e '#nullable enable' -e '' "$unshipped" | grep -vxF -f "$work/removed.txt" || true
    cat "$work/added.txt" "$work/removed-shipped.txt"
  } | LC_ALL=C sort -u > "$work/entries.txt"
  { echo '#nullable enable'; cat "$work/entries.txt"; } > "$work/unshipped.txt"
  if ! cmp -s "$work/unshipped.txt" "$unshipped"; then
    cp "$work/unshipped.txt" "$unshipped"
    changed=1
  fi
  echo "$unshipped: $(wc -l < "$work/added.txt") added, $(wc -l < "$work/removed.txt") removed"
done

# The check the normal build makes (every diagnostic of the analyzer is an error there), the compiler made to run again.
touch src/*/PublicAPI.Unshipped.txt
for project in "${projects[@]}"; do
  if ! dotnet build "$project" -c Release -v:q -clp:NoSummary > "$work/check.txt" 2>&1; then
    cat "$work/check.txt" >&2
    echo "update-public-api: $project still fails with the files rewritten (see above)" >&2
    exit 1
  fi
done
[ "$changed" -eq 1 ] && echo "PublicAPI files updated: review 'git diff -- src/*/PublicAPI.*.txt'" || echo "PublicAPI files already up to date"
