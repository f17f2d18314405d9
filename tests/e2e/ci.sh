#!/bin/sh
# End-to-end tests of issue 15's CI machinery: rows that identify the run and
# say how busy the machine was, per-configuration memory, `compare --run`
# (interleaved rounds of two builds, judged per run), exit status 2 and
# "could not judge", starved rows refused, the warnings of run and report,
# notes for different machines. Uses a 4-sentence scenario of the tiny
# preset so that it runs in seconds; a busy machine (this one usually is)
# only changes which of the allowed outcomes appears, never passes a test
# that should fail.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
M=$MOEBENCH
cd "$WORK" || exit 1

# A CSV line split into f[1..n], with libcsv's quoting ("a,b" and "" inside quotes).
CSVAWK='function split_csv(line, f,   n, i, c, q, cur) {
    n = 0; cur = ""; q = 0
    for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (q) { if (c == "\"") { if (substr(line, i + 1, 1) == "\"") { cur = cur c; i++ } else q = 0 } else cur = cur c }
        else if (c == "\"") q = 1
        else if (c == ",") { f[++n] = cur; cur = "" }
        else cur = cur c
    }
    f[++n] = cur
    return n
}
function quote(s) { if (s ~ /[,"]/) { gsub(/"/, "\"\"", s); return "\"" s "\"" } return s }'
# col FILE NAME [ROW]: the cell of column NAME in data row ROW (default 1)
col() {
    awk -v name="$2" -v row="${3:-1}" "$CSVAWK"'
        NR == 1 { n = split_csv($0, h); for (i = 1; i <= n; i++) if (h[i] == name) c = i; next }
        NR == row + 1 { split_csv($0, f); print f[c]; exit }' "$1"
}
# setcol FILE NAME VALUE: every data row's NAME set to VALUE
setcol() {
    awk -v name="$2" -v v="$3" "$CSVAWK"'
        NR == 1 { n = split_csv($0, h); for (i = 1; i <= n; i++) if (h[i] == name) c = i; print; next }
        { n = split_csv($0, f); f[c] = v; line = quote(f[1]); for (i = 2; i <= n; i++) line = line "," quote(f[i]); print line }' "$1"
}

# the identity and kernel checks compare the ref and openblas rows of one run
if ! have_backend openblas; then
    skip "identity, busy-machine and compare --run checks" "they need the openblas backend (this build has WITH_OPENBLAS=0)"
    exit 0
fi
sed -e 's/^sentences *=.*/sentences = 4/' -e 's/^backends *=.*/backends = ref, openblas/' \
    -e 's/^repetitions *=.*/repetitions = 5/' -e 's/^passes *=.*/passes = 1/' \
    "$ROOT/scenarios/ci-regression.ini" >tiny.ini

if ! "$M" run tiny.ini -o run.csv >run.log 2>&1; then
    not_ok "run a tiny scenario" "$(tail -n 5 run.log)"
    exit 0
fi
ok "run a tiny scenario"

# --- identity
[ "$(col run.csv schema_version)" = 2 ] && ok "schema_version 2" || not_ok "schema_version 2" "$(col run.csv schema_version)"
[ "$(col run.csv seed)" = 1 ] && ok "seed recorded" || not_ok "seed recorded" "$(col run.csv seed)"
v=$("$M" --version | cut -d' ' -f2)
[ "$(col run.csv moebench_version)" = "$v" ] && ok "moebench_version is --version's" || not_ok "moebench_version" "$(col run.csv moebench_version) vs $v"
case $(col run.csv git_dirty) in 0|1|"") ok "git_dirty 0, 1 or empty" ;; *) not_ok "git_dirty" "$(col run.csv git_dirty)" ;; esac
echo "$(col run.csv machine_id)" | grep -Eq '^[0-9a-f]{16}$' && ok "machine_id: 16 hex digits" || not_ok "machine_id" "$(col run.csv machine_id)"
echo "$(col run.csv scenario_hash)" | grep -Eq '^[0-9a-f]{16}$' && ok "scenario_hash: 16 hex digits" || not_ok "scenario_hash" "$(col run.csv scenario_hash)"
vendor=$(grep -m1 '^vendor_id' /proc/cpuinfo | sed 's/.*: *//')
[ "$(col run.csv cpu_vendor)" = "$vendor" ] && ok "cpu_vendor from /proc/cpuinfo" || not_ok "cpu_vendor" "$(col run.csv cpu_vendor) vs $vendor"
fam=$(grep -m1 '^cpu family' /proc/cpuinfo | sed 's/.*: *//')
[ "$(col run.csv cpu_family)" = "$fam" ] && ok "cpu_family from /proc/cpuinfo" || not_ok "cpu_family" "$(col run.csv cpu_family) vs $fam"
if grep -m1 '^flags' /proc/cpuinfo | grep -qw avx2; then
    col run.csv cpu_flags | grep -qw avx2 && ok "cpu_flags has avx2 like /proc/cpuinfo" || not_ok "cpu_flags" "$(col run.csv cpu_flags)"
