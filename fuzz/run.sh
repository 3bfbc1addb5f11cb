#!/usr/bin/env bash
# Runs one fuzz target under afl-fuzz for SECONDS: fuzz/run.sh TARGET SECONDS [afl-fuzz options...]
#
# Builds and instruments the harness first when needed (fuzz/build.sh). The corpus starts from fuzz/corpus/TARGET;
# findings go to fuzz/out/findings/TARGET, or $SSH_FUZZ_OUT/TARGET (an existing one is resumed: its queue continues). Dictionaries: dict/ssh.dict
# and dict/TARGET.dict when present. At the end the numbers are printed (executions, exec/s, edges, corpus, crashes,
# hangs); every crash is replayed once outside afl-fuzz to show its exception, and the exit code is 1 when a crash was
# saved or a saved hang reproduces outside afl-fuzz. Long campaigns: run under `nice -n 19` (the script does not renice itself).
set -euo pipefail
cd "$(dirname "$0")"
if [ $# -lt 2 ]; then
  echo "usage: fuzz/run.sh TARGET SECONDS [afl-fuzz options...]" >&2
  exit 2
fi
target=$1; seconds=$2; shift 2
command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz not found (Debian package afl++)" >&2; exit 2; }
[ -d "corpus/$target" ] || { echo "fuzz: no corpus/$target; targets: $(ls corpus | tr '\n' ' ')" >&2; exit 2; }
./build.sh

root=${SSH_FUZZ_OUT:-out/findings}
findings=$root/$target
mkdir -p "$root"
dicts=(-x dict/ssh.dict)
[ -f "dict/$target.dict" ] && dicts+=(-x "dict/$target.dict")

# The target is `dotnet` running the harness: not an instrumented binary afl-fuzz could check. The harness process
# lives for the whole run (persistent mode), so its start-up (seconds under load) needs a long first timeout.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1 AFL_FORKSRV_INIT_TMOUT=120000 AFL_AUTORESUME=1 AFL_QUIET=1
# Unbounded memory is a finding: past 2 GiB of managed heap the runtime throws OutOfMemoryException, a crash.
export DOTNET_GCHeapHardLimit=0x80000000 DOTNET_TieredPGO=0
# afl-fuzz kills the whole harness on a timeout (SharpFuzz reports its own pid), so its limit is a backstop: the
# transport-level targets report a hang themselves after SSH_FUZZ_HANG_SECONDS (20).
timeout_ms=${SSH_FUZZ_TIMEOUT_MS:-60000}

start=$(date +%s)
set +e
afl-fuzz -i "corpus/$target" -o "$findings" -t "$timeout_ms" -m none -V "$seconds" "${dicts[@]}" "$@" \
  -- dotnet out/bin/Ssh.Transport.Fuzz.dll "$target" > "$root/$target.log" 2>&1
status=$?
set -e
elapsed=$(( $(date +%s) - start ))
stats=$findings/default/fuzzer_stats
if [ ! -f "$stats" ]; then
  echo "fuzz: $target: afl-fuzz did not start (exit $status); see fuzz/$root/$target.log" >&2
  tail -20 "$root/$target.log" >&2
  exit 2
fi
get() { sed -n "s/^$1 *: *//p" "$stats"; }
crashes=$(find "$findings/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
hangs=$(find "$findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
printf '%-26s %6ss  execs %10s  exec/s %8s  edges %5s  corpus %5s  crashes %s  hangs %s\n' \
  "$target" "$elapsed" "$(get execs_done)" "$(get execs_per_sec)" "$(get edges_found)" "$(get corpus_count)" "$crashes" "$hangs"

# A hang afl-fuzz saved may be the machine's load (its timeout is wall time): replay each with the harness's own limit.
reproduced=0
if [ "$hangs" -gt 0 ]; then
  for f in "$findings"/default/hangs/id:*; do
    if ! timeout 120 dotnet out/bin/Ssh.Transport.Fuzz.dll "$target" --replay "$f" >/dev/null 2>&1; then
      echo "  hang reproduces: fuzz/$f"
      reproduced=$((reproduced + 1))
    fi
  done
fi
# afl-fuzz stops with an error when the harness process dies outside an input (a crash the runtime cannot catch:
# a stack overflow, a fatal error) or exceeds the timeout: a finding too.
if [ "$status" -ne 0 ]; then
  echo "  afl-fuzz exited with $status: the harness died; see fuzz/$root/$target.log"
  grep -a -m 3 -E 'PROGRAM ABORT|Location' "$root/$target.log" | sed 's/^/    /'
fi
if [ "$crashes" -gt 0 ]; then
  for f in "$findings"/default/crashes/id:*; do
    echo "  crash: fuzz/$f"
    timeout 120 dotnet out/bin/Ssh.Transport.Fuzz.dll "$target" --replay "$f" 2>&1 | grep -m 3 -E 'FAIL|Exception' | cut -c1-300 | sed 's/^/    /'
  done
  exit 1
fi
[ "$reproduced" -eq 0 ] && [ "$status" -eq 0 ]
