#!/bin/sh
# End-to-end tests of `moebench report` on the fixtures in tests/data/report/:
# the report's tables, each gnuplot script (plots/*.gp) producing a non-empty
# PNG (800 px wide) and SVG, the report without gnuplot on PATH (tables still
# written, skipped figures named), relative figure links, and one-line errors.
# The figure checks skip with a message where gnuplot is not installed.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FIX=$ROOT/tests/data/report
W=$WORK
GNUPLOT=$(command -v gnuplot 2>/dev/null)

# has NAME FILE TEXT: ok when FILE contains the line fragment TEXT.
has() {
    if grep -Fq -- "$3" "$2"; then ok "$1"; else not_ok "$1" "missing from $2: $3"; fi
}

# png_ok FILE: a non-empty PNG of a fixed size, 900 px wide and 560 px high
# (760 for the kernels figures), whatever the data (IHDR width and height,
# bytes 17-24): a figure that grows with its data ends up clipped or unreadable.
png_ok() {
    [ -s "$1" ] && [ "$(od -An -tx1 -j1 -N3 "$1" | tr -d ' \n')" = "504e47" ] &&
        [ "$(od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4 "x" $5*16777216 + $6*65536 + $7*256 + $8}')" = \
          "$(case "$1" in *kernels*|*/f5.png) echo 900x760 ;; *) echo 900x560 ;; esac)" ]
}
svg_ok() {
    [ -s "$1" ] && grep -q '<svg' "$1" && grep -q 'width="900' "$1"
}

# ---- the report, with figures where gnuplot is installed
mkdir -p "$W/r1"
if "$MOEBENCH" report "$FIX/wmt.csv" "$FIX/demo.csv" "$FIX/kernels.csv" -o "$W/r1/REPORT.md" \
    >"$W/r1.out" 2>"$W/r1.err"; then ok "report exits 0"; else not_ok "report exits 0" "$(cat "$W/r1.err")"; fi
MD=$W/r1/REPORT.md
if [ -s "$MD" ] && [ ! -e "$MD.tmp" ]; then ok "REPORT.md written (no .tmp left)"
else not_ok "REPORT.md written (no .tmp left)"; fi
has "task-moe table row" "$MD" \
    "| task-moe | wmt32e | 533.0M | 200.0M | 180.0M | 1100.0 (64) | 1000.0–1150.0 | 1.83x | 9.00 | 17.50 | 29.00 |"
has "token-moe table row" "$MD" \
    "| token-moe | wmt32e | 533.0M | 533.0M | 180.0M | 600.0 (64) | 560.0–640.0 | 1.00x | 13.00 | 32.50 | 28.00 |"
has "paper's 1.87x beside ours" "$MD" "| 1.87x | 1.83x (\`fixture-wmt32e\`"
has "paper's parameters beside ours" "$MD" "| 533M vs 142M | 533.0M vs 142.0M"
has "honest sentence" "$MD" "there is no all-to-all communication"
has "machine" "$MD" "| CPU | Fixture CPU 9000 @ 3.6GHz, 2 cores |"
has "run command" "$MD" "moebench run scenarios/fixture-wmt32e.ini"
has "report command" "$MD" "moebench report $FIX/wmt.csv $FIX/demo.csv $FIX/kernels.csv -o $W/r1/REPORT.md"
has "data file for figure 1" "$W/r1/figures/fixture-wmt32e-throughput-peak.dat" '"task-moe" 64 1100'

if [ -z "$GNUPLOT" ]; then
    skip "figures drawn by moebench report" "gnuplot is not installed (apt-get install gnuplot-nox)"
    skip "each plots/*.gp gives a PNG and an SVG" "gnuplot is not installed (apt-get install gnuplot-nox)"
    skip "params.gp on a log axis" "gnuplot is not installed"
