#!/usr/bin/env bash
# Run the whole uvfs test suite: install missing dependencies, build and test
# once normally (build-test/) and once under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan/). Exit status 0 only if both runs
# pass. Extra arguments are passed to `meson test` (e.g. a test name).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

run() { # run NAME BUILDDIR MESON-SETUP-ARGS...
    local name=$1 dir=$2; shift 2
    echo "=== $name build ($dir)"
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
    ninja -C "$dir" >/dev/null
    echo "=== $name tests"
    meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" \
        --timeout-multiplier "${TIMEOUT_MULT:-1}" "${TEST_ARGS[@]}" || status=1
}

TEST_ARGS=("$@")
status=0
run normal build-test
TIMEOUT_MULT=4 run sanitizers build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all

# One closing line over both runs, counting every test case the C harness and
# the shell tests report.
python3 scripts/summary.py build-test/meson-logs/testlog.json build-asan/meson-logs/testlog.json
exit $status
