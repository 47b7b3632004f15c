#!/usr/bin/env bash
# Sanitizer builds of the test suite (docs/reliability.md#sanitizers):
#
#   scripts/sanitize.sh address   # clang 14, AddressSanitizer + UndefinedBehaviorSanitizer,
#                                 # with libFuzzer instrumentation: the whole suite, then every
#                                 # fuzz target for FUZZ_RUNS executions (default 100,000) from
#                                 # a fixed seed, so the run is repeatable
#   scripts/sanitize.sh thread    # g++, ThreadSanitizer: the concurrency tests
#
# Every sanitizer finding is fatal (-fno-sanitize-recover, halt_on_error), so it fails its test.
# Build dirs: build-asan, build-tsan (BUILD_DIR to change). JOBS: parallel build and test jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
jobs=${JOBS:-2}
scripts/install-deps.sh --sanitizers

case "$mode" in
  address)
    build_dir=${BUILD_DIR:-build-asan}
    CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLEDGER_SANITIZE=address,undefined -DLEDGER_FUZZ=ON \
      >/dev/null
    cmake --build "$build_dir" --parallel "$jobs"
    export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/sanitizers/ubsan.supp
    ctest --test-dir "$build_dir" --output-on-failure --timeout 900 -j "$jobs"
    scripts/fuzz.sh --build-dir "$build_dir" --runs "${FUZZ_RUNS:-100000}" --seed 1
    ;;
  thread)
    build_dir=${BUILD_DIR:-build-tsan}
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DLEDGER_SANITIZE=thread >/dev/null
    # The tests whose subject is threads: the sequencer's two threads, the projection runners,
    # the HTTP and binary servers under concurrent clients, the NATS publisher and replica.
    cmake --build "$build_dir" --parallel "$jobs" --target commands_test projections_test \
      transport_test ledgerd ledger-tail
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 suppressions=$PWD/tests/sanitizers/tsan.supp"
    ctest --test-dir "$build_dir" --output-on-failure --timeout 900 -j "$jobs" \
      -R 'Sequencer|ProjectionRunner|Concurrency|Concurrent|BinaryProtocol|Overload|NatsPublisher|NatsReplica|Restart'
    ;;
  *)
    echo "usage: scripts/sanitize.sh address|thread" >&2
    exit 2
    ;;
esac
