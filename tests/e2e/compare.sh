#!/bin/sh
# End-to-end tests of `moebench compare`: exit status (0 no regression,
# 1 regression, 2 bad input), one-line errors, the three output formats, on
# the small fixtures in tests/data/compare (written to results/README.md's
# schema: base.csv has 2 threads and 6 repetitions per configuration,
# new-1thread.csv the same configurations at 1 thread and half the
# throughput; callgrind-*.csv carry instruction counts). Then, when
# `moebench run` works, the same comparison on two real runs.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$ROOT/tests/data/compare
M=$MOEBENCH

# expect_status NAME WANT PATTERN CMD...: ok when CMD exits with WANT and its
# stdout matches PATTERN (grep -E; empty: anything).
expect_status() {
    name=$1; want=$2; pat=$3; shift 3
    "$@" >"$WORK/.out" 2>"$WORK/.err"; rc=$?
    if [ "$rc" -ne "$want" ]; then
        not_ok "$name" "exit status $rc, want $want; stderr: $(cat "$WORK/.err")"
    elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$WORK/.out"; then
        not_ok "$name" "stdout does not match '$pat':
$(cat "$WORK/.out")"
    else ok "$name"; fi
}
# fails2 NAME PATTERN CMD...: exit status 2 and one stderr line matching PATTERN.
fails2() {
    name=$1; pat=$2; shift 2
    "$@" >"$WORK/.out" 2>"$WORK/.err"; rc=$?
    lines=$(wc -l <"$WORK/.err")
    if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -Eq -- "$pat" "$WORK/.err"; then ok "$name"
    else not_ok "$name" "exit status $rc (want 2), stderr ($lines lines): $(cat "$WORK/.err")"; fi
}

# --- a file against itself: no regression
expect_status "file compared with itself: exit 0" 0 '^result: no regression$' \
    "$M" compare "$D/base.csv" "$D/base.csv"
expect_status "  ... every verdict unchanged" 0 '^0 regressed, 0 improved, 4 unchanged' \
    "$M" compare "$D/base.csv" "$D/base.csv"
expect_status "  ... markdown summary line first" 0 '^\*\*moebench compare: no regression\*\*' \
    "$M" compare "$D/base.csv" "$D/base.csv" --format markdown
expect_status "  ... json" 0 '"regression":false,"exit_status":0,"result":"no_regression",.*"summary":\{"unchanged":4,' \
    "$M" compare --format json "$D/base.csv" "$D/base.csv"
if command -v python3 >/dev/null 2>&1; then
    if "$M" compare --format json "$D/base.csv" "$D/base.csv" | python3 -c '
import json, sys
d = json.load(sys.stdin)
c = d["comparisons"][0]
assert d["regression"] is False and len(d["comparisons"]) == 4, d
assert c["metric"] == "tgt_tok_per_s" and c["verdict"] == "unchanged" and c["test"] == "exact-ties", c
assert c["config"]["threads"] == "2" and c["n_base"] == 6 and c["ratio"] == 1.0, c
' 2>"$WORK/.py"; then ok "  ... json parses, keys as documented"
    else not_ok "  ... json parses, keys as documented" "$(cat "$WORK/.py")"; fi
else
    skip "  ... json parses, keys as documented" "python3 not installed"
fi

# --- NEW at 1 thread instead of 2, half the throughput: regression
expect_status "1 thread instead of 2: regression, exit 1" 1 '^4 regressed' \
    "$M" compare "$D/base.csv" "$D/new-1thread.csv" --ignore-key threads
expect_status "  ... throughput row says regressed" 1 'tgt_tok_per_s +6/6 +[0-9.]+ +[0-9.]+ +-5[0-9]\.[0-9]%.*regressed' \
    "$M" compare "$D/base.csv" "$D/new-1thread.csv" --ignore-key threads
expect_status "  ... markdown for the pull request" 1 '^\*\*moebench compare: 4 regressions\*\*' \
    "$M" compare "$D/base.csv" "$D/new-1thread.csv" --ignore-key threads --format markdown
expect_status "  ... a 150% threshold tolerates it (latency doubled)" 0 '^result: no regression$' \
    "$M" compare "$D/base.csv" "$D/new-1thread.csv" --ignore-key threads --threshold 150%
fails2 "  ... without --ignore-key nothing matches, and the message says why" \
    "^moebench: compare: .* have no configuration in common; they differ in threads: to compare across it, add --ignore-key threads$" \
    "$M" compare "$D/base.csv" "$D/new-1thread.csv"

sed 's/,AMD EPYC,/,Intel Xeon,/' "$D/base.csv" >"$WORK/other-cpu.csv"
expect_status "files from different CPUs: a note" 0 "different machines \(cpu_model 'AMD EPYC' in BASE, 'Intel Xeon' in NEW\)" \
    "$M" compare "$D/base.csv" "$WORK/other-cpu.csv"

# --- instruction counts: 1% threshold, no statistics
expect_status "callgrind_ir +2.5%: regression" 1 'callgrind_ir +2/2 +412345678 +422654319 +\+2\.50% .*regressed' \
    "$M" compare "$D/callgrind-base.csv" "$D/callgrind-new.csv"
