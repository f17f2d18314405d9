#!/bin/sh
# paper: the whole reproduction of the paper's tables at this machine's scale
# (issue 14), one command: `make paper` (full), `make paper QUICK=1` (every
# step on a tiny budget), PAPER_TINY=1 (smaller still: the e2e test).
#
#   scripts/paper.sh [--list] [--scenarios DIR] [--help]
#
# Steps, each skipped when its output exists and its stamp (the command line
# and the checksums of its inputs) is unchanged, so an interrupted recipe
# continues where it stopped (training from its last checkpoint):
#   1     the joint SentencePiece vocabulary on Multi30k train (moebench vocab train)
#   2-5   dense, token-moe (token/token), sentence-moe (sentence/sentence) and
#         task-moe (token encoder, decoder task-routed on the target language:
#         the paper's best), one-to-many en-de,en-fr,en-cs as issue 13's
#         reference run, the same seed, --batch-tokens and --steps for all:
#         an equal token budget (moebench train); two at a time, each on
#         threads/parallel threads, when the sizes say parallel 2
#   6     every task sub-network of task-moe (moebench extract), checked to
#         translate exactly as task-moe does on the first test lines
#   7     the student distilled from token-moe (moebench distill); skipped with
#         a message where this moebench has no distill command: the student
#         row is then a random dense-shaped model that reports label untrained
#   8-10  the harness (moebench run) on the six variants: BLEU and chrF per
#         direction and peak offline throughput on Multi30k test2016, single-
#         stream latency, BLEU and chrF on newstest2013 (out of domain, when
#         the data has it); parameters and memory in every row; all merged
#         into one CSV
#   11    the paired bootstrap of the BLEU claims per direction (moebench bleu
#         --paired-bs) and moebench report
# Models, checkpoints, logs and stamps live outside the work tree, in
# PAPER_DIR (default $HOME/.cache/moebench/paper, -quick, -tiny). The full
# recipe writes results/paper-small.csv, results/paper-train-*.csv (the
# training curves), results/paper-small.recipe.txt (every command) and
# REPORT.md; QUICK and TINY write their CSV and report into PAPER_DIR only.
#
# Environment: MOEBENCH (the program, default build/moebench), MOEBENCH_DATA
# (the data, default ../shared/data), PAPER_DIR, QUICK=1, PAPER_TINY=1, and
# PAPER_<KNOB>=value overriding one entry of the sizes table (e.g.
# PAPER_STEPS=700). PAPER_STOP_AFTER=N is for tests: every training stops
# after N steps as if interrupted.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

# ---- the sizes: every budget of the recipe, full / QUICK=1 / PAPER_TINY=1 ----
# est_* are wall-clock estimates in seconds on the 2-core Zen 3 (quiet), each
# step alone on both cores; two trainings side by side take their sum /
# PAIR_GAIN. The ETA rescales them by how long the steps that ran really took.
# Full: 600 steps of 4,700 tokens (2.8M source+target tokens per model), issue
# 13's reference run shortened to fit issue 14's two hours (that run's 700
# steps gave dense 18.6 BLEU en->de on test2016, greedy; 600 gave 16.3 on
# validation).
SIZES='
knob               full          quick         tiny
preset             train-small   train-small   tiny
seed               1             1             1
vocab_size         8000          8000          500
vocab_sentences    0             20000         2000
train_lines        0             5000          300
batch_tokens       4700          1200          300
steps              600           20            4
warmup             150           10            2
valid_every        100           20            4
valid_lines        200           50            20
bleu_lines         200           20            5
threads            2             2             2
parallel           2             2             2
distill_lines      8000          100           40
beam               4             4             4
check_lines        50            5             5
test_sentences     1000          100           16
batch_sizes        32,128        32            8
repetitions        2             1             1
latency_sentences  200           10            8
news_sentences     1000          40            16
est_vocab          100           10            5
est_dense          1200          40            5
est_moe            1460          40            6
est_extract        30            20            3
est_distill        1800          90            10
est_measure        600           60            10
est_latency        200           30            5
est_news           400           60            5
est_report         30            10            5
'
PROFILE=full COL=2
[ "${QUICK:-0}" = 1 ] && PROFILE=quick COL=3
[ "${PAPER_TINY:-0}" = 1 ] && PROFILE=tiny COL=4