else skip "cpu_flags has avx2 like /proc/cpuinfo" "this CPU has no avx2"; fi
for c in compiler cflags os openblas_config onednn_version backend_version kernel mem_total_mb; do
    [ -n "$(col run.csv $c)" ] && ok "$c filled" || not_ok "$c filled" "empty"
done
[ "$(col run.csv kernel 1)" = "ref portable C" ] && ok "kernel of ref" || not_ok "kernel of ref" "$(col run.csv kernel 1)"
col run.csv kernel 6 | grep -Eq '^openblas [A-Za-z0-9]+; ops ' && ok "kernel of openblas names its core" || not_ok "kernel of openblas" "$(col run.csv kernel 6)"

# --- memory and precision
[ "$(col run.csv rss_scope)" = configuration ] && ok "peak RSS per configuration (clear_refs)" || skip "peak RSS per configuration (clear_refs)" "the kernel refused clear_refs: $(col run.csv rss_scope)"
mb=$(col run.csv model_bytes); pt=$(col run.csv params_total)
[ "$mb" = "$((pt * 4))" ] && ok "model_bytes = params x 4 in fp32" || not_ok "model_bytes in fp32" "$mb vs $pt params"

# --- busy machine
u=$(col run.csv cpu_util); s=$(col run.csv starved)
echo "$u" | grep -Eq '^[0-9]+\.[0-9]{3}$' && ok "cpu_util recorded" || not_ok "cpu_util recorded" "'$u'"
case $s in
0) [ -z "$(col run.csv starved_note)" ] && ok "starved 0, no note" || not_ok "starved 0, no note" "$(col run.csv starved_note)" ;;
1) col run.csv starved_note | grep -Eq 'waited for a CPU|stole|utilisation' && ok "starved 1 with its reason" || not_ok "starved 1 with its reason" "$(col run.csv starved_note)"
   grep -q 'ran starved' run.log && ok "  ... and run warned on stderr" || not_ok "  ... and run warned on stderr" "$(cat run.log)" ;;
*) not_ok "starved is 0 or 1" "'$s'" ;;
esac

# --- report and compare on starved rows (forced)
setcol run.csv starved 1 >starved.csv
if "$M" report starved.csv -o report.md --figures figs >rep.log 2>&1 && grep -q 'Warning: 10 of 10 result rows ran starved\|Warning: 20 of 20 result rows ran starved' report.md; then
    ok "report warns about starved rows"
else not_ok "report warns about starved rows" "$(cat rep.log; grep -i starved report.md)"; fi
"$M" compare run.csv starved.csv >cmp.out 2>&1; rc=$?
if [ "$rc" -eq 2 ] && grep -q 'ran starved' cmp.out && grep -q '^result: could not judge' cmp.out; then
    ok "compare refuses starved NEW rows: exit 2, could not judge, says why"
else not_ok "compare refuses starved NEW rows" "exit $rc: $(cat cmp.out)"; fi
"$M" compare run.csv starved.csv --format markdown >cmp.md 2>&1
head -n 1 cmp.md | grep -q '^\*\*moebench compare: could not judge' && ok "  ... the markdown says could not judge" || not_ok "  ... markdown" "$(head -n 1 cmp.md)"