else
    has "gnuplot version in the report" "$MD" "| gnuplot | gnuplot "
    bad=""
    for f in fixture-wmt32e-throughput fixture-wmt32e-latency fixture-wmt32e-bleu-throughput \
        fixture-wmt32e-params fixture-wmt32e-task-bleu demo-throughput demo-params kernels-ref-fp32 kernels-onednn-bf16; do
        png_ok "$W/r1/figures/$f.png" && svg_ok "$W/r1/figures/$f.svg" || bad="$bad $f"
        grep -Fq "](figures/$f.png)" "$MD" || bad="$bad $f(link)"
    done
    if [ -z "$bad" ]; then ok "figures drawn by moebench report"; else not_ok "figures drawn by moebench report" "bad:$bad"; fi
    # Each script on its own, from the data files the report wrote, into a fresh folder.
    D=$W/r1/figures; O=$W/direct; mkdir -p "$O"; bad=""
    t="title"; s="subtitle"
    run_gp() { # NAME SCRIPT DATA...
        n=$1; sc=$2; shift 2
        if ! "$GNUPLOT" -c "$ROOT/plots/$sc" "$O/$n" "$t" "$s" "$@" >"$O/$n.log" 2>&1 ||
            ! png_ok "$O/$n.png" || ! svg_ok "$O/$n.svg"; then bad="$bad $sc($(head -c 300 "$O/$n.log"))"; fi
    }
    run_gp f1 throughput.gp "$D/fixture-wmt32e-throughput.dat" "$D/fixture-wmt32e-throughput-peak.dat"
    run_gp f2 latency.gp "$D/fixture-wmt32e-latency-single-stream.dat" "$D/fixture-wmt32e-latency-server.dat"
    run_gp f2a latency.gp "$D/fixture-wmt32e-latency-single-stream.dat" ""
    run_gp f2b latency.gp "" "$D/fixture-wmt32e-latency-server.dat"
    run_gp f3 bleu_throughput.gp "$D/fixture-wmt32e-bleu-throughput.dat"
    run_gp f4 params.gp "$D/fixture-wmt32e-params.dat" linear
    run_gp f5 kernels.gp "$D/kernels-ref-fp32.dat"
    run_gp f6 task_bleu.gp "$D/fixture-wmt32e-task-bleu.dat" 4
    if [ -z "$bad" ]; then ok "each plots/*.gp gives a PNG and an SVG"; else not_ok "each plots/*.gp gives a PNG and an SVG" "$bad"; fi
    bad=""
    run_gp f4log params.gp "$D/fixture-wmt32e-params.dat" log
    if [ -z "$bad" ]; then ok "params.gp on a log axis"; else not_ok "params.gp on a log axis" "$bad"; fi
fi

# ---- without gnuplot on PATH: the tables are still written, skipped figures named
mkdir -p "$W/nogp" "$W/r2"
if PATH="$W/nogp" "$MOEBENCH" report "$FIX/wmt.csv" -o "$W/r2/REPORT.md" >"$W/r2.out" 2>"$W/r2.err"
then ok "report without gnuplot exits 0"; else not_ok "report without gnuplot exits 0" "$(cat "$W/r2.err")"; fi
has "without gnuplot: table row" "$W/r2/REPORT.md" "| student | wmt-dense | 142.0M | 142.0M | 142.0M | 1100.0 (8) |"
has "without gnuplot: says so in the report" "$W/r2/REPORT.md" "not drawn: gnuplot not found on PATH"
has "without gnuplot: names skipped figures on stderr" "$W/r2.err" \
    "gnuplot not found on PATH: wrote the tables to $W/r2/REPORT.md; skipped figures: fixture-wmt32e-throughput,"
if [ "$(wc -l <"$W/r2.err")" -eq 1 ] && [ ! -e "$W/r2/figures/fixture-wmt32e-throughput.png" ] &&
    [ -s "$W/r2/figures/fixture-wmt32e-throughput.dat" ]; then ok "without gnuplot: data files, no images, one line"
else not_ok "without gnuplot: data files, no images, one line" "$(cat "$W/r2.err")"; fi

# ---- a student from random weights is labelled as what it is, not as a distilled model
sed 's/,file:fixture.safetensors$/,random/' "$FIX/wmt.csv" >"$W/random.csv"
mkdir -p "$W/r3"
PATH="$W/nogp" "$MOEBENCH" report "$W/random.csv" -o "$W/r3/REPORT.md" 2>/dev/null
has "untrained student: labelled, speed-up = dense" "$W/r3/REPORT.md" \
    "| student: dense-shaped, untrained (= dense) | wmt-dense | 142.0M | 142.0M | 142.0M | 1100.0 (8) | 1000.0–1200.0 | = dense |"
if grep -q "share of token-moe's BLEU gain over dense kept | 32% | not measured" "$W/r3/REPORT.md" &&
   ! grep -q "share of token-moe's BLEU gain over dense kept | 32% | not measured" "$W/r2/REPORT.md"; then
    ok "untrained student: no distillation claim (a file-loaded one gets one)"
else not_ok "untrained student: no distillation claim (a file-loaded one gets one)" "$(grep "BLEU gain" "$W/r3/REPORT.md" "$W/r2/REPORT.md")"; fi

# ---- a second precision of the same runs: the precision section, BLEU and speed against fp32
# (the fixture's rows again as int8: BLEU 1.25 lower on en-de, 0.5 lower on en-fr, same times)
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; print; next } { print }
    $col["variant"] == "dense" { $col["precision"] = "int8"; if ($col["task"] == "en-de") $col["bleu"] -= 1.25
        if ($col["task"] == "en-fr") $col["bleu"] -= 0.5; print }' "$FIX/wmt.csv" >"$W/prec.csv"