# size KNOB: the table's value for this profile, or PAPER_KNOB from the environment
size() {
    env_name=PAPER_$(echo "$1" | tr a-z A-Z)
    eval "ov=\${$env_name:-}"
    if [ -n "$ov" ]; then echo "$ov"; return; fi
    v=$(echo "$SIZES" | awk -v k="$1" -v c="$COL" '$1 == k { print $c }')
    [ -n "$v" ] || { echo "moebench: paper: no knob '$1' in the sizes table (scripts/paper.sh)" >&2; exit 2; }
    echo "$v"
}

# PREFIX ("[dense] ") marks the lines of a step that runs beside another
say() { printf '%smoebench paper: %s\n' "${PREFIX:-}" "$*"; }
die() { printf '%smoebench: paper: %s\n' "${PREFIX:-}" "$1" >&2; exit "${2:-1}"; }

DIRS=en-de,en-fr,en-cs
MB=${MOEBENCH:-$ROOT/build/moebench}
case "$MB" in /*) ;; *) MB=$ROOT/$MB ;; esac
DATA=${MOEBENCH_DATA:-$ROOT/../shared/data}
case "$DATA" in /*) ;; *) DATA=$ROOT/$DATA ;; esac
[ -d "$DATA" ] && DATA=$(cd "$DATA" && pwd)
export MOEBENCH_DATA="$DATA" # the scenarios run from the models' folder
case "$PROFILE" in full) dflt=$HOME/.cache/moebench/paper ;; *) dflt=$HOME/.cache/moebench/paper-$PROFILE ;; esac
P=${PAPER_DIR:-$dflt}
case "$P" in /*) ;; *) P=$ROOT/$P ;; esac
case "$P" in *[[:space:]]*) die "PAPER_DIR '$P' has a space in its name; choose a folder without (the commands are split on spaces)" 2 ;; esac
M=$P/models STAMPS=$P/stamps LOGS=$P/logs
NAME=paper-small
[ "$PROFILE" = full ] || NAME=paper-small-$PROFILE
if [ "$PROFILE" = full ]; then
    CSV=$ROOT/results/$NAME.csv REPORT=$ROOT/REPORT.md CURVES_OUT=$ROOT/results
else
    CSV=$P/results/$NAME.csv REPORT=$P/REPORT-paper.md CURVES_OUT=
fi
TRAIN_PAT=$DATA/multi30k/train.{lang}.gz
VALID_PAT=$DATA/multi30k/val.{lang}.gz


# seconds -> "1h05m" / "12m30s" / "45s"
dur() {
    s=$1
    if [ "$s" -ge 3600 ]; then printf '%dh%02dm' $((s / 3600)) $((s % 3600 / 60))
    elif [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60))
    else printf '%ds' "$s"; fi
}

# ---- the scenarios (what steps 8-10 measure) ----
# One scenario file per measurement; the model files are named relative to
# the models' folder (the harness runs there), which also keeps the files
# line within the INI reader's 198 bytes. STUDENT=1: the student is a file.
scenario() { # KIND (quality | latency | news) STUDENT
    kind=$1 student=$2
    case $kind in
    quality) name=$NAME what="Multi30k test2016 (in domain): BLEU, chrF, peak offline throughput"
        modes=offline data=multi30k-test n=$(size test_sentences) bs=$(size batch_sizes) reps=$(size repetitions) ;;
    latency) name=$NAME-latency what="Multi30k test2016: single-stream latency"
        modes=single-stream data=multi30k-test n=$(size latency_sentences) bs=1 reps=1 ;;
    news) name=$NAME-news what="newstest2013 (out of domain): BLEU, chrF"
        modes=offline data=newstest2013 n=$(size news_sentences) bs=$(size batch_sizes | sed 's/.*,//') reps=1 ;;
    esac
    files="dense:dense.safetensors, token-moe:token.safetensors, sentence-moe:sentence.safetensors"
    files="$files, task-moe:task.safetensors, task-subnet:task.safetensors"
    [ "$student" = 1 ] && files="$files, student:student.safetensors"
    cat <<EOF
; $name: the six variants of make paper ($PROFILE sizes), $what.
; Written by scripts/paper.sh from its sizes table; the model files are in
; PAPER_DIR/models (default ~/.cache/moebench/paper/models), where the recipe
; runs this scenario; the data comes from MOEBENCH_DATA. task-subnet is cut
; from task.safetensors for each task (as moebench extract cuts it).
[scenario]
name = $name
description = make paper ($PROFILE): $what
seed = $(size seed)
modes = $modes
batch_sizes = $(echo "$bs" | sed 's/,/, /g')

[model]
preset = $(size preset)
variants = dense, token-moe, sentence-moe, task-moe, task-subnet, student
files = $files
vocab = $(size vocab_size)
tasks = $(echo "$DIRS" | sed 's/,/, /g')

[workload]
data = $data
tasks = $(echo "$DIRS" | sed 's/,/, /g')
sentences = $n
decode = greedy

[measure]
backends = openblas
precisions = fp32
threads = $(size threads)
warmup = 0
repetitions = $reps
EOF
}

usage() {
    sed -n '2,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

LIST=0
while [ $# -gt 0 ]; do
    case $1 in
    --list) LIST=1 ;;
    --scenarios)
        [ $# -ge 2 ] || die "--scenarios needs a folder; e.g. --scenarios scenarios" 2
        mkdir -p "$2" || exit 1
        scenario quality 1 >"$2/$NAME.ini" && scenario latency 1 >"$2/$NAME-latency.ini" &&
            scenario news 1 >"$2/$NAME-news.ini" || exit 1
        exit 0 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1'; see scripts/paper.sh --help" 2 ;;
    esac
    shift
done

# ---- what must be there ----
[ -x "$MB" ] || die "$MB: no moebench program; build it with 'make' (or point MOEBENCH at one)"
for set in train val test_2016_flickr; do
    for l in en de fr cs; do
        f=$DATA/multi30k/$set.$l.gz
        [ -r "$f" ] || die "$f: no Multi30k data (looked in $DATA: MOEBENCH_DATA, else ../shared/data beside the project); point MOEBENCH_DATA at a folder holding multi30k/{train,val,test_2016_flickr}.{en,de,fr,cs}.gz"
    done
done
NEWS=1
for l in en de fr cs; do [ -r "$DATA/wmt/newstest2013.$l" ] || NEWS=0; done
HAVE_DISTILL=0
"$MB" distill --help >/dev/null 2>&1 && HAVE_DISTILL=1
# the data's checksums: a changed file re-runs every step that reads it
DATA_SUM=$(cd "$DATA" && cksum multi30k/*.gz $( [ $NEWS = 1 ] && echo wmt/newstest2013.en wmt/newstest2013.de wmt/newstest2013.fr wmt/newstest2013.cs) | awk '{ printf "%s:%s ", $3, $1 }')
mkdir -p "$M" "$STAMPS" "$LOGS" "$P/curves" "$P/scenarios" "$(dirname "$CSV")" || exit 1

# ---- steps, stamps, progress ----
STEPS_N=11
K=0 T0=$(date +%s) EST_LEFT=0 EST_RAN=0 REAL_RAN=0 RAN_ANY=0
# two trainings side by side on one thread each do 1.33-1.38x the work of
# one after the other on two threads (train --bench, 2-core Zen 3: dense
# 2 x 1,705 against 2,567 tokens/s; dense beside token-moe 1,724 + 1,632
# against 2,567 and 2,180): the estimates of steps 2-5 count at 100/138
PAIR_GAIN=138
for e in est_vocab est_extract est_distill est_measure est_latency est_news est_report; do
    EST_LEFT=$((EST_LEFT + $(size "$e")))
done
TRAIN_EST=$(($(size est_dense) + 3 * $(size est_moe)))
[ "$(size parallel)" -ge 2 ] && TRAIN_EST=$((TRAIN_EST * 100 / PAIR_GAIN))
EST_LEFT=$((EST_LEFT + TRAIN_EST))
EST_ALL=$EST_LEFT

# The stamp of a step: its command line, then the checksum of each input
# (INPUTS, space-separated paths) and the data's; a step whose stamp is
# unchanged and whose output exists is not run again.
stamp_text() {
    printf 'command:'
    for a in "$@"; do # the program by its name: another build of it re-runs nothing
        [ "$a" = "$MB" ] && a=moebench
        printf ' %s' "$a"
    done
    printf '\n'
    printf 'data: %s\n' "$DATA_SUM"
    for f in $INPUTS; do
        if [ -e "$f" ]; then printf 'input: %s %s\n' "$(basename "$f")" "$(cksum <"$f" | awk '{ print $1 ":" $2 }')"
        else printf 'input: %s missing\n' "$(basename "$f")"; fi
    done
}

eta_line() { # k name: step k of n, elapsed, the estimate of what is left
    now=$(date +%s) el=$((now - T0))
    left=$EST_LEFT
    # rescaled by how the steps that ran compare with their estimates, once
    # they are a tenth of the recipe (one short step says little)
    [ "$EST_RAN" -gt 0 ] && [ $((EST_RAN * 10)) -ge "$EST_ALL" ] && left=$((EST_LEFT * REAL_RAN / EST_RAN))
    say "[$1/$STEPS_N] $2 (elapsed $(dur $el), about $(dur $left) left for the recipe)"
}

# Runs "$@" with its output on the terminal and in LOG; its exit status.
# tee ignores SIGINT, so a Ctrl-C reaches moebench, which checkpoints, while
# its output still has somewhere to go.
logged() {
    log=$1; shift
    { "$@" 2>&1; echo $? >"$log.rc"; } | (trap '' INT
        if [ -n "${PREFIX:-}" ]; then tee -a "$log" | sed -u "s/^/$PREFIX/"; else tee -a "$log"; fi)
    rc=$(cat "$log.rc" 2>/dev/null || echo 1); rm -f "$log.rc"
    return "$rc"
}

INTERRUPTED=0
trap 'INTERRUPTED=1' INT TERM HUP

# run_step NAME OUTPUT EST CMD...: INPUTS lists the inputs; RESUME (a
# checkpoint path) makes an interrupted run of the same command continue.
run_step() {
    name=$1 out=$2 est=$3; shift 3
    K=$((K + 1))
    want=$(stamp_text "$@")
    if [ -e "$out" ] && [ -f "$STAMPS/$name" ] && [ "$(cat "$STAMPS/$name")" = "$want" ]; then
        say "[$K/$STEPS_N] $name: up to date, skipped ($out)"
        EST_LEFT=$((EST_LEFT - est))
        return 0
    fi
    [ $LIST = 1 ] && { say "[$K/$STEPS_N] $name: to run, about $(dur "$est")"; return 0; }
    eta_line "$K" "$name"
    extra=""
    # a training (RESUME set) stops after PAPER_STOP_AFTER steps as if interrupted (tests)
    [ -n "${RESUME:-}" ] && [ -n "${PAPER_STOP_AFTER:-}" ] && extra="--stop-after $PAPER_STOP_AFTER"
    if [ -n "${RESUME:-}" ] && [ -f "$RESUME" ] && [ -f "$STAMPS/$name.started" ] &&
        [ "$(cat "$STAMPS/$name.started")" = "$want" ]; then
        say "    resuming from the checkpoint $RESUME"
        extra="$extra --resume $RESUME"
    else
        [ -n "${RESUME:-}" ] && rm -f "$RESUME"
        : >"$LOGS/$name.log"
    fi
    rm -f "$STAMPS/$name"
    printf '%s\n' "$want" >"$STAMPS/$name.started"
    t=$(date +%s)
    # shellcheck disable=SC2086 # extra is empty or two words without spaces in PAPER_DIR's name
    logged "$LOGS/$name.log" "$@" $extra
    rc=$?
    if [ $rc -ne 0 ] || [ $INTERRUPTED = 1 ]; then
        if [ $rc -ge 128 ] || [ $INTERRUPTED = 1 ]; then
            die "interrupted in step $K ($name); run the same command again to continue from here" 130
        fi
        die "step $K ($name) failed (status $rc); its log: $LOGS/$name.log"
    fi
    if [ ! -e "$out" ]; then # a training stopped early (PAPER_STOP_AFTER): its checkpoint is kept
        die "step $K ($name) stopped before writing $out; run the same command again to continue" 3
    fi
    mv "$STAMPS/$name.started" "$STAMPS/$name"
    d=$(($(date +%s) - t))
    EST_LEFT=$((EST_LEFT - est)) EST_RAN=$((EST_RAN + est)) REAL_RAN=$((REAL_RAN + d)) RAN_ANY=1
    say "    $name done in $(dur $d)"
}

# ---- 1: vocabulary ----
V=$M/vocab.model
vs=$(size vocab_sentences)
set -- "$MB" vocab train --langs en,de,fr,cs --data "$DATA/multi30k" --size "$(size vocab_size)" --seed "$(size seed)" -o "$V"
[ "$vs" != 0 ] && set -- "$@" --max-sentences "$vs"
INPUTS="" RESUME=""
run_step vocab "$V" "$(size est_vocab)" "$@"

# ---- 2-5: the four trained variants, equal budget ----
TRAIN_THREADS=$(size threads) # a training beside another has its share of them (both() below)
train_args() { # the options every trained model (and the student) shares
    echo "--vocab-file $V --directions $DIRS --batch-tokens $(size batch_tokens) --steps $(size steps)" \
        "--warmup $(size warmup) --valid-every $(size valid_every) --valid-lines $(size valid_lines)" \
        "--bleu-lines $(size bleu_lines) --threads $TRAIN_THREADS --seed $(size seed) --checkpoint-minutes 5" \
        "--log-every 10"
    [ "$(size train_lines)" != 0 ] && echo "--max-lines $(size train_lines)"
}
train() { # FILE-STEM VARIANT EST [routing options]
    stem=$1 variant=$2 est=$3; shift 3
    out=$M/$stem.safetensors
    INPUTS=$V RESUME=$M/$stem.ckpt.safetensors
    # shellcheck disable=SC2046 # train_args is words without spaces (PAPER_DIR's name aside)
    run_step "train-$variant" "$out" "$est" "$MB" train --preset "$(size preset)" --variant "$variant" "$@" \
        --train "$TRAIN_PAT" --valid "$VALID_PAT" $(train_args) --curve "$P/curves/train-$variant.csv" -o "$out"
}
train_dense() { train dense dense "$(size est_dense)"; }
train_token() { train token token-moe "$(size est_moe)"; }
train_sentence() { train sentence sentence-moe "$(size est_moe)"; }
train_task() { train task task-moe "$(size est_moe)" --enc-routing token --dec-routing task --task-key target; }

# both FN1 NAME1 FN2 NAME2: two training steps. With parallel 2 they run at
# the same time, each on its share of the threads, their terminal lines
# marked [NAME]: on a 2-core machine two one-thread trainings do more per
# second than one two-thread training, which leaves a core idle in its
# serial parts (docs/training.md). Each keeps its own log, curve,
# checkpoint and stamp, so resuming works as for one; a failure or an
# interruption of either stops the recipe once both have stopped.
# reap PID: waits for that child and sets rc to its status; a trapped
# signal ends `wait` early, so it waits again until the child has exited
reap() {
    wait "$1"; rc=$?
    while kill -0 "$1" 2>/dev/null; do wait "$1"; rc=$?; done
}
both() {
    PAR=$(size parallel)
    if [ "$PAR" -lt 2 ] || [ $LIST = 1 ]; then "$1"; "$3"; return; fi
    k0=$K t0=$(date +%s) e0=$EST_LEFT
    touch "$STAMPS/.pair"
    each=$(($(size threads) / PAR))
    [ "$each" -ge 1 ] || each=1
    (PREFIX="[$2] " TRAIN_THREADS=$each; "$1") &
    p1=$!
    K=$((k0 + 1))
    (PREFIX="[$4] " TRAIN_THREADS=$each; "$3") &
    p2=$!
    reap $p1; rc1=$rc
    reap $p2; rc2=$rc
    K=$((k0 + 2))
    if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ] || [ $INTERRUPTED = 1 ]; then
        [ $INTERRUPTED = 1 ] || [ $rc1 -ge 128 ] || [ $rc2 -ge 128 ] &&
            die "interrupted in steps $((k0 + 1))-$K; run the same command again to continue from here" 130
        [ $rc1 -ne 0 ] && exit $rc1
        exit $rc2
    fi
    # the ETA's bookkeeping, which the two subshells could not do here
    est=0 ran=0
    for s in "$2:$5" "$4:$6"; do
        e=${s#*:}
        est=$((est + e))
        [ "$STAMPS/train-${s%%:*}" -nt "$STAMPS/.pair" ] && ran=1
    done
    est=$((est * 100 / PAIR_GAIN))
    EST_LEFT=$((e0 - est))
    if [ $ran = 1 ]; then
        d=$(($(date +%s) - t0))
        EST_RAN=$((EST_RAN + est)) REAL_RAN=$((REAL_RAN + d)) RAN_ANY=1
        say "    $2 and $4 done in $(dur $d)"
    fi
}
both train_dense dense train_token token-moe "$(size est_dense)" "$(size est_moe)"
both train_sentence sentence-moe train_task task-moe "$(size est_moe)" "$(size est_moe)"

# ---- 6: every task sub-network, checked against task-moe ----
# Extraction is exact, so a sub-network must translate exactly as task-moe
# does; the first check_lines test sentences of each direction say so.
extract_all() {
    for d in $(echo "$DIRS" | tr , ' '); do
        "$MB" extract "$M/task.safetensors" --task "$d" -o "$M/subnet-$d.safetensors" || return 1
        src=${d%-*}
        gzip -dc "$DATA/multi30k/test_2016_flickr.$src.gz" | head -n "$(size check_lines)" >"$M/check.$d.src"
        "$MB" translate "$M/task.safetensors" --task "$d" <"$M/check.$d.src" >"$M/check.$d.full" &&
            "$MB" translate "$M/subnet-$d.safetensors" --task "$d" <"$M/check.$d.src" >"$M/check.$d.sub" || return 1
        if ! cmp -s "$M/check.$d.full" "$M/check.$d.sub"; then
            echo "moebench: paper: the $d sub-network translates differently from task-moe (see $M/check.$d.*)" >&2
            return 1
        fi
        echo "moebench paper: $d sub-network: the same $(wc -l <"$M/check.$d.sub" | tr -d ' ') translations as task-moe"
        rm -f "$M/check.$d.src" "$M/check.$d.full" "$M/check.$d.sub"
    done
}
LAST_DIR=${DIRS##*,}
INPUTS=$M/task.safetensors RESUME=""
run_step extract "$M/subnet-$LAST_DIR.safetensors" "$(size est_extract)" extract_all "dirs=$DIRS" "check=$(size check_lines)"

# ---- 7: the student, distilled from token-moe ----
STUDENT=0
if [ $HAVE_DISTILL = 1 ]; then
    dl=$(size distill_lines)
    set -- "$MB" distill --teacher "$M/token.safetensors" --train "$TRAIN_PAT" --valid "$VALID_PAT" \
        --beam "$(size beam)" --cache "$P/distill-cache"
    # shellcheck disable=SC2046
    set -- "$@" $(train_args | sed 's/--max-lines [0-9]*//') --curve "$P/curves/train-student.csv" -o "$M/student.safetensors"
    # the teacher translates (and the student learns from) the first distill_lines lines
    [ "$dl" != 0 ] && set -- "$@" --max-lines "$dl"
    INPUTS="$V $M/token.safetensors" RESUME=$M/student.ckpt.safetensors
    run_step distill "$M/student.safetensors" "$(size est_distill)" "$@"
    [ $LIST = 1 ] || STUDENT=1
