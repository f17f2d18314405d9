#!/bin/sh
# Runs each libFuzzer target (built by `make fuzz` in build-fuzz/fuzz/) for
# SECONDS, one after the other: new inputs go to build-fuzz/corpus/TARGET
# (the seeds in tests/fuzz/corpus/TARGET are read, never written), crashes
# to build-fuzz/crash-TARGET-*. Ends with one line per target and exit 1
# when any target found something. Usage: run.sh SECONDS TARGET...
secs=${1:?seconds}; shift
status=0
summary=""
for t in "$@"; do
    mkdir -p "build-fuzz/corpus/$t"
    log="build-fuzz/fuzz-$t.log"
    echo "fuzz: $t for $secs s (log $log)"
    if build-fuzz/fuzz/fuzz_"$t" -max_total_time="$secs" -dict="tests/fuzz/$t.dict" -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$t-" \
        "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
        res="ok"
    else
        res="FOUND SOMETHING: $(ls build-fuzz/crash-"$t"-* build-fuzz/timeout-"$t"-* build-fuzz/oom-"$t"-* 2>/dev/null | head -3 | tr '\n' ' ')"
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    summary="$summary$(printf '%-9s %10s runs, %s, %s' "$t" "${runs:-?}" "${cov:-cov: ?}" "$res")
"
done
printf '%s' "$summary"
exit $status
