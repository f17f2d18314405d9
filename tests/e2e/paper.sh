#!/bin/sh
# `make paper` end to end at the PAPER_TINY=1 sizes (tiny preset, 300
# training lines, 4 steps; seconds a step) on the shared Multi30k data:
# missing data is refused in one line naming MOEBENCH_DATA; a training
# interrupted after 2 of its 4 steps continues from its checkpoint; the whole
# recipe then writes one CSV with the six variants, BLEU filled for every
# trained one (the student only when it was distilled; otherwise its row is a
# random model, weights=random, without BLEU), the sub-network's BLEU equal to
# task-moe's (extraction is exact); a second invocation skips every step and
# changes nothing; a removed model re-runs its training and what reads it,
# nothing else; the committed scenarios are what the script generates.
. tests/e2e/lib.sh
D=${MOEBENCH_DATA:-../shared/data}
S=scripts/paper.sh
export MOEBENCH PAPER_TINY=1 PAPER_DIR="$WORK/paper"
unset QUICK PAPER_STOP_AFTER

# the committed scenarios are the generator's (full sizes): no drift
if PAPER_TINY=0 sh "$S" --scenarios "$WORK/scn" && cmp -s "$WORK/scn/paper-small.ini" scenarios/paper-small.ini &&
    cmp -s "$WORK/scn/paper-small-latency.ini" scenarios/paper-small-latency.ini &&
    cmp -s "$WORK/scn/paper-small-news.ini" scenarios/paper-small-news.ini; then
    ok "scenarios/paper-small*.ini are what scripts/paper.sh --scenarios writes"
else not_ok "scenarios/paper-small*.ini are what scripts/paper.sh --scenarios writes" \
    "$(PAPER_TINY=0 sh "$S" --scenarios "$WORK/scn2" && diff "$WORK/scn2/paper-small.ini" scenarios/paper-small.ini | head -5)"; fi

check_fails "missing data: one line naming where it looked and MOEBENCH_DATA" \
    "^moebench: paper: .*nodata/multi30k/train\.en\.gz: no Multi30k data .*MOEBENCH_DATA" \
    env MOEBENCH_DATA="$WORK/nodata" sh "$S"

if [ ! -r "$D/multi30k/train.en.gz" ] || [ ! -r "$D/multi30k/test_2016_flickr.cs.gz" ]; then
    skip "make paper (tiny) end to end" "no Multi30k data in $D (set MOEBENCH_DATA)"
    exit 0
fi
export MOEBENCH_DATA="$D"
P=$WORK/paper
# what the recipe may write into the work tree at full sizes only
tree_state() { git status --porcelain --untracked-files=all results REPORT.md plots 2>/dev/null; }
TREE0=$(tree_state)
CSV=$P/results/paper-small-tiny.csv

if sh "$S" --list >"$WORK/list.out" 2>&1 && [ "$(grep -c ': to run, about' "$WORK/list.out")" -ge 9 ] &&
    [ ! -e "$P/models/vocab.model" ]; then ok "--list shows the plan and runs nothing"
else not_ok "--list shows the plan and runs nothing" "$(tail -5 "$WORK/list.out")"; fi

# interrupted: every training stops after 2 of its 4 steps, as after a Ctrl-C
PAPER_STOP_AFTER=2 sh "$S" >"$WORK/run0.out" 2>&1
rc=$?
if [ $rc -eq 3 ] && [ -s "$P/models/dense.ckpt.safetensors" ] && [ ! -e "$P/models/dense.safetensors" ] &&
    grep -q "run the same command again to continue" "$WORK/run0.out"; then
    ok "a training stopped part-way keeps its checkpoint and says how to continue"
else not_ok "a training stopped part-way keeps its checkpoint" "status $rc; $(tail -4 "$WORK/run0.out")"; fi

