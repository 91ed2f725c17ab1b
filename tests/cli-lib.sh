# cli-lib.sh — what the shell tests of the uvfs command (test-cli.sh,
# test-fuse.sh) share: pass/fail counting, running a command with its
# output kept, exit-status and stderr checks. Sourced after $T (the test's
# temporary directory) is set; `section` names the part of the test running.
npass=0
nfail=0
section=""
ok() { npass=$((npass + 1)); }
bad() {
    nfail=$((nfail + 1))
    echo "FAIL [$section]: $*" >&2
}
# A sanitizer report must never hide behind an expected exit status 1.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}:exitcode=86"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-}:exitcode=86"
# run CMD... : run, keeping stdout in $T/out, stderr in $T/err, status in $rc
run() {
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ge 86 ] || grep -qE 'Sanitizer|runtime error:' "$T/err"; then
        bad "crash or sanitizer report (exit $rc): $*"
        sed 's/^/    /' "$T/err" | head -20 >&2
    fi
}
show_err() { sed 's/^/    stderr: /' "$T/err" | head -5 >&2; }
# expect RC DESC CMD... : run CMD and check its exit status
expect() {
    local want=$1 desc=$2
    shift 2
    run "$@"
    if [ "$rc" -ne "$want" ]; then
        bad "$desc: exit $rc, expected $want ($*)"
        show_err
        return 1
    fi
    ok
    return 0
}
# err_has LINE : stderr has exactly this line
err_has() {
    if grep -qxF -- "$1" "$T/err"; then ok; else
        bad "stderr lacks line: $1"
        show_err
    fi
}
# err_match ERE : stderr has a line matching it
err_match() {
    if grep -qE -- "$1" "$T/err"; then ok; else
        bad "stderr lacks a line matching: $1"
        show_err
    fi
}
