#!/bin/sh
# Runs every unit test binary (cmocka, TAP output) and every end-to-end
# script (tests/e2e/*.sh, TAP output), and ends with one line:
#   N passed, N failed, N skipped
# A binary that dies before reporting all its planned tests counts the
# missing ones as failed.
BUILD=${1:-build}
export MOEBENCH="$PWD/$BUILD/moebench"
export MOEBENCH_DATA="${MOEBENCH_DATA:-$PWD/../shared/data}"
export CMOCKA_MESSAGE_OUTPUT=TAP
case "$BUILD" in *san*) export MOEBENCH_SANITIZED=1 ;; esac # valgrind cannot run ASan binaries
pass=0; fail=0; skip=0
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT

count() { # $1 = name; output in $tmp
    p=$(grep '^ok ' "$tmp" | grep -vc '# SKIP')
    s=$(grep -E '^(not )?ok .*# SKIP' "$tmp" | wc -l)
    f=$(grep '^not ok ' "$tmp" | grep -vc '# SKIP')
    plan=$(sed -n 's/^1\.\.\([0-9]*\).*/\1/p' "$tmp" | head -n 1)
    if [ -n "$plan" ] && [ $((p + s + f)) -lt "$plan" ]; then
        f=$((f + plan - p - s - f))
        echo "  $1: ended early (status $2), missing results counted as failed"
    fi
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "  $1: exited with status $2"
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    printf '%-28s %3d passed, %d failed, %d skipped\n' "$1" "$p" "$f" "$s"
    grep -E '^not ok ' "$tmp" | grep -v '# SKIP' | sed 's/^/    /'
    grep -E '^(not )?ok .*# SKIP|^# skip:' "$tmp" | sed 's/^/    /'
    if [ "$f" -ne 0 ]; then grep -E '^# ' "$tmp" | head -n 40 | sed 's/^/    /'; fi
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    (cd tests && "../$t") >"$tmp" 2>&1; rc=$?
    count "$(basename "$t")" $rc
done
for t in tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    [ "$(basename "$t")" = lib.sh ] && continue # the helpers the scripts share
    sh "$t" >"$tmp" 2>&1; rc=$?
    count "$(basename "$t")" $rc
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