expect_status "  ... only callgrind_ir is judged by default (the rest was timed under valgrind)" 1 \
    '^  instruction counts \(callgrind_ir\) are judged, not the wall-clock columns' \
    "$M" compare "$D/callgrind-base.csv" "$D/callgrind-new.csv"
expect_status "  ... --ins-threshold 3% tolerates it" 0 '' \
    "$M" compare "$D/callgrind-base.csv" "$D/callgrind-new.csv" --ins-threshold 3 --metric callgrind_ir

# --- bad input: exit 2, one line naming the file
fails2 "CSV missing a column" \
    "^moebench: .*missing-column\.csv: no column 'latency_p99_ms'" \
    "$M" compare "$D/base.csv" "$D/missing-column.csv"
fails2 "unreadable file" "^moebench: $WORK/none\.csv: cannot open: No such file or directory$" \
    "$M" compare "$D/base.csv" "$WORK/none.csv"
fails2 "a folder instead of a file" "^moebench: $D: is a directory; give a results CSV$" \
    "$M" compare "$D" "$D/base.csv"
fails2 "ragged row" "^moebench: .*ragged\.csv:3: row has 2 fields, the header has 3" \
    "$M" compare "$D/base.csv" "$D/ragged.csv"
printf '' >"$WORK/empty.csv"
fails2 "empty file" "^moebench: .*empty\.csv: empty file: no header row$" \
    "$M" compare "$WORK/empty.csv" "$D/base.csv"
sed '3s/,2,en-de,8,greedy,,2,16,460,412,[0-9.]*,[0-9.]*,/,2,en-de,8,greedy,,2,16,460,412,0.2,fast,/' \
    "$D/base.csv" >"$WORK/text.csv"
fails2 "a metric cell that is not a number" "^moebench: .*text\.csv:3: column 'tgt_tok_per_s': 'fast' is not a number$" \
    "$M" compare "$D/base.csv" "$WORK/text.csv"
fails2 "unknown metric" "no column 'nonesuch' \(named by --metric\)" \
    "$M" compare "$D/base.csv" "$D/base.csv" --metric tgt_tok_per_s,nonesuch
fails2 "unknown option" "^moebench: compare: unknown option '--bogus'" \
    "$M" compare --bogus "$D/base.csv" "$D/base.csv"
fails2 "option without its value" "^moebench: compare: option '--alpha' needs a value" \
    "$M" compare "$D/base.csv" "$D/base.csv" --alpha
fails2 "bad threshold" "^moebench: compare: --threshold: 'five' is not a percentage" \
    "$M" compare --threshold five "$D/base.csv" "$D/base.csv"
fails2 "bad format" "^moebench: compare: --format: 'xml' is not text, markdown or json$" \
    "$M" compare --format xml "$D/base.csv" "$D/base.csv"
fails2 "one file only" "^moebench: compare: needs two files" "$M" compare "$D/base.csv"
expect_status "--help documents the JSON keys" 0 'only_in_base, only_in_new' "$M" compare --help

# --- the real thing: two real runs with a regression planted in the second,
# which compare must flag. Wall-clock time cannot decide this reliably on a
# shared machine (a second thread, or even a 2x slower build, can be hidden
# by other load), so the runs count instructions with callgrind, which is
# deterministic: NEW runs the same tiny dense model with its FFN four times
# as wide (d_ff 512 instead of 128), the same configuration keys, and must
# come out as a regression of callgrind_ir. Not detecting it is a failure.
name="real runs: planted regression (FFN 4x wider) flagged by instruction counts"
if [ -n "$MOEBENCH_SANITIZED" ]; then
    skip "$name" "valgrind cannot run sanitizer builds (MOEBENCH_SANITIZED)"
elif ! command -v valgrind >/dev/null 2>&1; then
    skip "$name" "valgrind is not installed (Debian package valgrind)"
else
    sed -e 's/^variants *=.*/variants = dense/' -e 's/^modes *=.*/modes = offline/' \
        -e 's/^batch_sizes *=.*/batch_sizes = 8/' "$ROOT/scenarios/quick.ini" >"$WORK/base.ini"
    sed -e 's/^variants *=.*/variants = dense\nd_ff = 512/' "$WORK/base.ini" >"$WORK/new.ini"
    if ! "$M" run "$WORK/base.ini" --count-instructions --out "$WORK/a" >"$WORK/.run" 2>&1 ||
       ! "$M" run "$WORK/new.ini" --count-instructions --out "$WORK/b" >"$WORK/.run" 2>&1; then
        not_ok "$name" "moebench run failed: $(tail -n 5 "$WORK/.run")"
    else
        a=$(ls "$WORK"/a/*.csv | head -n 1); b=$(ls "$WORK"/b/*.csv | head -n 1)
        "$M" compare "$a" "$b" --metric callgrind_ir >"$WORK/.cmp" 2>&1; rc=$?
        if [ "$rc" -eq 1 ] && grep -q '0 configurations only in BASE, 0 only in NEW' "$WORK/.cmp" &&
           grep -Eq 'callgrind_ir .*regressed' "$WORK/.cmp"; then
            ok "$name"
        else not_ok "$name" "exit $rc (want 1): $(cat "$WORK/.cmp")"; fi
    fi
fi
