# End-to-end checks of `moebench run`: the quick scenario gives rows for all
# six variants; a bad scenario is refused before anything runs; Ctrl-C
# keeps the complete rows and exits 130.
. tests/e2e/lib.sh
M=$MOEBENCH

start=$(date +%s)
if $M run scenarios/quick.ini --out "$WORK" 2>"$WORK/quick.err"; then
    ok "run scenarios/quick.ini"
else not_ok "run scenarios/quick.ini" "$(tail -3 "$WORK/quick.err")"; fi
echo "# quick.ini took $(( $(date +%s) - start )) s"
csv="$WORK/quick.csv"
for v in dense token-moe sentence-moe task-moe task-subnet student; do
    n=$(awk -F, -v v="$v" 'NR > 1 && $9 == v' "$csv" 2>/dev/null | wc -l)
    # 2 batch sizes + single-stream + server, 2 repetitions each
    if [ "$n" -eq 8 ]; then ok "quick.csv has 8 rows for $v"; else not_ok "quick.csv has 8 rows for $v" "got $n"; fi
done
cols=$(head -1 "$csv" | awk -F, '{print NF}')
# (quoted cells, which may hold commas, are blanked before counting)
if sed 's/"[^"]*"//g' "$csv" | awk -F, -v c="$cols" 'NF != c { bad = 1 } END { exit bad }'; then ok "every row has all $cols columns"
else not_ok "every row has all columns"; fi
if [ ! -e "$csv.tmp" ]; then ok "no temporary file left"; else not_ok "no temporary file left"; fi

printf '[scenario]\nname = bad\n[measure]\nrepetitons = 3\n' >"$WORK/bad.ini"
check_fails "a misspelt key is refused with file:line" "bad.ini:4: unknown key 'repetitons' in \[measure\]" \
    $M run "$WORK/bad.ini" --out "$WORK"
if [ ! -e "$WORK/bad.csv" ]; then ok "nothing written for a bad scenario"; else not_ok "nothing written for a bad scenario"; fi
check_fails "a missing scenario file" "nothere.ini: cannot open" $M run "$WORK/nothere.ini"
check_fails "an unknown backend" "backend 'gpu' is not compiled into this build" \
    $M run scenarios/quick.ini --backend gpu --out "$WORK"
check_fails "missing real data is named" "cannot read the data file: No such file or directory; point \[workload\] data_dir" \
    sh -c "printf '[workload]\ndata = newstest2013\ndata_dir = $WORK/none\n' > '$WORK/d.ini'; $M run '$WORK/d.ini' --out '$WORK'"

# a model file instead of a preset's random weights
$M init --preset tiny --variant task-moe --seed 5 -o "$WORK/tm.safetensors" 2>/dev/null
printf '[model]\nvariants = task-moe\nfiles = task-moe:%s\n[workload]\ntasks = en-de, de-en\nsentences = 3\n[measure]\nwarmup = 0\nrepetitions = 1\n' \
    "$WORK/tm.safetensors" >"$WORK/file.ini"
if $M run "$WORK/file.ini" -o "$WORK/file.csv" 2>"$WORK/file.err" && [ "$(grep -c ',task-moe,tiny,' "$WORK/file.csv")" -eq 2 ]; then
    ok "a scenario runs a model file"
else not_ok "a scenario runs a model file" "$(cat "$WORK/file.err")"; fi

# Ctrl-C: complete rows kept, the file renamed, status 130
cat >"$WORK/long.ini" <<'INI'
[scenario]
name = long
modes = offline
batch_sizes = 1
[model]
preset = tiny
variants = dense, token-moe, task-moe
[workload]
sentences = 16
[measure]
warmup = 0
repetitions = 1000
INI
$M run "$WORK/long.ini" --out "$WORK" 2>/dev/null &
pid=$!
sleep 2
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ]; then ok "Ctrl-C exits 130"; else not_ok "Ctrl-C exits 130" "status $rc"; fi
rows=$(($(wc -l <"$WORK/long.csv" 2>/dev/null || echo 1) - 1))
if [ "$rows" -gt 0 ] && [ ! -e "$WORK/long.csv.tmp" ] &&
   sed 's/"[^"]*"//g' "$WORK/long.csv" | awk -F, -v c="$cols" 'NF != c { bad = 1 } END { exit bad }'; then
    ok "Ctrl-C keeps the $rows complete rows in a renamed file"
else not_ok "Ctrl-C keeps complete rows" "rows $rows"; fi

# --variants: only the named variants, in the scenario's order; an unknown name is a usage error
plan=$($M run scenarios/quick.ini --list --variants student,task-subnet 2>&1)
if [ "$(printf '%s\n' "$plan" | awk '$1 ~ /^[0-9]+$/ { print $2 }' | uniq | tr '\n' ' ')" = "task-subnet student " ]; then
    ok "run --variants keeps the named variants in the scenario's order"
else not_ok "run --variants" "$plan"; fi
$M run scenarios/quick.ini --list --variants studen >/dev/null 2>"$WORK/var.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "'studen' is not a variant of scenarios/quick.ini" "$WORK/var.err"; then
    ok "run --variants with an unknown name: exit 2 naming it"
