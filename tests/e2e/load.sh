# Start-up: every measured row of `moebench run` has load_s, positive and the
# same on every row of its configuration, for model files (memory-mapped) and
# random weights alike, with mapping on and off (MOEBENCH_MMAP=0); a mapped
# model translates exactly as a read one; a truncated model file still gets
# its one-line error from run and translate, and no results file.
. tests/e2e/lib.sh
M=$MOEBENCH

"$M" init --preset tiny --variant dense --seed 3 -o "$WORK/d.st" 2>/dev/null
"$M" init --preset tiny --variant task-moe --seed 4 -o "$WORK/tm.st" 2>/dev/null
# dense from a file, task-subnet cut per task from a task-moe file, token-moe random
cat >"$WORK/l.ini" <<INI
[scenario]
name = l
modes = offline
batch_sizes = 2
[model]
preset = tiny
variants = dense, token-moe, task-subnet
files = dense:$WORK/d.st, task-subnet:$WORK/tm.st
[workload]
tasks = en-de, de-en
sentences = 3
[measure]
backends = ref
warmup = 0
repetitions = 2
INI

# load_s of each row, with its configuration key before it: "KEY load_s"
load_rows() {
    sed 's/"[^"]*"//g' "$1" | awk -F, '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { printf "%s|%s|%s|%s|%s|%s|%s|%s %s\n", $c["mode"], $c["variant"], $c["backend"], $c["precision"],
              $c["threads"], $c["task"], $c["batch_size"], $c["decode"], $c["load_s"] }'
}
# ok when every row has load_s > 0 (and under 60 s: tiny models) and the rows of a configuration agree
check_load() { # $1 = name, $2 = csv, $3 = rows expected
    rows=$(load_rows "$2")
    n=$(printf '%s\n' "$rows" | grep -c .)
    bad=$(printf '%s\n' "$rows" | awk '!($2 > 0 && $2 < 60) { print "row " NR ": load_s \"" $2 "\"" }')
    split=$(printf '%s\n' "$rows" | sort -u | awk '{ print $1 }' | uniq -d)
    if [ "$n" -eq "$3" ] && [ -z "$bad" ] && [ -z "$split" ]; then
        ok "$1: load_s on all $n rows, > 0, one value per configuration"
    else not_ok "$1" "rows $n (want $3); $bad; configurations with two values: $split"; fi
}

if "$M" run "$WORK/l.ini" -o "$WORK/map.csv" 2>"$WORK/map.err"; then
    # 3 variants x 2 tasks x 1 batch size x 2 repetitions
    check_load "mapped model files" "$WORK/map.csv" 12
else not_ok "run with model files" "$(tail -3 "$WORK/map.err")"; fi
if MOEBENCH_MMAP=0 "$M" run "$WORK/l.ini" -o "$WORK/read.csv" 2>"$WORK/read.err"; then
    check_load "model files read (MOEBENCH_MMAP=0)" "$WORK/read.csv" 12
else not_ok "run with MOEBENCH_MMAP=0" "$(tail -3 "$WORK/read.err")"; fi
# the translations do not depend on how the weights came in (the sums of
# generated tokens and routed assignments of each row)
pick() { sed 's/"[^"]*"//g' "$1" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { print $c["variant"], $c["task"], $c["rep"], $c["tgt_tokens"], $c["routed_assignments"] }'; }
if [ -s "$WORK/map.csv" ] && [ "$(pick "$WORK/map.csv")" = "$(pick "$WORK/read.csv")" ]; then
    ok "mapped and read runs route and generate the same"
else not_ok "mapped and read runs route and generate the same"; fi

# translate: the same outputs, scores included, mapped or read
printf '5 6 7 8\n9 10 11\n12 13 14 15 16\n' >"$WORK/src.ids"
a=$("$M" translate "$WORK/tm.st" --task en-de --ids --scores <"$WORK/src.ids" 2>&1)
b=$(MOEBENCH_MMAP=0 "$M" translate "$WORK/tm.st" --task en-de --ids --scores <"$WORK/src.ids" 2>&1)
if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "translate: mapped and read give the same outputs and scores"
else not_ok "translate: mapped and read give the same outputs" "mapped: $a / read: $b"; fi

# a truncated model file: one line naming it, exit 1, no results file
size=$(wc -c <"$WORK/d.st")
head -c $((size - 4)) "$WORK/d.st" >"$WORK/cut.st"
sed "s|dense:$WORK/d.st|dense:$WORK/cut.st|" "$WORK/l.ini" >"$WORK/cut.ini"
check_fails "run: a truncated model file gets its one-line error" "cut.st: tensor '[^']*'.*; the file is truncated or corrupt" \
    "$M" run "$WORK/cut.ini" -o "$WORK/cut.csv"
if [ ! -e "$WORK/cut.csv" ] && [ ! -e "$WORK/cut.csv.tmp" ]; then ok "run: no results file for a truncated model"
else not_ok "run: no results file for a truncated model"; fi
check_fails "translate: a truncated model file gets its one-line error" "cut.st: tensor '[^']*'.*; the file is truncated or corrupt" \
    sh -c "echo 5 6 | '$M' translate '$WORK/cut.st' --task en-de --ids"

# results written before load_s existed are still read (csvin looks columns up by name)
if [ -f results/demo.csv ] && ! head -1 results/demo.csv | grep -q load_s; then
    check "report reads a CSV without load_s" "$M" report results/demo.csv -o "$WORK/rep.md" --figures "$WORK/fig"
    # read and judged: a verdict line (few repetitions may leave it "could not judge", status 2)
    out=$("$M" compare results/demo.csv results/demo.csv 2>&1)
    if printf '%s\n' "$out" | tail -1 | grep -q '^result: '; then ok "compare reads a CSV without load_s"
    else not_ok "compare reads a CSV without load_s" "$(printf '%s\n' "$out" | tail -3)"; fi
else skip "older CSVs without load_s" "results/demo.csv is absent or has load_s"; fi
if [ -s "$WORK/map.csv" ]; then
    out=$("$M" compare "$WORK/read.csv" "$WORK/map.csv" 2>&1)
    if printf '%s\n' "$out" | tail -1 | grep -q '^result: '; then ok "compare reads CSVs with load_s"
    else not_ok "compare reads CSVs with load_s" "$(printf '%s\n' "$out" | tail -3)"; fi
fi
