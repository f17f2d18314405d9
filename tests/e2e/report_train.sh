#!/bin/sh
# End-to-end tests of training curves in `moebench report` (analysis/
# report_train.c): the "Training" section's row for a curve, against the same
# numbers computed here with awk from the CSV; curves beside results CSVs;
# the figure (plots/train_curve.gp, 900 x 760 PNG and SVG) and its data
# copies; and one-line FILE:LINE errors for malformed curves, with no report
# left behind. The figure checks skip where gnuplot is not installed.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$WORK
M=$MOEBENCH
GNUPLOT=$(command -v gnuplot 2>/dev/null)
HEADER=step,tokens,cpu_s,wall_s,lr,loss,nll,aux,dropped_share,grad_norm,valid_loss,valid_nll,valid_bleu

# curve SEED STEPS: a plausible curve, validation every 25 steps (BLEU
# rises with noise, so the best is not always the last)
curve() {
    awk -v seed="$1" -v steps="$2" -v h="$HEADER" 'BEGIN { srand(seed); print h
        for (s = 1; s <= steps; s++) {
            tok += 4000 + int(rand() * 1000); cpu += 2.5 + rand(); wall += 3 + 2 * rand()
            loss = 9.5 * exp(-s / 80) + 2 + rand() * 0.5
            v = ""; if (s % 25 == 0) v = sprintf("%.4f,%.4f,%.4f", loss + 0.3, loss - 0.5, 30 * (1 - exp(-s / 60)) + rand() * 3)
            else v = ",,"
            printf "%d,%d,%.3f,%.3f,%.6g,%.6f,%.6f,0,0,%.5f,%s\n", s, tok, cpu, wall, 0.001, loss, loss - 0.8, rand(), v
        } }'
}
# row CSV PATH: the section's row for CSV, computed independently
row() {
    awk -F, -v path="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { n++; step = $c["step"]; tok = $c["tokens"]; cpu = $c["cpu_s"]; wall = $c["wall_s"]; loss[n] = $c["loss"]
          if ($c["valid_bleu"] != "") { vb = $c["valid_bleu"] + 0; vs = step; vl = $c["valid_loss"]
                                        if (!nb || vb > best) { best = vb; bs = step; nb = 1 } } }
        END { t = n < 10 ? n : 10; s = 0; for (i = n - t + 1; i <= n; i++) s += loss[i]
              printf "| `%s` | %.0f | %.0f | %.1f | %.1f | %.0f | %.3f | %.3f | %.2f (%.0f) | %.2f (%.0f) |\n",
                     path, step, tok, cpu, wall, tok / cpu, s / t, vl, vb, vs, best, bs }' "$1"
}
has() {
    if grep -Fq -- "$3" "$2"; then ok "$1"; else not_ok "$1" "missing from $2: $3"; fi
}
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4 "x" $5*16777216 + $6*65536 + $7*256 + $8}'; }

mkdir -p "$W/a" "$W/b" "$W/r1"
curve 1 200 >"$W/a/train-dense.csv"
curve 2 150 >"$W/a/train-token-moe.csv"

# ---- a curve alone, and the section's numbers
if "$M" report "$W/a/train-dense.csv" -o "$W/r1/REPORT.md" >"$W/r1.out" 2>"$W/r1.err"; then ok "report of a curve alone"
else not_ok "report of a curve alone" "$(cat "$W/r1.err")"; fi
MD=$W/r1/REPORT.md
has "Training section" "$MD" "## Training"
has "row of the curve = awk's numbers" "$MD" "$(row "$W/a/train-dense.csv" "$W/a/train-dense.csv")"
has "input listed as a training curve" "$MD" "(200 training curve rows)"
has "how it was made" "$MD" "moebench train ... --curve $W/a/train-dense.csv"
if [ -s "$W/r1/figures/train-dense.csv" ] &&
    [ "$(sed -n '1p' "$W/r1/figures/train-dense.csv")" = "$HEADER" ] &&
    [ "$(wc -l <"$W/r1/figures/train-dense.csv")" -eq 201 ]; then ok "data copy of the curve in the figures folder"
else not_ok "data copy of the curve in the figures folder"; fi

# ---- the committed reference curve beside results CSVs
REF=$ROOT/results/train-dense-m30k.csv
if "$M" report "$ROOT/tests/data/report/demo.csv" "$REF" "$W/a/train-token-moe.csv" -o "$W/r2.md" \
    --figures "$W/r2fig" >"$W/r2.out" 2>"$W/r2.err"; then ok "report of results and two curves"