mkdir -p "$W/r5"
PATH="$W/nogp" "$MOEBENCH" report "$W/prec.csv" -o "$W/r5/REPORT.md" 2>/dev/null
has "precision section: int8 against fp32, BLEU per task and speed" "$W/r5/REPORT.md" \
    "| fixture-wmt32e | ref, 2 threads | dense | int8 | 24.12 | 25.00 | -0.88 | en-de -1.25, en-fr -0.50 |"
if grep -q "^| fixture-wmt32e | ref, 2 threads | dense | int8 | .* | 1.00x |$" "$W/r5/REPORT.md" &&
   [ "$(grep -c '^| fixture-wmt32e | ref, 2 threads |' "$W/r5/REPORT.md")" -eq 1 ]; then
    ok "precision section: one row (the variant in both precisions), same speed"
else not_ok "precision section: one row, same speed" "$(grep -A4 'Precision against' "$W/r5/REPORT.md")"; fi
if ! grep -q "Precision against fp32" "$W/r2/REPORT.md"; then ok "no precision section with fp32 alone"
else not_ok "no precision section with fp32 alone" "$(grep -A3 'Precision against' "$W/r2/REPORT.md")"; fi

# ---- capacity drops are shown, and unequal ones flagged (schema 1 file: dropped_tokens counted assignments)
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; print; next }
    $col["variant"] == "token-moe" { $col["routed_assignments"] = 1000; $col["dropped_tokens"] = 300 }
    $col["variant"] == "task-moe" { $col["routed_assignments"] = 1000; $col["dropped_tokens"] = 0 }
    { print }' "$FIX/wmt.csv" >"$W/drops.csv"
mkdir -p "$W/r4"
PATH="$W/nogp" "$MOEBENCH" report "$W/drops.csv" -o "$W/r4/REPORT.md" 2>/dev/null
has "capacity drops listed and unequal work flagged" "$W/r4/REPORT.md" \
    "Expert assignments dropped for capacity: token-moe 30.0%, task-moe 0.0%. **These variants did different amounts of expert work**"
if ! grep -q "Expert assignments dropped" "$W/r2/REPORT.md"; then ok "no drop note when nothing was dropped"
else not_ok "no drop note when nothing was dropped" "$(grep "Expert assignments" "$W/r2/REPORT.md")"; fi

# ---- --figures elsewhere: links relative to the report's folder
mkdir -p "$W/a/b"
PATH="$W/nogp" "$MOEBENCH" report "$FIX/wmt.csv" -o "$W/a/b/R.md" --figures "$W/figs" 2>/dev/null
if [ -s "$W/figs/fixture-wmt32e-params.dat" ]; then ok "--figures folder created"; else not_ok "--figures folder created"; fi
has "skipped figures listed in the report" "$W/a/b/R.md" "not drawn: gnuplot not found on PATH (its data files are written)"
if [ -n "$GNUPLOT" ]; then
    "$MOEBENCH" report "$FIX/wmt.csv" -o "$W/a/b/R.md" --figures "$W/figs" 2>/dev/null
    has "relative link to --figures" "$W/a/b/R.md" "](../../figs/fixture-wmt32e-params.png)"
else
    skip "relative link to --figures" "gnuplot is not installed"
fi

# ---- errors: one line each
check_fails "missing file" "^moebench: $W/nope.csv: cannot open" "$MOEBENCH" report "$W/nope.csv" -o "$W/x.md"
printf 'a,b\n1,2\n' >"$W/other.csv"
check_fails "not a results CSV" "^moebench: $W/other.csv: neither a results CSV" "$MOEBENCH" report "$W/other.csv" -o "$W/x.md"
head -n 2 "$FIX/wmt.csv" | sed '2s/,greedy,/,greedy,x,/' >"$W/ragged.csv"
check_fails "ragged row names the line" "^moebench: $W/ragged.csv:2: " "$MOEBENCH" report "$W/ragged.csv" -o "$W/x.md"
check_fails "report folder missing" "^moebench: $W/no/such/R.md: the folder $W/no/such does not exist" \
    "$MOEBENCH" report "$FIX/wmt.csv" -o "$W/no/such/R.md" --figures "$W/f3"
check_fails "no CSV given" "^moebench: report: give at least one results CSV" "$MOEBENCH" report
check_fails "unknown option" "^moebench: report: unknown option '--bogus'" "$MOEBENCH" report --bogus x.csv
check_fails "option without value" "^moebench: report: option '-o' needs a value" "$MOEBENCH" report x.csv -o
check "--help" "$MOEBENCH" report --help
