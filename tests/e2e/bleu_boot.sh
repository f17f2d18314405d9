#!/bin/sh
# End-to-end tests of `moebench bleu --paired-bs` (paired bootstrap
# resampling, quality/bleu_boot.h): the full-sample scores equal `moebench
# bleu`'s, a system identical to the baseline gets difference 0 and p = 1,
# the reference itself against a poor system is significant, the seed decides
# the result, the CSV is complete or absent, bad input gets a one-line error;
# and, where Python's sacrebleu imports and the Multi30k data is present, a
# cross-check against sacreBLEU's own PairedTest (its resamples come from
# numpy's generator, ours from mb_rng: the full-sample scores must agree
# exactly, means, intervals and p-values within bootstrap noise).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${MOEBENCH_DATA:-$ROOT/../shared/data}
W=$WORK
M=$MOEBENCH

# A reference of 300 synthetic sentences; systems drop, swap and replace its
# words at a rate (awk's srand: the same files on every run).
awk 'BEGIN { srand(5); for (l = 0; l < 300; l++) { s = ""; n = 6 + int(rand() * 14)
     for (i = 0; i < n; i++) s = s (i ? " " : "") "w" int(rand() * 300); print s " ." } }' >"$W/ref"
# degrade FILE SEED RATE: each word dropped, swapped or replaced with probability RATE
degrade() {
    awk -v seed="$2" -v rate="$3" 'BEGIN { srand(seed) }
    { n = split($0, w, " "); out = ""
      for (i = 1; i <= n; i++) {
          r = rand(); x = w[i]
          if (r < rate / 3) continue
          if (r < 2 * rate / 3) x = "z" int(rand() * 50)
          else if (r < rate && i < n) { x = w[i + 1]; w[i + 1] = w[i] }
          out = out (out == "" ? "" : " ") x
      }
      print out }' "$1"
}
degrade "$W/ref" 1 0.25 >"$W/base"
degrade "$W/ref" 2 0.25 >"$W/close"
degrade "$W/ref" 3 0.60 >"$W/poor"

# col CSV METRIC SYSTEM COLUMN: one cell of a --csv file (plain fields only)
col() {
    awk -F, -v m="$2" -v s="$3" -v c="$4" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
        $2 == m && $3 == s { print $k[c] }' "$1"
}

# ---- full-sample scores are moebench bleu's
if "$M" bleu --paired-bs "$W/base" "$W/close" "$W/poor" --ref "$W/ref" --names base,close,poor \
    --csv "$W/a.csv" >"$W/a.out" 2>"$W/a.err"; then ok "--paired-bs exits 0"
else not_ok "--paired-bs exits 0" "$(cat "$W/a.err")"; fi
for s in base close poor; do
    want=$("$M" bleu --json "$W/$s" "$W/ref" | sed 's/.*"exact_score": \([^,]*\),.*/\1/')
    got=$(col "$W/a.csv" BLEU $s score)
    if awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; exit !(d < 1e-8 && d > -1e-8 && b > 0) }'; then
        ok "BLEU of $s = moebench bleu ($want)"
    else not_ok "BLEU of $s = moebench bleu" "csv $got, moebench bleu $want"; fi
    want=$("$M" bleu --chrf --json "$W/$s" "$W/ref" | sed 's/.*"exact_score": \([^,]*\),.*/\1/')
    got=$(col "$W/a.csv" chrF2 $s score)
    if awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; exit !(d < 1e-8 && d > -1e-8 && b > 0) }'; then
        ok "chrF of $s = moebench bleu --chrf ($want)"
    else not_ok "chrF of $s = moebench bleu --chrf" "csv $got, moebench bleu $want"; fi
done
if [ "$(head -n 1 "$W/a.csv")" = "label,metric,system,file,baseline,score,mean,ci95,delta,delta_lo,delta_hi,p_value,significant,identical,lines,resamples,seed,signature" ] &&
    [ "$(wc -l <"$W/a.csv")" -eq 7 ] && [ ! -e "$W/a.csv.tmp" ]; then ok "CSV header and one row per metric and system"
else not_ok "CSV header and one row per metric and system" "$(cat "$W/a.csv")"; fi
if grep -q '^BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0|bs:1000|seed:12345$' "$W/a.out" &&
    grep -q '^baseline: base ' "$W/a.out" && grep -q '^poor .* \*$' "$W/a.out"; then ok "readable table with signature"