else not_ok "report of results and two curves" "$(cat "$W/r2.err")"; fi
has "reference curve row" "$W/r2.md" "$(row "$REF" "$REF")"
has "second curve row" "$W/r2.md" "$(row "$W/a/train-token-moe.csv" "$W/a/train-token-moe.csv")"
has "the results' table is still there" "$W/r2.md" "## Scenario"
# the reference run's figures as docs/training.md quotes them
has "reference run: best validation BLEU 19.20 at step 700" "$W/r2.md" "| 19.20 (700) | 19.20 (700) |"

if [ -z "$GNUPLOT" ]; then
    skip "training figure drawn" "gnuplot is not installed (apt-get install gnuplot-nox)"
else
    f=$W/r2fig/training-curves
    if [ -s "$f.png" ] && [ "$(png_size "$f.png")" = 900x760 ] && grep -q 'width="900' "$f.svg" &&
        grep -Fq "](r2fig/training-curves.png)" "$W/r2.md"; then ok "training figure drawn (900 x 760) and linked"
    else not_ok "training figure drawn (900 x 760) and linked" "$(ls -la "$W/r2fig"; cat "$W/r2.err")"; fi
    f=$W/r1/figures/train-dense
    if [ -s "$f.png" ] && [ "$(png_size "$f.png")" = 900x760 ]; then ok "a single curve's figure is named after it"
    else not_ok "a single curve's figure is named after it" "$(ls -la "$W/r1/figures")"; fi
    # seven curves: two figures; two curves of the same file name: two data files
    set --
    for i in 1 2 3 4 5 6; do curve $((i + 10)) 60 >"$W/b/c$i.csv"; set -- "$@" "$W/b/c$i.csv"; done
    "$M" report "$@" "$W/a/train-dense.csv" "$W/r1/figures/train-dense.csv" -o "$W/r3.md" --figures "$W/r3" \
        >/dev/null 2>"$W/r3.err"
    if [ -s "$W/r3/training-curves.png" ] && [ -s "$W/r3/training-curves-2.png" ] &&
        [ -s "$W/r3/train-dense.csv" ] && [ -s "$W/r3/train-dense-2.csv" ]; then
        ok "eight curves: two figures; equal names: two data files"
    else not_ok "eight curves: two figures; equal names: two data files" "$(ls "$W/r3"; cat "$W/r3.err")"; fi
fi

# ---- malformed curves: one line naming the file and line; no report written
bad() { # NAME PATTERN SED-SCRIPT
    sed "$3" "$W/a/train-dense.csv" >"$W/bad.csv"
    rm -f "$W/bad.md"
    check_fails "$1" "$2" "$M" report "$W/bad.csv" -o "$W/bad.md"
    if [ -e "$W/bad.md" ] || [ -e "$W/bad.md.tmp" ]; then not_ok "$1: no report left" ""; fi
}
bad "loss not a number" "bad\.csv:5: column 'loss': 'abc' is not a number" '5s/^\(\([^,]*,\)\{5\}\)[^,]*/\1abc/'
bad "step going back" "bad\.csv:8: step does not increase" '8s/^7,/3,/'
bad "CPU time decreasing" "bad\.csv:9: tokens or cpu_s decrease" '9s/^\([^,]*,[^,]*,\)[^,]*/\10.5/'
bad "empty loss" "bad\.csv:4: column 'loss' is empty" '4s/^\(\([^,]*,\)\{5\}\)[^,]*/\1/'
bad "missing column" "bad\.csv: no column 'cpu_s' in the header" '1s/cpu_s/cpu_seconds/'
bad "header only" "bad\.csv: a training curve without rows" '2,$d'
bad "torn row" "bad\.csv:6: " '6s/,[^,]*$//'

# ---- a curve without validation BLEU (e.g. --bleu-lines 0): the figure says so, no failure
awk -F, 'BEGIN { OFS = "," } NR > 1 { $11 = ""; $12 = ""; $13 = "" } { print }' "$W/a/train-dense.csv" >"$W/nobleu.csv"
if [ -z "$GNUPLOT" ]; then
    skip "a curve without validation BLEU draws its figure" "gnuplot is not installed"
elif "$M" report "$W/nobleu.csv" -o "$W/nobleu.md" --figures "$W/nbfig" 2>"$W/nobleu.err" &&
   [ -s "$W/nbfig/nobleu.png" ] && grep -q "nobleu.png" "$W/nobleu.md"; then
    ok "a curve without validation BLEU draws its figure"
else not_ok "a curve without validation BLEU draws its figure" "$(cat "$W/nobleu.err")"; fi