if sh "$S" >"$WORK/run1.out" 2>&1; then ok "the whole recipe runs (tiny sizes)"
else not_ok "the whole recipe runs (tiny sizes)" "$(tail -8 "$WORK/run1.out")"; fi
if grep -q "^moebench paper: \[1/11\] vocab: up to date, skipped" "$WORK/run1.out" &&
    grep -q "resuming from the checkpoint .*dense.ckpt.safetensors" "$WORK/run1.out" &&
    [ "$(awk -F, 'NR > 1 { print $1 }' "$P/curves/train-dense.csv" | tr '\n' ' ')" = "1 2 3 4 " ]; then
    ok "the second invocation continues dense from its checkpoint (curve steps 1-4, once each)"
else not_ok "the second invocation continues dense from its checkpoint" \
    "$(grep -E 'vocab|resuming' "$WORK/run1.out" | head -3; cut -d, -f1 "$P/curves/train-dense.csv" | tr '\n' ' ')"; fi
# (token-moe trains beside dense: its lines are marked [token-moe])
if grep -Eq '^(\[token-moe\] )?moebench paper: \[3/11\] train-token-moe \(elapsed [0-9hms]+, about [0-9hms]+ left for the recipe\)' "$WORK/run1.out"; then
    ok "progress: step k of n, elapsed, time left"
else not_ok "progress: step k of n, elapsed, time left" "$(grep '\[3/11\]' "$WORK/run1.out")"; fi

