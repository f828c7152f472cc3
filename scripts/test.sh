#!/usr/bin/env bash
# Builds DPMP and runs every test suite (unit, simulators, end to end).
# Installs missing Debian packages first.  Usage:
#   scripts/test.sh              all suites, normal build in build/
#   scripts/test.sh --sanitize   unit and e2e suites under ASan+UBSan in build-san/
#   scripts/test.sh -L unit      pass extra arguments on to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

builddir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  shift
  builddir=build-san
  cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DDPMP_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi

scripts/deps.sh
cmake -S . -B "$builddir" "${cmake_args[@]}" >/dev/null
cmake --build "$builddir" -j"$(nproc)"
cd "$builddir"
ctest --output-on-failure --timeout 300 "$@"
