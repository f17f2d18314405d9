#!/bin/sh
# Exit statuses and error lines of every subcommand: 2 for bad usage (unknown
# option, bad option value, missing argument), 1 for runtime errors (a file
# that cannot be read), always one line `moebench: WHERE: what; how to fix`;
# --help documents them; `kernels --skip-unsupported` records and exits 0.
. tests/e2e/lib.sh
M=$MOEBENCH

# expect NAME STATUS PATTERN CMD...: CMD exits STATUS with one stderr line matching PATTERN
expect() {
    name=$1; want=$2; pat=$3; shift 3
    "$@" >"$WORK/.out" 2>"$WORK/.err"; got=$?
    lines=$(wc -l <"$WORK/.err")
    if [ "$got" -eq "$want" ] && [ "$lines" -eq 1 ] && grep -Eq -- "$pat" "$WORK/.err"; then ok "$name"
    else not_ok "$name" "status $got (want $want), stderr ($lines lines): $(cat "$WORK/.err")"; fi
}

expect "no subcommand: 2" 2 "no subcommand given; see" $M
expect "unknown subcommand: 2" 2 "unknown subcommand 'frobnicate'" $M frobnicate
for c in init info extract translate backends kernels run bleu compare report; do
    expect "$c: unknown option: 2" 2 "^moebench: $c: unknown option '--no-such-option'; see 'moebench $c --help'" \
        $M $c --no-such-option
    if $M $c --help | grep -qi "exit status" && $M $c --help | grep -q "2 bad"; then
        ok "$c --help documents the exit status"
    else not_ok "$c --help documents the exit status" "$($M $c --help | tail -3)"; fi
done

# usage errors: 2
expect "run --threads 0: out of range, 2" 2 "^moebench: --threads: 0 is out of range; give a whole number in \[1, 1024\]" \
    $M run scenarios/quick.ini --threads 0
expect "run --threads x: not a number, 2" 2 "'x' is not a whole number" $M run scenarios/quick.ini --threads x
expect "run without a scenario: 2" 2 "give exactly one scenario file" $M run
expect "kernels --precision fp8: 2" 2 "unknown precision 'fp8'; use fp32, bf16, int8" $M kernels --precision fp8
expect "kernels --backend nope: 2" 2 "unknown backend 'nope'" $M kernels --backend nope
expect "kernels --preset nope: 2" 2 "nope" $M kernels --preset nope
expect "init without -o: 2" 2 "no output file; add -o" $M init --preset tiny
expect "info --preset nope: 2" 2 "nope" $M info --preset nope --variant dense
expect "extract without --task: 2" 2 "both --task T and -o" $M extract x.safetensors
expect "translate without a model: 2" 2 "give exactly one model file" $M translate --ids
expect "bleu with one file: 2" 2 "needs HYP and at least one REF" $M bleu onlyone.txt
expect "bleu --max-order 0: 2" 2 "--max-order: 0 is out of range" $M bleu --max-order 0 a b
expect "backends extra argument: 2" 2 "unexpected argument 'x'" $M backends x
expect "report without CSVs: 2" 2 "give at least one results CSV" $M report

# runtime errors: 1, with the system's reason
expect "run: missing scenario file: 1 with errno text" 1 \
    "nothere.ini: cannot open: No such file or directory; check the path" \
    $M run "$WORK/nothere.ini"
expect "info: missing model file: 1" 1 "nothere.safetensors" $M info "$WORK/nothere.safetensors"
expect "report: missing CSV: 1 with errno text" 1 "nothere.csv.*No such file or directory" \
    $M report "$WORK/nothere.csv" -o "$WORK/R.md"
expect "bleu: missing file: 1" 1 "nothere.txt" $M bleu "$WORK/nothere.txt" "$WORK/nothere.txt"
# compare keeps diff's convention for CI: 1 means a regression, 2 any trouble
expect "compare: missing file: 2" 2 "nothere.csv" $M compare "$WORK/nothere.csv" "$WORK/nothere.csv"

# a precision the machine cannot run: an error by default, a recorded skip on request. On a CPU
# with bf16 kernels, oneDNN held to AVX2 (DNNL_MAX_CPU_ISA) has none, so the path runs everywhere.
if have_backend onednn; then
    no_bf16=
    if $M kernels --backend onednn --precision bf16 --preset tiny --min-time 0.01 >/dev/null 2>&1; then
        no_bf16="DNNL_MAX_CPU_ISA=AVX2"
    fi
    # shellcheck disable=SC2086 # $no_bf16 is empty or one VAR=value word
    expect "kernels bf16 unsupported: exit 1" 1 "no bf16 matmul kernel on this CPU" \
        env $no_bf16 $M kernels --backend onednn --precision bf16 --preset tiny
    # shellcheck disable=SC2086
    if env $no_bf16 $M kernels --backend onednn --precision bf16 --preset tiny --skip-unsupported \
        --csv "$WORK/k.csv" >/dev/null 2>"$WORK/k.err" &&
        [ "$(wc -l <"$WORK/k.csv")" -eq 2 ] && awk -F, 'NR == 2 && $5 == "skipped"' "$WORK/k.csv" | grep -q . &&
        sed -n 2p "$WORK/k.csv" | grep -q "no bf16 matmul kernel" &&
        $M report "$WORK/k.csv" -o "$WORK/K.md" --figures "$WORK/kf" 2>/dev/null &&
        grep -q "^| kernels | onednn | bf16 | all | backend onednn: no bf16 matmul kernel" "$WORK/K.md"; then
        ok "kernels --skip-unsupported writes the reason to the CSV and the report, exit 0"
    else not_ok "kernels --skip-unsupported writes the reason" "$(cat "$WORK/k.err" "$WORK/k.csv" 2>&1)"; fi
else
    skip "kernels bf16 unsupported: exit 1" "onednn not compiled in"
    skip "kernels --skip-unsupported writes the reason" "onednn not compiled in"
fi
