#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/, docs/reliability.md#fuzzing) of a clang build made
# with -DLEDGER_FUZZ=ON (scripts/sanitize.sh address makes one: build-asan).
#
#   scripts/fuzz.sh [--build-dir DIR] [--seconds S | --runs N] [--seed N] [--out DIR] [TARGET...]
#
# TARGET: json_commands http_requests binary_frames search_dsl stored_events (default: all).
# Each target starts from a copy of its seed corpus (tests/fuzz/corpus/TARGET) and runs for S
# seconds (default 20) or N executions; --seed fixes libFuzzer's random seed (CI uses one, so
# its short run is repeatable). New inputs stay in OUT/corpus/TARGET; a crash, leak,
# timeout or sanitizer finding leaves its input in OUT/findings/TARGET and fails the script:
# copy it into tests/fuzz/regressions/TARGET/ once fixed, so ctest replays it forever.
# Prints each target's executions and exec/s (libFuzzer's final stats).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build-asan
seconds=20
runs=
seed=
out=
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown flag $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(json_commands http_requests binary_frames search_dsl stored_events)
[[ -n "$out" ]] || out=$(mktemp -d /tmp/ledger-fuzz-XXXXXX)
limit=(-max_total_time="$seconds")
[[ -z "$runs" ]] || limit=(-runs="$runs")
[[ -z "$seed" ]] || limit+=(-seed="$seed")

# The HTTP target writes through RocksDB with sync: on tmpfs those syncs cost nothing.
export TMPDIR=${FUZZ_TMPDIR:-/dev/shm}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/sanitizers/ubsan.supp}

failed=0
for target in "${targets[@]}"; do
  binary="$build_dir/tests/fuzz/fuzz_$target"
  if [[ ! -x "$binary" ]]; then
    echo "fuzz.sh: $binary not built (configure with -DLEDGER_FUZZ=ON)" >&2
    exit 2
  fi
  corpus="$out/corpus/$target"
  findings="$out/findings/$target"
  mkdir -p "$corpus" "$findings"
  log="$out/$target.log"
  echo "fuzz $target: ${limit[*]}, log $log"
  status=0
  "$binary" "${limit[@]}" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$findings/" "$corpus" "tests/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
  executions=$(grep -o 'stat::number_of_executed_units:[[:space:]]*[0-9]*' "$log" | awk '{print $2}' | tail -1)
  rate=$(grep -o 'stat::average_exec_per_sec:[[:space:]]*[0-9]*' "$log" | awk '{print $2}' | tail -1)
  echo "fuzz $target: exit $status, ${executions:-?} executions, ${rate:-?} exec/s, corpus $(ls "$corpus" | wc -l) inputs"
  if [[ $status -ne 0 ]]; then
    failed=1
    tail -40 "$log" >&2
    echo "fuzz $target: finding(s) in $findings: $(ls "$findings")" >&2
  fi
done
exit $failed
