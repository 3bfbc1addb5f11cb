#!/usr/bin/env bash
# The long campaign: each target in turn under nice -n 19 until EXECS executions (afl-fuzz -E) or SECONDS, whichever
# comes first, resuming fuzz/out/findings/TARGET; one line per target appended to fuzz/out/campaign.txt.
#   fuzz/campaign.sh [EXECS] [SECONDS] [TARGET...]      defaults: 1000000 executions, 3600 s, every target
set -uo pipefail
cd "$(dirname "$0")"
execs=${1:-1000000}; seconds=${2:-3600}; shift $(( $# >= 2 ? 2 : $# ))
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(ls corpus))
./build.sh
for target in "${targets[@]}"; do
  nice -n 19 ./run.sh "$target" "$seconds" -E "$execs" | tee -a out/campaign.txt
done