# col NAME: that column of every data row (quoted cells dropped; none of ours is quoted)
col() { sed 's/"[^"]*"//g' "$CSV" | awk -F, -v n="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next } { print $c }'; }
rows() { # variant|task|scenario|weights|bleu|chrf|mode per row ("-": empty)
    sed 's/"[^"]*"//g' "$CSV" | awk -F, -v OFS='|' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { print $c["variant"], $c["task"], $c["scenario"], $c["weights"], ($c["bleu"] == "" ? "-" : $c["bleu"]),
          ($c["chrf"] == "" ? "-" : $c["chrf"]), $c["mode"] }'
}
if [ -s "$CSV" ] && [ "$(col variant | sort -u | tr '\n' ' ')" = "dense sentence-moe student task-moe task-subnet token-moe " ]; then
    ok "the CSV has the six variants"
else not_ok "the CSV has the six variants" "$(col variant 2>&1 | sort -u | tr '\n' ' ')"; fi
scen=$(col scenario | sort -u | tr '\n' ' ')
want="paper-small-tiny paper-small-tiny-latency "
[ -r "$D/wmt/newstest2013.cs" ] && want="paper-small-tiny paper-small-tiny-latency paper-small-tiny-news "
if [ "$scen" = "$want" ]; then ok "test2016 throughput, latency (and newstest2013 where present) in one CSV"
else not_ok "test2016, latency and newstest2013 in one CSV" "scenarios: $scen; wanted $want"; fi
rows >"$WORK/rows"
bad=$(awk -F'|' '$1 != "student" && ($4 !~ /^file:/ || $5 == "-" || $6 == "-")' "$WORK/rows")
n=$(awk -F'|' '$1 != "student"' "$WORK/rows" | wc -l)
if [ -z "$bad" ] && [ "$n" -ge 30 ]; then ok "BLEU and chrF filled on all $n rows of the trained variants"
else not_ok "BLEU and chrF filled on the trained variants' rows" "$n rows; bad: $(echo "$bad" | head -3)"; fi
if "$MOEBENCH" distill --help >/dev/null 2>&1; then
    bad=$(awk -F'|' '$1 == "student" && ($4 !~ /^file:student\.safetensors; distilled from token\.safetensors/ || $5 == "-")' "$WORK/rows")
    if [ -z "$bad" ] && grep -q "student: *distilled from token-moe" "$WORK/run1.out"; then ok "the student is distilled and scored"
    else not_ok "the student is distilled and scored" "$bad"; fi
else
    bad=$(awk -F'|' '$1 == "student" && ($4 != "random" || $5 != "-")' "$WORK/rows")
    if [ -z "$bad" ] && grep -q "distill: SKIPPED: this moebench has no distill command" "$WORK/run1.out" &&
        grep -q "student: *NOT distilled" "$WORK/run1.out"; then
        ok "no distill command: the student step says so, its row is random weights without BLEU"
    else not_ok "no distill command: the student row is marked" "$bad"; fi
fi
# extraction is exact: the sub-network's BLEU is task-moe's, task by task
diff=$(awk -F'|' '$1 == "task-moe" || $1 == "task-subnet" { k = $2 " " $3 " " $7; if (k in b && b[k] != $5) print k; b[k] = $5 }' "$WORK/rows")
if [ -z "$diff" ] && grep -q "sub-network: the same 5 translations as task-moe" "$WORK/run1.out"; then
    ok "task-subnet scores exactly task-moe's BLEU; extract's check passed"
else not_ok "task-subnet scores exactly task-moe's BLEU" "$diff"; fi
for f in subnet-en-de subnet-en-fr subnet-en-cs; do
    [ -s "$P/models/$f.safetensors" ] || not_ok "sub-network $f written"
done
if [ -s "$P/REPORT-paper.md" ] && grep -q "task-moe" "$P/REPORT-paper.md" && [ -s "$P/results/paper-small-tiny.recipe.txt" ] &&
    grep -q "moebench paper:   results:  *$CSV" "$WORK/run1.out"; then ok "report, recipe and a summary of where things are"
else not_ok "report, recipe and a summary of where things are" "$(tail -10 "$WORK/run1.out")"; fi
if [ "$(tree_state)" = "$TREE0" ]; then ok "tiny sizes write nothing into the work tree"
else not_ok "tiny sizes write nothing into the work tree" "$(tree_state)"; fi

# the same command again: every step up to date, nothing changes
before=$(cksum <"$CSV")
if sh "$S" >"$WORK/run2.out" 2>&1 && grep -q "every step was up to date: nothing ran" "$WORK/run2.out" &&
    [ "$(grep -c ': up to date, skipped' "$WORK/run2.out")" -ge 9 ] && [ "$(cksum <"$CSV")" = "$before" ]; then
    ok "a second invocation skips every step"
else not_ok "a second invocation skips every step" "$(grep -v 'up to date' "$WORK/run2.out" | head -5)"; fi

# one model gone: trained again, bit for bit the same (same seed, same
# threads), so what reads it (stamped with its checksum) stays up to date
sum=$(cksum <"$P/models/sentence.safetensors")
rm -f "$P/models/sentence.safetensors"
if sh "$S" >"$WORK/run3.out" 2>&1 && grep -q "train-dense: up to date, skipped" "$WORK/run3.out" &&
    grep -q "\[4/11\] train-sentence-moe (elapsed" "$WORK/run3.out" &&
    [ "$(cksum <"$P/models/sentence.safetensors")" = "$sum" ] &&
    [ "$(grep -c ': up to date, skipped' "$WORK/run3.out")" -ge 8 ]; then
    ok "a removed model is trained again (the same bytes), the rest is skipped"
else not_ok "a removed model is trained again, the rest skipped" "$(grep 'moebench paper: \[' "$WORK/run3.out")"; fi

# one measurement gone: it runs again, and the merge and report after it
rm -f "$P/runs/paper-small-tiny-latency.csv"
if sh "$S" >"$WORK/run4.out" 2>&1 && grep -q "\[9/11\] latency (elapsed" "$WORK/run4.out" &&
    grep -q "\[11/11\] report (elapsed" "$WORK/run4.out" && grep -q "measure: up to date, skipped" "$WORK/run4.out" &&
    [ "$(col scenario | grep -c -- '-latency$')" -eq 18 ]; then
    ok "a removed measurement runs again, then the merge (no row twice) and the report"
else not_ok "a removed measurement runs again, then the merge" "$(grep 'moebench paper: \[' "$WORK/run4.out"; col scenario | sort | uniq -c)"; fi