else
    K=$((K + 1)) EST_LEFT=$((EST_LEFT - $(size est_distill)))
    say "[$K/$STEPS_N] distill: SKIPPED: this moebench has no distill command ('moebench distill --help' failed);"
    say "    the student row will be a random dense-shaped model, which reports label untrained: not a result"
fi

# ---- 8-10: the harness on the six variants ----
scenario quality $STUDENT >"$P/scenarios/$NAME.ini"
scenario latency $STUDENT >"$P/scenarios/$NAME-latency.ini"
scenario news $STUDENT >"$P/scenarios/$NAME-news.ini"
MODELS="$M/dense.safetensors $M/token.safetensors $M/sentence.safetensors $M/task.safetensors"
[ $STUDENT = 1 ] && MODELS="$MODELS $M/student.safetensors"
measure() { # SCENARIO-NAME: runs it from the models' folder into PAPER_DIR/runs
    (cd "$M" && "$MB" run "$P/scenarios/$1.ini" -o "$R/$1.csv" --keep-hypotheses "$P/hyps")
}
R=$P/runs # one CSV per scenario; step 11 merges them
mkdir -p "$R" "$P/hyps"
INPUTS="$MODELS $P/scenarios/$NAME.ini" RESUME=""
run_step measure "$R/$NAME.csv" "$(size est_measure)" measure "$NAME"
INPUTS="$MODELS $P/scenarios/$NAME-latency.ini"
run_step latency "$R/$NAME-latency.csv" "$(size est_latency)" measure "$NAME-latency"
if [ $NEWS = 1 ]; then
    INPUTS="$MODELS $P/scenarios/$NAME-news.ini"
    run_step news "$R/$NAME-news.csv" "$(size est_news)" measure "$NAME-news"
