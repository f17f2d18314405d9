#!/bin/sh
# End-to-end tests of significance in `moebench report` (analysis/
# report_sig.c): the CSV of `moebench bleu --paired-bs --csv` as a report
# input, each comparison's row (difference, interval, p-value, verdict)
# against the CSV's own numbers formatted here with awk, the paper's claims
# found by system name in either direction, identical systems reported as
# such, and one-line errors for a malformed file.
. "$(dirname "$0")/lib.sh"
W=$WORK
M=$MOEBENCH

awk 'BEGIN { srand(9); for (l = 0; l < 200; l++) { s = ""; n = 6 + int(rand() * 12)
     for (i = 0; i < n; i++) s = s (i ? " " : "") "w" int(rand() * 200); print s " ." } }' >"$W/ref"
degrade() {
    awk -v seed="$2" -v rate="$3" 'BEGIN { srand(seed) }
    { n = split($0, w, " "); out = ""
      for (i = 1; i <= n; i++) { r = rand(); x = w[i]
          if (r < rate / 2) continue
          if (r < rate) x = "z" int(rand() * 50)
          out = out (out == "" ? "" : " ") x }
      print out }' "$1"
}
degrade "$W/ref" 1 0.50 >"$W/token"
degrade "$W/ref" 2 0.25 >"$W/task"
degrade "$W/ref" 3 0.55 >"$W/dense"

"$M" bleu --paired-bs "$W/token" "$W/task" --ref "$W/ref" --names token-moe,task-moe --label en-de \
    --metrics bleu --csv "$W/b1.csv" >/dev/null 2>"$W/e1" || not_ok "bootstrap 1" "$(cat "$W/e1")"
# the other direction (task-moe as the baseline), and an identical sub-network
"$M" bleu --paired-bs "$W/task" "$W/token" "$W/task" --ref "$W/ref" --names task-moe,token-moe,task-subnet \
    --label de-en --csv "$W/b2.csv" >/dev/null 2>"$W/e2" || not_ok "bootstrap 2" "$(cat "$W/e2")"
"$M" bleu --paired-bs "$W/dense" "$W/token" --ref "$W/ref" --names dense,something-else --label en-fr \
    --metrics bleu --csv "$W/b3.csv" >/dev/null 2>"$W/e3" || not_ok "bootstrap 3" "$(cat "$W/e3")"

if "$M" report "$W/b1.csv" "$W/b2.csv" "$W/b3.csv" -o "$W/R.md" >"$W/r.out" 2>"$W/r.err"; then
    ok "report of bootstrap CSVs"
else not_ok "report of bootstrap CSVs" "$(cat "$W/r.err")"; fi

# want CSV METRIC SYSTEM CLAIM FLIP: the row the section must carry
want() {
    awk -F, -v m="$2" -v s="$3" -v claim="$4" -v flip="$5" '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $c["metric"] == m && $c["system"] == s {
            d = $c["delta"]; lo = $c["delta_lo"]; hi = $c["delta_hi"]; a = s; b = $c["baseline"]
            if (flip) { d = -d; t = lo; lo = -hi; hi = -t; a = b; b = s }
            p = ($c["identical"] == "yes") ? "1 | no: identical translations |" \
                : sprintf("%.4f | %s |", $c["p_value"], $c["p_value"] >= 0.05 ? "no" : d < 0 ? "**yes**, lower" : "**yes**, higher")
            printf "| %s | %s vs %s | %s | %s | %+.2f | [%+.2f, %+.2f] | %s\n", claim, a, b, $c["label"], m, d, lo, hi, p
        }' "$1"
}
has() {
    if grep -Fq -- "$3" "$2"; then ok "$1"; else not_ok "$1" "missing from $2: $3
$(grep '^| ' "$2")"; fi
}
has "section" "$W/R.md" "## Significance"
has "task-moe vs token-moe" "$W/R.md" "$(want "$W/b1.csv" BLEU task-moe 'task-moe beats token-moe (paper: +1.0 BLEU)' 0)"
has "the same claim from the other direction" "$W/R.md" \
    "$(want "$W/b2.csv" BLEU token-moe 'task-moe beats token-moe (paper: +1.0 BLEU)' 1)"
has "chrF rows too" "$W/R.md" "$(want "$W/b2.csv" chrF2 token-moe 'task-moe beats token-moe (paper: +1.0 BLEU)' 1)"
has "identical sub-network" "$W/R.md" \
    "| the sub-network equals task-moe (exact extraction) | task-subnet vs task-moe | de-en | BLEU | +0.00 | [+0.00, +0.00] | 1 | no: identical translations |"
has "a comparison without a claim" "$W/R.md" "$(want "$W/b3.csv" BLEU something-else - 0)"
has "resamples named" "$W/R.md" "1000 resamples"
has "input listed" "$W/R.md" "b2.csv\` (6 bootstrap rows)"
# the verdict is a real one: task-moe's lower error rate is significant here
if grep -Fq "| task-moe beats token-moe (paper: +1.0 BLEU) | task-moe vs token-moe | en-de | BLEU | +" "$W/R.md" &&
    grep -F "| task-moe vs token-moe | en-de | BLEU |" "$W/R.md" | grep -Fq '**yes**, higher'; then
    ok "a clearly better system is significant in the report"
else not_ok "a clearly better system is significant in the report" "$(grep '^| ' "$W/R.md")"; fi

# ---- malformed files
head -n 1 "$W/b1.csv" >"$W/bad.csv"; sed -n 3p "$W/b1.csv" | sed 's/,[^,]*,yes,/,2,yes,/; s/,[^,]*,no,/,2,no,/' >>"$W/bad.csv"
check_fails "p-value out of range" "bad\.csv:2: column 'p_value'" "$M" report "$W/bad.csv" -o "$W/bad.md"
sed 's/delta_hi/upper/' "$W/b1.csv" >"$W/bad2.csv"
check_fails "missing column" "bad2\.csv: no column 'delta_hi'" "$M" report "$W/bad2.csv" -o "$W/bad.md"
if [ ! -e "$W/bad.md" ]; then ok "no report after an error"; else not_ok "no report after an error"; fi
