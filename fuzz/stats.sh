#!/usr/bin/env bash
# Prints the campaign's numbers as a Markdown table, from each target's fuzzer_stats in fuzz/out/findings (or $1).
set -euo pipefail
cd "$(dirname "$0")"
root=${1:-out/findings}
echo "| target | executions | exec/s | time | edges | corpus | stability | crashes | hangs |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for stats in "$root"/*/default/fuzzer_stats; do
  target=$(basename "$(dirname "$(dirname "$stats")")")
  get() { sed -n "s/^$1 *: *//p" "$stats"; }
  crashes=$(find "$root/$target/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$root/$target/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
  seconds=$(get run_time); execs=$(get execs_done)
  rate=$(( seconds > 0 ? execs / seconds : 0 ))
  printf '| `%s` | %s | %s | %s s | %s | %s | %s | %s | %s |\n' "$target" "$execs" "$rate" "$seconds" "$(get edges_found)" "$(get corpus_count)" "$(get stability)" "$crashes" "$hangs"
done