else
    K=$((K + 1)) EST_LEFT=$((EST_LEFT - $(size est_news)))
    say "[$K/$STEPS_N] news: SKIPPED: no newstest2013.{en,de,fr,cs} in $DATA/wmt (out-of-domain BLEU left out)"
fi

# ---- 11: one CSV, the curves, the commands, the report ----
PARTS="$R/$NAME.csv $R/$NAME-latency.csv"
[ $NEWS = 1 ] && PARTS="$PARTS $R/$NAME-news.csv"
finish() {
    h=$(head -n 1 "$R/$NAME.csv")
    for f in $PARTS; do
        [ "$(head -n 1 "$f")" = "$h" ] || { echo "moebench: paper: $f has another header than $NAME.csv" >&2; return 1; }
    done
    { echo "$h"; for f in $PARTS; do tail -n +2 "$f"; done; } >"$CSV.tmp" && mv "$CSV.tmp" "$CSV" || return 1
    cp "$R/$NAME.system.txt" "${CSV%.csv}.system.txt" 2>/dev/null
    { echo "# make paper ($PROFILE sizes): every step's command and inputs (cksum:bytes), as stamped"
      for s in vocab train-dense train-token-moe train-sentence-moe train-task-moe extract distill measure latency news; do
          [ -f "$STAMPS/$s" ] && { echo "## $s"; cat "$STAMPS/$s"; }
      done; } | awk -v p="$P" -v d="$DATA" '
        function sub_all(s, from, to,   i, out) { out = ""
            while ((i = index(s, from)) > 0) { out = out substr(s, 1, i - 1) to; s = substr(s, i + length(from)) }
            return out s }
        { print sub_all(sub_all($0, p, "$PAPER_DIR"), d, "$MOEBENCH_DATA") }' >"${CSV%.csv}.recipe.txt"
    significance || return 1
    set --
    if [ -n "$CURVES_OUT" ]; then
        for c in "$P"/curves/train-*.csv; do
            [ -f "$c" ] || continue
            cp "$c" "$CURVES_OUT/paper-$(basename "$c")" || return 1
        done
        # the committed report: every tracked results CSV, this one included
        # the committed report: every tracked results CSV (curves included), these too
        set -- $( (git ls-files 'results/*.csv' 2>/dev/null; echo "results/$NAME.csv"; cd "$ROOT" &&
            ls results/paper-train-*.csv "results/$NAME-sig.csv" 2>/dev/null) | sort -u)
        "$MB" report "$@" -o "$REPORT" --figures plots/figures
    else
        "$MB" report "$CSV" "$SIG" "$P"/curves/train-*.csv -o "$REPORT" --figures "$P/figures"
    fi
}
# The significance of the paper's BLEU claims: sacreBLEU's paired bootstrap
# (moebench bleu --paired-bs, 1,000 resamples, seed 12345) on each direction's
# in-domain test translations of the measure step (greedy outputs do not
# depend on the batch size, so any batch's file will do): token-moe, student
# and the others against dense; task-moe against token-moe; the sub-network
# against task-moe. One CSV, ${CSV%.csv}-sig.csv, which the report reads.
SIG=${CSV%.csv}-sig.csv
significance() {
    rm -f "$R"/sig-*.csv
    for d in $(echo "$DIRS" | tr , ' '); do
        hyp() { ls "$P/hyps/$NAME.$1".*".$d.offline.b"*.txt 2>/dev/null | head -n 1; }
        n=$(wc -l <"$(hyp dense)") || return 1
        gzip -dc "$DATA/multi30k/test_2016_flickr.${d#*-}.gz" | head -n "$n" >"$R/ref.$d" || return 1
        boot() { # OUT BASELINE SYSTEM...: one paired-bootstrap table of this direction
            out=$1; shift; files="" names=""
            for v in "$@"; do
                f=$(hyp "$v"); [ -n "$f" ] || continue
                files="$files $f" names="$names${names:+,}$v"
            done
            # shellcheck disable=SC2086
            "$MB" bleu --paired-bs $files --ref "$R/ref.$d" --names "$names" --label "$d" \
                --csv "$R/sig-$d-$out.csv" >"$LOGS/sig-$d-$out.log"
        }
        boot dense dense token-moe sentence-moe task-moe task-subnet student &&
            boot token token-moe task-moe sentence-moe && boot task task-moe task-subnet || return 1
    done
    set -- "$R"/sig-*.csv
    { head -n 1 "$1"; for f in "$@"; do tail -n +2 "$f"; done; } >"$SIG.tmp" && mv "$SIG.tmp" "$SIG"
}
INPUTS="$PARTS" RESUME=""
run_step report "$CSV" "$(size est_report)" finish "report=$REPORT"