else not_ok "readable table with signature" "$(cat "$W/a.out")"; fi
# the poor system is far below the baseline: significant, interval below zero
d=$(col "$W/a.csv" BLEU poor delta); hi=$(col "$W/a.csv" BLEU poor delta_hi); p=$(col "$W/a.csv" BLEU poor p_value)
if [ "$(col "$W/a.csv" BLEU poor significant)" = yes ] &&
    awk -v d="$d" -v hi="$hi" -v p="$p" 'BEGIN { exit !(d < -10 && hi < 0 && p < 0.01) }'; then
    ok "a much worse system is significant (difference $d, p $p)"
else not_ok "a much worse system is significant" "$(cat "$W/a.csv")"; fi

# ---- identical systems; the reference as a system
"$M" bleu --paired-bs "$W/base" "$W/base" "$W/ref" --ref "$W/ref" --names base,same,ref --csv "$W/b.csv" \
    >"$W/b.out" 2>&1
if [ "$(col "$W/b.csv" BLEU same delta)" = 0 ] && [ "$(col "$W/b.csv" BLEU same p_value)" = 1 ] &&
    [ "$(col "$W/b.csv" BLEU same identical)" = yes ] && [ "$(col "$W/b.csv" BLEU same significant)" = no ] &&
    [ "$(col "$W/b.csv" chrF2 same p_value)" = 1 ]; then ok "identical systems: difference 0, p = 1"
else not_ok "identical systems: difference 0, p = 1" "$(cat "$W/b.csv" "$W/b.out")"; fi
if [ "$(col "$W/b.csv" BLEU ref score)" = 100 ] && [ "$(col "$W/b.csv" BLEU ref significant)" = yes ]; then
    ok "the reference against the baseline: BLEU 100, significant"
else not_ok "the reference against the baseline: BLEU 100, significant" "$(cat "$W/b.csv")"; fi

# ---- determinism from the seed
"$M" bleu --paired-bs "$W/base" "$W/close" --ref "$W/ref" --seed 7 --resamples 300 --csv "$W/s1.csv" >/dev/null 2>&1
"$M" bleu --paired-bs "$W/base" "$W/close" --ref "$W/ref" --seed 7 --resamples 300 --csv "$W/s2.csv" >/dev/null 2>&1
"$M" bleu --paired-bs "$W/base" "$W/close" --ref "$W/ref" --seed 8 --resamples 300 --csv "$W/s3.csv" >/dev/null 2>&1
if [ -s "$W/s1.csv" ] && cmp -s "$W/s1.csv" "$W/s2.csv" && ! cmp -s "$W/s1.csv" "$W/s3.csv" &&
    [ "$(cut -d, -f6 "$W/s1.csv")" = "$(cut -d, -f6 "$W/s3.csv")" ] &&
    [ "$(cut -d, -f7 "$W/s1.csv")" != "$(cut -d, -f7 "$W/s3.csv")" ]; then
    ok "same seed, same rows; another seed, other resamples, same scores"
else not_ok "same seed, same rows; another seed, other resamples, same scores" "$(cat "$W/s1.csv" "$W/s3.csv")"; fi

# ---- errors: one line, non-zero, no CSV left behind
check_fails "no --ref" "needs the reference as --ref" "$M" bleu --paired-bs "$W/base" "$W/close"
check_fails "one system only" "baseline and at least one system" "$M" bleu --paired-bs "$W/base" --ref "$W/ref"
check_fails "--csv without --paired-bs" "is an option of --paired-bs" "$M" bleu "$W/base" "$W/ref" --csv "$W/x.csv"
check_fails "--names count" "2 names for 3 systems" "$M" bleu --paired-bs "$W/base" "$W/close" "$W/poor" \
    --ref "$W/ref" --names a,b
check_fails "bad --resamples" "resamples" "$M" bleu --paired-bs "$W/base" "$W/close" --ref "$W/ref" --resamples 0
check_fails "--sentence refused" "neither --sentence nor --json" "$M" bleu --paired-bs "$W/base" "$W/close" \
    --ref "$W/ref" --sentence