# --- different machine, different kernel
setcol run.csv machine_id 0123456789abcdef >other.csv
"$M" compare run.csv other.csv >cmp.out 2>&1
grep -q "different machines.*machine_id" cmp.out && ok "different machine_id: a note" || not_ok "different machine_id: a note" "$(cat cmp.out)"
setcol run.csv kernel "openblas Haswell; ops avx2" >kern.csv
"$M" compare run.csv kern.csv --metric callgrind_ir,tgt_tok_per_s >cmp.out 2>&1; rc=$?
[ "$rc" -eq 2 ] && grep -q "different kernels" cmp.out && ok "different kernels: refused, exit 2" || not_ok "different kernels" "exit $rc: $(cat cmp.out)"

# --- nothing in common: could not judge, never "no regression"
sed 's/,token-moe,/,dense,/; s/,task-moe,/,student,/' run.csv >elsewhere.csv
"$M" compare run.csv elsewhere.csv >cmp.out 2>cmp.err; rc=$?
if [ "$rc" -eq 2 ] && grep -q '^result: could not judge: no configuration is in both files' cmp.out && ! grep -q 'no regression' cmp.out; then
    ok "no configuration in common: exit 2, could not judge"
else not_ok "no configuration in common" "exit $rc: $(cat cmp.out cmp.err)"; fi

# --- compare --run: the same build twice, the default 8 rounds (enough for
# the 4 configurations x 2 metrics = 8 tests under Holm's correction)
"$M" compare --run "$M" "$M" tiny.ini --out cr >cr.out 2>cr.err; rc=$?
rows=$(($(wc -l <cr/base.csv) - 1))
if [ "$rows" -eq 32 ] && [ "$(ls cr/base-r0*.csv cr/new-r0*.csv | wc -l)" -eq 16 ]; then
    ok "compare --run: 8 rounds per side, 1 repetition each (of 5), 4 configurations"
else not_ok "compare --run: rounds" "$rows rows in base.csv; $(ls cr)"; fi
# the Holm family: the 8 tests less those whose starved rows left too few to reach alpha
"$M" compare cr/base.csv cr/new.csv --unit run --format json >cr.json 2>/dev/null
fam=$(sed -n 's/.*"holm_family":\([0-9]*\).*/\1/p' cr.json)
[ -n "$fam" ] && [ "$fam" -le 8 ] && ok "  ... JSON: holm_family $fam (of 8 tests)" || not_ok "  ... JSON holm_family" "'$fam': $(head -c 300 cr.json)"
grep -q 'round 2/8 done' cr.err && ok "  ... progress per round" || not_ok "  ... progress per round" "$(cat cr.err)"
[ "$(awk -F, 'NR > 1 { print $2 }' cr/base.csv | sort -u | wc -l)" -eq 8 ] && ok "  ... one run_id per round" || not_ok "  ... one run_id per round" "$(awk -F, 'NR > 1 { print $2 }' cr/base.csv | sort -u)"
grep -q 'the unit is the run' cr.out && ok "  ... judged per run" || not_ok "  ... judged per run" "$(cat cr.out)"
case $rc in
0) grep -q '^result: no regression' cr.out && ok "  ... A/A: no regression (exit 0)" || not_ok "  ... A/A exit 0" "$(cat cr.out)" ;;
2) grep -q '^result: could not judge' cr.out && ok "  ... A/A: could not judge (exit 2) on this busy machine, with reasons" || not_ok "  ... A/A exit 2" "$(cat cr.out)" ;;
*) not_ok "  ... A/A: exit 0 or 2" "exit $rc: $(cat cr.out)" ;;
esac
check_fails "compare --run: a binary that is not there" "^moebench: compare --run: $WORK/nope: No such file or directory; give the path of a built moebench program$" \
    "$M" compare --run "$WORK/nope" "$M" tiny.ini
check_fails "compare --run: two arguments only" "^moebench: compare --run: needs BASE_BINARY NEW_BINARY SCENARIO.ini" \
    "$M" compare --run "$M" tiny.ini
check_fails "compare --run: a bad scenario" "^moebench: .*none\.ini" "$M" compare --run "$M" "$M" none.ini
"$M" compare --run "$M" "$M" none.ini >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] && ok "  ... exit 2" || not_ok "  ... exit 2" "exit $rc"
