#!/bin/sh
# bench-ct2: moebench against CTranslate2 on the same weights and the same
# sources (issue 18's goals). Makes the model (wmt-dense, dense, random
# weights of seed 1) and its CTranslate2 export, 256 sources of 10-30 random
# word ids (fixed by awk's srand(7)), then per round and per threads x batch:
# `moebench translate --stats` on each backend (openblas fp32, onednn fp32,
# onednn int8 with the output projection in fp32, onednn int8all with every
# matrix in int8 as CTranslate2's int8 has it: the translating time,
# start-up apart), and after the rounds
# scripts/ct2-peer.py (fp32 and int8, which also checks that CTranslate2's
# fp32 outputs equal moebench's token for token). Prints the median output
# tokens/s of each and the ratios best moebench / CTranslate2.
#
#   scripts/bench-ct2.sh [--out DIR] [--rounds N] [--batches 32,64] [--threads 2,1]
#                        [--max-len 28] [--sources 256] [--preset wmt-dense] [--quick]
#
# Every output is capped at --max-len tokens (sources of 10+ words allow 30),
# and random weights rarely produce EOS, so both engines generate about the
# same tokens. Timing needs a quiet machine: run nothing else meanwhile.
# --sources N: the first N of the 256 sources (batch 1 is slow: 64 will do).
# --quick: tiny preset, 16 sources, one round: checks the script.
# Needs: a built moebench ($MOEBENCH, default build/moebench); python3 with
# ctranslate2 for the peer (without it the CTranslate2 columns stay empty).
# Output: DIR/mb.txt (the --stats lines), DIR/ct2.csv (peer rows),
# DIR/summary.txt (default bench-ct2/).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MOEBENCH=${MOEBENCH:-$ROOT/build/moebench}
out=bench-ct2 rounds=2 batches=32,64 threads=2,1 maxlen=28 preset=wmt-dense n=256 reps=2
die() { echo "moebench: bench-ct2: $1" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=${2:?}; shift ;;
    --rounds) rounds=${2:?}; shift ;;
    --batches) batches=${2:?}; shift ;;
    --threads) threads=${2:?}; shift ;;
    --max-len) maxlen=${2:?}; shift ;;
    --preset) preset=${2:?}; shift ;;
    --sources) n=${2:?}; shift ;;
    --quick) preset=tiny n=16 rounds=1 reps=1 batches=4 threads=1 maxlen=12 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1'; see --help" ;;
    esac
    shift
done
[ -x "$MOEBENCH" ] || die "$MOEBENCH is not built; run 'make' first"
mkdir -p "$out" || die "cannot create folder '$out'"
model=$out/$preset-dense.safetensors
[ -s "$model" ] || "$MOEBENCH" init --preset "$preset" --variant dense --seed 1 -o "$model" ||
    die "moebench init failed"
[ -d "$out/$preset-ct2" ] || "$MOEBENCH" export "$model" --format ctranslate2 -o "$out/$preset-ct2" ||
    die "moebench export failed"
vocab=$("$MOEBENCH" info "$model" | sed -n 's/.*vocab \([0-9]*\).*/\1/p')
awk -v n="$n" -v v="$vocab" 'BEGIN { srand(7); for (i = 0; i < n; i++) { k = 10 + int(rand() * 21); s = "";
    for (j = 0; j < k; j++) s = s (j ? " " : "") (20 + int(rand() * (v - 100))); print s } }' >"$out/src.ids"
: >"$out/mb.txt"
r=1
while [ "$r" -le "$rounds" ]; do
    for th in $(echo "$threads" | tr , ' '); do
        for bs in $(echo "$batches" | tr , ' '); do
            for cfg in openblas:fp32 onednn:fp32 onednn:int8 onednn:int8all; do
                be=${cfg%:*} prec=${cfg#*:}
                echo "moebench: bench-ct2: round $r of $rounds, $be $prec, threads $th, batch $bs" >&2
                "$MOEBENCH" translate "$model" --ids --task en-de --max-len "$maxlen" --backend "$be" --precision "$prec" \
                    --threads "$th" --batch "$bs" --stats <"$out/src.ids" >/dev/null 2>"$out/stats.txt" ||
                    die "moebench translate failed ($be $prec): $(tail -1 "$out/stats.txt")"
                grep "start-up" "$out/stats.txt" >>"$out/mb.txt"
            done
        done
    done
    r=$((r + 1))
done
rm -f "$out/ct2.csv"
if python3 -c 'import ctranslate2' 2>/dev/null; then
    python3 "$ROOT/scripts/ct2-peer.py" "$model" "$out/$preset-ct2" --src "$out/src.ids" --task en-de --batch "$batches" \
        --threads "$threads" --precision fp32,int8 --reps "$reps" --warmup 1 --max-len "$maxlen" \
        --moebench "$MOEBENCH" --moebench-backend openblas -o "$out/ct2.csv" >"$out/ct2.log" 2>&1 ||
        echo "moebench: bench-ct2: ct2-peer.py failed or disagreed; see $out/ct2.log" >&2
else
    echo "moebench: bench-ct2: python3 cannot import ctranslate2 (pip install ctranslate2): CTranslate2 columns left empty" >&2
fi
# medians: moebench from the --stats lines, CTranslate2 from the peer's rows
{ sed -n 's/.*: \([0-9.]*\) output tokens\/s (\([a-z]*\) \([a-z0-9]*\), threads \([0-9]*\), batch \([0-9]*\))$/mb \4 \5 \2-\3 \1/p' "$out/mb.txt"
  [ -s "$out/ct2.csv" ] && awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
      { print "ct2", $c["threads"], $c["batch_size"], "ct2-" $c["precision"], $c["tgt_tok_per_s"] }' "$out/ct2.csv"
} | awk '
function median(list,   k, a, i, j, t) {
    k = split(list, a, " ")
    for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return k == 0 ? 0 : k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{ key = $2 " " $3; if (!(key in seen)) { seen[key] = 1; keys[++nk] = key }; v[key, $4] = v[key, $4] " " $5 }
END {
    printf "%7s %5s %14s %12s %11s %14s %9s %9s %7s %7s %10s\n", "threads", "batch", "openblas fp32", "onednn fp32",
           "onednn int8", "onednn int8all", "CT2 fp32", "CT2 int8", "fp32 x", "int8 x", "int8all x"
    for (i = 1; i <= nk; i++) {
        split(keys[i], f, " ")
        ob = median(v[keys[i], "openblas-fp32"]); od = median(v[keys[i], "onednn-fp32"])
        oi = median(v[keys[i], "onednn-int8"]); oa = median(v[keys[i], "onednn-int8all"]); cf = median(v[keys[i], "ct2-fp32"]); ci = median(v[keys[i], "ct2-int8"])
        best = ob > od ? ob : od
        rf = "-"; ri = "-"; ra = "-"
        if (cf > 0) rf = sprintf("%.2f", best / cf)
        if (ci > 0) { ri = sprintf("%.2f", oi / ci); ra = sprintf("%.2f", oa / ci) }
        printf "%7s %5s %14.1f %12.1f %11.1f %14.1f %9.1f %9.1f %7s %7s %10s\n", f[1], f[2], ob, od, oi, oa, cf, ci, rf, ri, ra
    }
}' | tee "$out/summary.txt"