if [ $LIST = 1 ]; then
    say "about $(dur $EST_LEFT) to run ($PROFILE sizes; estimates for a quiet 2-core machine); nothing was run"
    exit 0
fi

# ---- where everything is ----
el=$(($(date +%s) - T0))
say "done in $(dur $el) ($PROFILE sizes, seed $(size seed), directions $DIRS one-to-many)"
[ $RAN_ANY = 0 ] && say "every step was up to date: nothing ran"
say "  models:      $M/{dense,token,sentence,task,student}.safetensors, subnet-*.safetensors"
say "  vocabulary:  $V"
say "  results:     $CSV (scenarios $NAME, $NAME-latency$( [ $NEWS = 1 ] && echo ", $NAME-news"))"
say "  report:      $REPORT"
say "  curves:      $P/curves/train-*.csv$( [ -n "$CURVES_OUT" ] && echo " (copied to results/paper-train-*.csv)")"
say "  hypotheses:  $P/hyps/   logs: $LOGS/   stamps: $STAMPS/"
say "  commands:    ${CSV%.csv}.recipe.txt"
if [ $STUDENT = 1 ]; then say "  student:     distilled from token-moe ($M/student.safetensors)"
else say "  student:     NOT distilled (no distill command): its row is a random dense-shaped model, labelled untrained"; fi
exit 0
