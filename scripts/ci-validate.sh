#!/bin/sh
# ci-validate: measures how far `moebench compare` verdicts can be trusted on
# this machine (issue 15's "done when"), and writes the table for docs/ci.md.
#
#   scripts/ci-validate.sh [--smoke] [--trials N] [--scenario FILE] [--out DIR] [--no-hog]
#
# Builds four programs from this tree: the base, and planted slowdowns that
# really do more work (make EXTRA_WORK_PCT=P: P% more linear-layer work, see
# backends/portable.c): 5% and 10% for the wall clock, 1% for instruction
# counts. Starts a CPU hog (one process spinning on one core) unless
# --no-hog, then runs N times each (default 10):
#   wall clock:   compare --run BASE BASE (A/A), BASE +5%, BASE +10%
#                 (10 rounds, --threshold 2%)
#   instructions: compare --run --count-instructions BASE BASE, BASE +1%
#                 (judged with --ins-threshold 0.5%: the plant adds a bit
#                 under 1% of all instructions; the table gives the measured
#                 change)
# and writes DIR/validation.md (default ci-validate/): per comparison how
# often it said regression / could not judge / no regression, the median
# measured change, and how long it took. --smoke: a tiny scenario, one
# trial, two rounds: checks the mechanism (about 12 minutes here, mostly the
# four builds and callgrind), proves nothing.
# Full run: about 1.5 hours on a 2-core VM (docs/ci.md).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
trials=10 scenario=scenarios/ci-regression.ini out=ci-validate hog=1 smoke=0
# wall clock: 10 rounds and a 2% threshold, so that a 5% slowdown is clearly
# beyond it (at a 5% threshold a 5% change is flagged half the time, by
# construction); instruction counts: one round (they do not vary)
wall="--rounds 10 --threshold 2%"
while [ $# -gt 0 ]; do
    case $1 in
    --smoke) smoke=1 ;;
    --trials) trials=$2; shift ;;
    --scenario) scenario=$2; shift ;;
    --out) out=$2; shift ;;
    --no-hog) hog=0 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "moebench: ci-validate: unknown option '$1'; see scripts/ci-validate.sh --help" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$out" || exit 2
if [ "$smoke" = 1 ]; then
    trials=1 wall="--rounds 2 --threshold 2%"
    sed -e 's/^sentences *=.*/sentences = 4/' -e 's/^backends *=.*/backends = ref/' \
        -e 's/^repetitions *=.*/repetitions = 2/' -e 's/^passes *=.*/passes = 1/' "$scenario" >"$out/smoke.ini"
    scenario=$out/smoke.ini
fi
log() { echo "ci-validate: $*" >&2; }
start=$(date +%s)

# --- the builds
for v in base:"" slow5:5 slow10:10 slow1:1; do
    name=${v%%:*} pct=${v#*:}
    log "building build-ci-$name${pct:+ (EXTRA_WORK_PCT=$pct)}"
    if [ -n "$pct" ]; then make -s -j2 BUILD="build-ci-$name" EXTRA_WORK_PCT="$pct" "build-ci-$name/moebench" >&2
    else make -s -j2 BUILD="build-ci-$name" "build-ci-$name/moebench" >&2; fi || { log "build failed"; exit 2; }
done
M=build-ci-base/moebench

# --- the hog: one process spinning on one core, as another CI job would
hog_pid=""
if [ "$hog" = 1 ]; then
    sh -c 'while :; do :; done' &
    hog_pid=$!
    log "CPU hog running (pid $hog_pid)"
fi
cleanup() { [ -n "$hog_pid" ] && kill "$hog_pid" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM # exit runs the EXIT trap; a bare cleanup would carry on

# run_set LABEL NEWBUILD EXTRA_ARGS: N trials of compare --run, tallied
table=$out/table.md
printf '| comparison | trials | regression (exit 1) | could not judge (exit 2) | no regression (exit 0) | median change of the first metric | seconds per trial |\n|---|--:|--:|--:|--:|--:|--:|\n' >"$table"
run_set() {
    label=$1 new=$2; shift 2
    reg=0 cnj=0 none=0 t0=$(date +%s)
    : >"$out/changes.txt"
    i=1
    while [ "$i" -le "$trials" ]; do
        dir=$out/$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-')-$i
        # shellcheck disable=SC2086
        "$M" compare --run "$M" "$new" "$scenario" --out "$dir" --format json "$@" >"$dir.json" 2>"$dir.log"
        rc=$?
        case $rc in 0) none=$((none + 1)) ;; 1) reg=$((reg + 1)) ;; *) cnj=$((cnj + 1)) ;; esac
        grep -o '"change":-\{0,1\}[0-9][-0-9.e+]*' "$dir.json" | head -n 1 | cut -d: -f2 >>"$out/changes.txt"
        log "$label: trial $i/$trials: exit $rc"
        i=$((i + 1))
    done
    secs=$(( ($(date +%s) - t0) / trials ))
    med=$(sort -g "$out/changes.txt" | awk '{v[NR]=$1} END {if (NR) printf "%+.2f%%", 100 * v[int((NR + 1) / 2)]; else print "-"}')
    printf '| %s | %d | %d | %d | %d | %s | %d |\n' "$label" "$trials" "$reg" "$cnj" "$none" "$med" "$secs" >>"$table"
}

# shellcheck disable=SC2086
run_set "wall clock A/A (same build)" "$M" $wall
# shellcheck disable=SC2086
run_set "wall clock +5% work" build-ci-slow5/moebench $wall
# shellcheck disable=SC2086
run_set "wall clock +10% work" build-ci-slow10/moebench $wall
run_set "instructions A/A (same build)" "$M" --count-instructions --ins-threshold 0.5%
run_set "instructions +1% work" build-ci-slow1/moebench --count-instructions --ins-threshold 0.5%

total=$(( $(date +%s) - start ))
{
    echo "## Validation on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo
    echo "\`scripts/ci-validate.sh$( [ "$smoke" = 1 ] && echo ' --smoke')\` with \`$scenario\`, $trials trials each," \
         "$( [ "$hog" = 1 ] && echo 'a CPU hog spinning on one core beside it' || echo 'no CPU hog')," \
         "$(date -u +%Y-%m-%d); $total s in all. The first metric is tgt_tok_per_s of the first configuration" \
         "(wall clock) or its callgrind_ir (instructions)."
    echo
    cat "$table"
} >"$out/validation.md"
cat "$out/validation.md"
