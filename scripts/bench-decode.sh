#!/bin/sh
# bench-decode: decode-step efficiency (issue 18), old against new in one
# binary. Runs the same offline scenario twice with `moebench run`: once
# with MOEBENCH_DECODE_OFF=all (the decode path before issue 18: three Q/K/V
# GEMMs and two cross K/V GEMMs, one attention call per row, the serial
# beam-candidate scan) and once as built, alternating old and new per
# round so that drift in the machine hits both alike; then prints per
# backend, threads and batch size the median generated tokens/s and CPU
# cores used (cpu_util x threads) of each, and new/old.
#
#   scripts/bench-decode.sh [--out DIR] [--rounds N] [--sentences N] [--batches 1,32,64]
#                           [--threads 1,2] [--backends openblas,onednn] [--decode greedy|beam:K]
#                           [--off fuse,attn,topk|all] [--preset wmt-dense] [--quick]
#
# Model: wmt-dense (d512, 6+6 layers, 64k vocab), dense, the random weights
# `moebench init --preset wmt-dense --seed 1` makes; 256 synthetic sentences
# (fixed by the seed: the same sources for every configuration), output
# length = source length. Default: 2 rounds of (old, new), each 3 timed
# repetitions after one warm-up. Timing needs a quiet machine (docs/backends.md,
# "Measuring on a shared machine"); rows with starved = 1 were taken on a busy one.
# --off picks what "old" turns off (default all) to see what one change is
# worth. --quick: 16 sentences, tiny preset, one round: checks the script.
# Output: DIR/old-R.csv, DIR/new-R.csv, DIR/summary.txt (default bench-decode/).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MOEBENCH=${MOEBENCH:-$ROOT/build/moebench}
out=bench-decode rounds=2 sentences=256 batches=1,32,64 threads=1,2 backends=openblas,onednn
decode=greedy off=all preset=wmt-dense reps=3 warmup=1
die() { echo "moebench: bench-decode: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=${2:?}; shift ;;
    --rounds) rounds=${2:?}; shift ;;
    --sentences) sentences=${2:?}; shift ;;
    --batches) batches=${2:?}; shift ;;
    --threads) threads=${2:?}; shift ;;
    --backends) backends=${2:?}; shift ;;
    --decode) decode=${2:?}; shift ;;
    --off) off=${2:?}; shift ;;
    --preset) preset=${2:?}; shift ;;
    --quick) sentences=16 preset=tiny rounds=1 reps=1 warmup=0 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1'; see --help" ;;
    esac
    shift
done
[ -x "$MOEBENCH" ] || die "$MOEBENCH is not built; run 'make' first"
mkdir -p "$out" || die "cannot create folder '$out'"
ini=$out/bench-decode.ini
cat > "$ini" <<INI
; written by scripts/bench-decode.sh
[scenario]
name = bench-decode
description = decode-step efficiency (issue 18): old (MOEBENCH_DECODE_OFF=$off) against new
seed = 1
modes = offline
batch_sizes = $(echo "$batches" | sed 's/,/, /g')

[model]
preset = $preset
variants = dense

[workload]
data = synthetic
tasks = en-de
sentences = $sentences
decode = $decode
output_length = source

[measure]
backends = $(echo "$backends" | sed 's/,/, /g')
precisions = fp32
threads = $(echo "$threads" | sed 's/,/, /g')
warmup = $warmup
repetitions = $reps
INI
r=1
while [ "$r" -le "$rounds" ]; do
    for side in old new; do
        echo "moebench: bench-decode: round $r of $rounds, $side" >&2
        if [ $side = old ]; then
            MOEBENCH_DECODE_OFF=$off "$MOEBENCH" run "$ini" -o "$out/$side-$r.csv" || die "moebench run failed ($side, round $r)"
        else
            env -u MOEBENCH_DECODE_OFF "$MOEBENCH" run "$ini" -o "$out/$side-$r.csv" || die "moebench run failed ($side, round $r)"
        fi
    done
    r=$((r + 1))
done
# median over all rounds' repetitions of tokens/s and cores used, per side and configuration
awk -F, '
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; side = FILENAME ~ /\/old-[0-9]+\.csv$/ ? "old" : "new"; next }
$col["skipped"] != "" { next }
{
    k = $col["backend"] " " $col["threads"] " " $col["batch_size"]
    if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
    tps[side, k] = tps[side, k] " " $col["tgt_tok_per_s"]
    cores[side, k] = cores[side, k] " " $col["cpu_util"] * $col["threads"]
    starved[side, k] += $col["starved"]
}
END {
    printf "%-9s %7s %5s %12s %12s %9s %10s %10s %8s\n", "backend", "threads", "batch", "old tok/s", "new tok/s", "new/old", "old cores", "new cores", "starved"
    for (i = 1; i <= nk; i++) {
        k = keys[i]; split(k, f, " ")
        o = median(tps["old", k]); n = median(tps["new", k])
        printf "%-9s %7s %5s %12.1f %12.1f %9.3f %10.2f %10.2f %8d\n", f[1], f[2], f[3], o, n, o > 0 ? n / o : 0,
               median(cores["old", k]), median(cores["new", k]), starved["old", k] + starved["new", k]
    }
}' "$out"/old-*.csv "$out"/new-*.csv | tee "$out/summary.txt"