else not_ok "run --variants unknown" "rc $rc: $(cat "$WORK/var.err")"; fi

# real data, read in place (skipped where the data is absent)
if [ -f "$MOEBENCH_DATA/wmt/newstest2013.de" ]; then
    printf '[workload]\ndata = newstest2013\ndata_dir = %s\ntasks = en-de, ru-en\nsentences = 4\n[measure]\nwarmup = 0\nrepetitions = 1\n' \
        "$MOEBENCH_DATA" >"$WORK/real.ini"
    if $M run "$WORK/real.ini" --out "$WORK" 2>"$WORK/real.err" &&
       [ "$(awk -F, 'NR > 1 && ($14 == "en-de" || $14 == "ru-en")' "$WORK/real.csv" | wc -l)" -eq 2 ]; then
        ok "newstest2013 en-de and ru-en from $MOEBENCH_DATA"
    else not_ok "newstest2013 run" "$(cat "$WORK/real.err")"; fi
else
    skip "newstest2013 run" "no data at $MOEBENCH_DATA (set MOEBENCH_DATA)"
fi

# task-subnet holds only the sub-network while it runs: the task-moe model it
# is cut from is freed first, so its peak memory is below task-moe's (small
# preset: 45.1M parameters against 30.3M served per task; before, the whole
# model stayed beside its sub-network and task-subnet showed the most memory)
printf '[scenario]\nname = rss\nbatch_sizes = 2\n[model]\npreset = small\nvariants = task-moe, task-subnet\n[workload]\ntasks = en-de, de-en\nsentences = 2\nmax_len = 4\n[measure]\nbackends = ref\nwarmup = 0\nrepetitions = 1\n' >"$WORK/rss.ini"
col_of() { sed 's/"[^"]*"//g' "$1" | awk -F, -v n="$2" -v v="$3" 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == n) c = i; if ($i == "variant") w = i } }
    NR > 1 && $w == v { print $c }' | sort -n | tail -1; }
if $M run "$WORK/rss.ini" -o "$WORK/rss.csv" 2>"$WORK/rss.err"; then
    scope=$(col_of "$WORK/rss.csv" rss_scope task-subnet)
    full=$(col_of "$WORK/rss.csv" peak_rss_mb task-moe) sub=$(col_of "$WORK/rss.csv" peak_rss_mb task-subnet)
    if [ -n "$MOEBENCH_SANITIZED" ]; then # freed memory waits in ASan's quarantine, resident
        skip "task-subnet's peak memory is below task-moe's" "AddressSanitizer keeps freed memory resident"
    elif [ "$scope" != configuration ]; then
        skip "task-subnet's peak memory is below task-moe's" "peak RSS cannot be reset per configuration here ($scope)"
    elif [ "$(echo "$sub $full" | awk '{ print ($1 < $2 - 20) }')" = 1 ]; then
        ok "task-subnet's peak memory ($sub MiB) is below task-moe's ($full MiB): the full model is not kept beside it"
    else not_ok "task-subnet's peak memory is below task-moe's" "task-subnet $sub MiB, task-moe $full MiB"; fi
else not_ok "task-subnet's peak memory is below task-moe's" "$(tail -3 "$WORK/rss.err")"; fi

# --count-instructions: exact counts under callgrind, the same run after run
if [ -n "$MOEBENCH_SANITIZED" ]; then
    skip "instruction counts agree within 0.1%" "a sanitizer build cannot run under valgrind"
elif command -v valgrind >/dev/null 2>&1; then
    printf '[scenario]\nname = cg\nbatch_sizes = 4\n[model]\npreset = tiny\nvariants = token-moe\n[workload]\nsentences = 4\n[measure]\nwarmup = 1\nrepetitions = 2\n' >"$WORK/cg.ini"
    ir_of() { sed 's/"[^"]*"//g' "$1" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "callgrind_ir") c = i } NR > 1 { print $c }'; }
    $M run "$WORK/cg.ini" --count-instructions -o "$WORK/cg1.csv" 2>/dev/null
    $M run "$WORK/cg.ini" --count-instructions -o "$WORK/cg2.csv" 2>/dev/null
    a=$(ir_of "$WORK/cg1.csv" | tr '\n' ' '); b=$(ir_of "$WORK/cg2.csv" | tr '\n' ' ')
    if [ -n "$(echo $a)" ] && echo "$a|$b" | awk -F'|' '{ n = split($1, x, " "); split($2, y, " ");
            for (i = 1; i <= n; i++) if (x[i] <= 0 || (x[i] - y[i]) / x[i] > 0.001 || (y[i] - x[i]) / x[i] > 0.001) exit 1 }'; then
        ok "instruction counts of two runs agree within 0.1% ($a/ $b)"
    else not_ok "instruction counts agree within 0.1%" "$a vs $b"; fi
else
    skip "instruction counts agree within 0.1%" "valgrind is not installed"
fi