head -n 299 "$W/close" >"$W/short"
check_fails "line count mismatch" "short: 299 lines, but the reference .* has 300" "$M" bleu --paired-bs "$W/base" \
    "$W/short" --ref "$W/ref" --csv "$W/c.csv"
if [ ! -e "$W/c.csv" ] && [ ! -e "$W/c.csv.tmp" ]; then ok "no CSV after an error"
else not_ok "no CSV after an error"; fi
check_fails "CSV into a missing folder" "nowhere" "$M" bleu --paired-bs "$W/base" "$W/close" --ref "$W/ref" \
    --csv "$W/nowhere/x.csv"

# ---- sacreBLEU's PairedTest on real data
if ! python3 -c 'import sacrebleu, numpy' 2>/dev/null; then
    skip "cross-check against sacrebleu --paired-bs" "python3 cannot import sacrebleu and numpy (pip install sacrebleu)"
    exit 0
fi
REF=$DATA/multi30k/test_2016_flickr.de.gz
if [ ! -f "$REF" ]; then
    skip "cross-check against sacrebleu --paired-bs" "no $REF (set MOEBENCH_DATA)"
    exit 0
fi
gzip -dc "$REF" >"$W/m.ref"
degrade "$W/m.ref" 11 0.20 >"$W/m.base"
degrade "$W/m.ref" 12 0.22 >"$W/m.close"
degrade "$W/m.ref" 13 0.35 >"$W/m.poor"
"$M" bleu --paired-bs "$W/m.base" "$W/m.close" "$W/m.poor" --ref "$W/m.ref" --names base,close,poor \
    --csv "$W/m.csv" >/dev/null 2>"$W/m.err" || not_ok "paired-bs on Multi30k" "$(cat "$W/m.err")"
cat >"$W/sacre.py" <<'EOF'
import sys
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest
d = sys.argv[1]
read = lambda n: open(f"{d}/m.{n}", encoding="utf-8").read().split("\n")[:-1]
ref = read("ref")
systems = [(n, read(n)) for n in ("base", "close", "poor")]
metrics = {"BLEU": BLEU(references=[ref]), "chrF2": CHRF(references=[ref])}
_, scores = PairedTest(systems, metrics, references=None, test_type="bs", n_samples=1000)()
for m in ("BLEU", "chrF2"):
    for name, r in zip(scores["System"], scores[m]):
        print(m, name, *("%.17g" % float(x) for x in (r.score, r.mean, r.ci)),
              "nan" if r.p_value is None else "%.17g" % float(r.p_value))
EOF
if ! python3 "$W/sacre.py" "$W" >"$W/sacre.out" 2>"$W/sacre.err"; then
    not_ok "sacrebleu's PairedTest runs" "$(tail -n 5 "$W/sacre.err")"; exit 0
fi
while read -r m name score mean ci p; do
    got_s=$(col "$W/m.csv" "$m" "$name" score); got_m=$(col "$W/m.csv" "$m" "$name" mean)
    got_c=$(col "$W/m.csv" "$m" "$name" ci95); got_p=$(col "$W/m.csv" "$m" "$name" p_value)
    # scores: the same statistics, so equal up to the CSV's 10 significant
    # digits (1e-7 on a score <= 100); means: two bootstrap estimates of
    # the same mean, each with a standard error of about CI/2/sqrt(1000)
    # (~0.02 here), so 0.15; CI half-widths within 20%; p-values within 0.1,
    # and the same verdict where sacreBLEU's is clear (p < 0.01)
    if awk -v a="$got_s" -v b="$score" -v am="$got_m" -v bm="$mean" -v ac="$got_c" -v bc="$ci" \
        -v ap="${got_p:-nan}" -v bp="$p" 'function abs(x) { return x < 0 ? -x : x }
        BEGIN { ok = abs(a - b) < 1e-7 && abs(am - bm) < 0.15 && abs(ac - bc) < 0.2 * bc
                if (bp != "nan") ok = ok && abs(ap - bp) < 0.1 && (bp >= 0.01 || ap < 0.05)
                exit !ok }'; then
        ok "sacrebleu cross-check: $m $name (score $score, p ${got_p:--}/$p)"
    else
        not_ok "sacrebleu cross-check: $m $name" "ours: score $got_s mean $got_m ci $got_c p $got_p
sacrebleu: score $score mean $mean ci $ci p $p"
    fi
done <"$W/sacre.out"
