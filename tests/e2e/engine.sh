# End-to-end checks of the engine's command line: parameter counts against
# the paper, init/extract/translate and the sub-network equality, and
# one-line errors for bad input.
. tests/e2e/lib.sh
M=$MOEBENCH

json_field() { # $1 = json, $2 = key -> number
    printf '%s' "$1" | sed -n "s/.*\"$2\":\([0-9.e+]*\).*/\1/p"
}
within() { # $1 value, $2 target, $3 percent -> exit status
    awk -v v="$1" -v t="$2" -v p="$3" 'BEGIN { d = (v - t) / t * 100; exit !(d <= p && d >= -p) }'
}

# ---- parameter counts (the paper: 142M dense; 533M = 214M encoder + 221M decoder + vocabulary) ----
j=$($M info --preset wmt-dense --variant dense --json)
if within "$(json_field "$j" params_total)" 142e6 3; then ok "wmt-dense total within 3% of 142M"
else not_ok "wmt-dense total within 3% of 142M" "$j"; fi
j=$($M info --preset wmt32e --variant token-moe --json)
if within "$(json_field "$j" params_total)" 533e6 3 && within "$(json_field "$j" params_encoder)" 214e6 3 &&
   within "$(json_field "$j" params_decoder)" 221e6 3; then ok "wmt32e token-moe: 533M total, 214M encoder, 221M decoder within 3%"
else not_ok "wmt32e counts" "$j"; fi
j=$($M info --preset web128e --variant task-moe --json)
if within "$(json_field "$j" params_total)" 13e9 3 && within "$(json_field "$j" params_decoder)" 6.5e9 3 &&
   within "$(json_field "$j" params_per_task_served_decoder)" 201e6 3; then ok "web128e: 13B total, 6.5B decoder, 201M task-served decoder"
else not_ok "web128e counts" "$j"; fi
j=$(MOEBENCH_MEM_LIMIT=16G $M info --preset web128e --variant task-moe --json)
case "$j" in *'"fits_in_memory":false'*) ok "info says web128e does not fit under 16G";; *) not_ok "web128e fit" "$j";; esac
MOEBENCH_MEM_LIMIT=16G check_fails "init web128e refused before allocating" "needs 49.42 GiB.*allows 16.00 GiB" \
    $M init --preset web128e --variant token-moe -o "$WORK/big.safetensors"
if [ ! -e "$WORK/big.safetensors" ]; then ok "no file left by a refused init"; else not_ok "no file left by a refused init"; fi
j=$($M info --preset tiny --variant task-moe --json)
sub_total=$(json_field "$j" params_per_task_served)

# ---- init, extract, translate ----
check "init tiny task-moe" $M init --preset tiny --variant task-moe --seed 7 -o "$WORK/full.safetensors"
check "init again with the same seed" $M init --preset tiny --variant task-moe --seed 7 -o "$WORK/again.safetensors"
check "same seed, same bytes" cmp "$WORK/full.safetensors" "$WORK/again.safetensors"
$M init --preset tiny --variant task-moe --seed 8 -o "$WORK/other.safetensors" 2>/dev/null
if cmp -s "$WORK/full.safetensors" "$WORK/other.safetensors"; then not_ok "another seed, other weights"; else ok "another seed, other weights"; fi
check "extract --task de" $M extract "$WORK/full.safetensors" --task de -o "$WORK/sub.safetensors"
j=$($M info "$WORK/sub.safetensors" --json)
if [ "$(json_field "$j" params_total)" = "$sub_total" ]; then ok "sub-network size = the config's served-per-task count ($sub_total)"
else not_ok "sub-network size" "$j vs $sub_total"; fi

printf '10 11 12 13 14\n40 41\n\n7 8 9 10 11 12 13 14 15\n300 301 302\n' >"$WORK/src.txt"
for beam in 1 4; do
    # on ref bit for bit (the same sums in the same order)
    $M translate "$WORK/full.safetensors" --task en-de --ids --scores --beam $beam --backend ref <"$WORK/src.txt" >"$WORK/full.$beam" 2>"$WORK/err"
    $M translate "$WORK/sub.safetensors" --task en-de --ids --scores --beam $beam --backend ref <"$WORK/src.txt" >"$WORK/sub.$beam" 2>>"$WORK/err"
    if [ -s "$WORK/full.$beam" ] && [ "$(wc -l <"$WORK/full.$beam")" -eq 5 ] && cmp -s "$WORK/full.$beam" "$WORK/sub.$beam"; then
        ok "sub-network == full model for en-de, beam $beam (tokens and scores)"
    else not_ok "sub-network == full model, beam $beam" "$(cat "$WORK/err" "$WORK/full.$beam" "$WORK/sub.$beam")"; fi
    # on the default backend (auto) the same tokens; a library's GEMM may block the full model's
    # expert shapes and the sub-network's FFN differently, so scores agree to 1e-6 relative
    $M translate "$WORK/full.safetensors" --task en-de --ids --scores --beam $beam <"$WORK/src.txt" >"$WORK/fullA.$beam" 2>"$WORK/err"
    $M translate "$WORK/sub.safetensors" --task en-de --ids --scores --beam $beam <"$WORK/src.txt" >"$WORK/subA.$beam" 2>>"$WORK/err"
    if [ "$(wc -l <"$WORK/fullA.$beam")" -eq 5 ] && [ "$(cut -f1 "$WORK/fullA.$beam")" = "$(cut -f1 "$WORK/subA.$beam")" ] &&
       paste "$WORK/fullA.$beam" "$WORK/subA.$beam" | awk -F'\t' '{ d = $2 - $4; if (d < 0) d = -d; a = $2 < 0 ? -$2 : $2
            if (d > 1e-6 * a + 1e-6) bad = 1 } END { exit bad }'; then
        ok "sub-network == full model on the default backend, beam $beam (tokens; scores to 1e-6)"
    else not_ok "sub-network == full model on the default backend, beam $beam" "$(cat "$WORK/err" "$WORK/fullA.$beam" "$WORK/subA.$beam")"; fi
done
# by default (capacity factor 0), how sentences are batched does not change their translations
$M translate "$WORK/full.safetensors" --task en-de --ids <"$WORK/src.txt" >"$WORK/g1" 2>/dev/null
$M translate "$WORK/full.safetensors" --task en-de --ids --batch 2 <"$WORK/src.txt" >"$WORK/g2" 2>/dev/null
if cmp -s "$WORK/g1" "$WORK/g2" && [ "$(wc -l <"$WORK/g1")" -eq 5 ]; then ok "--batch 2 and --batch 32 translate alike"
else not_ok "--batch 2 and --batch 32 translate alike" "$(cat "$WORK/g1" "$WORK/g2")"; fi

# ---- translate --stats: the numbers ----
# "moebench: S sentences, X source tokens, Y output tokens, Z decoder steps" and per stack
# "moebench: encoder MoE: T token routings, A expert assignments, D dropped assignments, N dropped tokens ..."
stat() { # $1 = stats file, $2 = encoder|decoder|totals, $3 = field index (1-4)
    if [ "$2" = totals ]; then sed -n 's/^moebench: \([0-9]*\) sentences, \([0-9]*\) source tokens, \([0-9]*\) output tokens, \([0-9]*\) decoder steps$/\1 \2 \3 \4/p' "$1"
    else sed -n "s/^moebench: $2 MoE: \([0-9]*\) token routings, \([0-9]*\) expert assignments, \([0-9]*\) dropped assignments, \([0-9]*\) dropped tokens.*/\1 \2 \3 \4/p" "$1"
    fi | awk -v f="$3" '{ print $f }'
}
# tiny task-moe: 1 token-routed encoder MoE layer (of 2), 1 target-routed decoder MoE layer, top-2.
# src.txt has 5 sentences of 5, 2, 0, 9, 3 tokens: 29 source tokens with tag and EOS.
$M translate "$WORK/full.safetensors" --task en-de --ids --stats <"$WORK/src.txt" >"$WORK/so" 2>"$WORK/st"
out_tokens=$(awk '{ n += NF } END { print n + 0 }' "$WORK/so")
e_tok=$(stat "$WORK/st" encoder 1); e_asg=$(stat "$WORK/st" encoder 2); e_drop=$(stat "$WORK/st" encoder 3)
d_tok=$(stat "$WORK/st" decoder 1); d_asg=$(stat "$WORK/st" decoder 2); d_drop=$(stat "$WORK/st" decoder 3)
t_src=$(stat "$WORK/st" totals 2); t_out=$(stat "$WORK/st" totals 3)
if [ "$t_src" = 29 ] && [ "$t_out" = "$out_tokens" ] && [ "$e_tok" = 29 ] && [ "$e_asg" = 58 ] &&
   [ "$d_asg" = $((2 * d_tok)) ] && [ "$d_tok" -ge "$out_tokens" ] && [ "$d_tok" -le $((out_tokens + 5)) ] &&
   [ "$e_drop" = 0 ] && [ "$d_drop" = 0 ]; then
    ok "translate --stats: 29 source tokens, 29 encoder routings, 58 assignments, decoder = outputs (+EOS), nothing dropped"
else not_ok "translate --stats numbers" "$(cat "$WORK/st"; echo "outputs $out_tokens")"; fi
# and the timing line: start-up apart from translating, and tokens/s = output tokens / translating wall
# (within the rounding of the printed wall time)
tl=$(sed -n 's/^moebench: start-up \([0-9.]*\) s; translating \([0-9.]*\) s wall, \([0-9.]*\) s CPU (\([0-9.]*\) cores): \([0-9.]*\) output tokens\/s ([a-z]* fp32, threads default, batch 32)$/\1 \2 \5/p' "$WORK/st")
if [ -n "$tl" ] && echo "$tl $t_out" | awk '{ lo = $2 - 0.0005; hi = $2 + 0.0005  # the wall time is printed to 1 ms
        exit !($1 > 0 && $2 > 0 && $3 <= ($4 / (lo > 0 ? lo : 1e-9)) * 1.001 + 0.1 && $3 >= $4 / hi * 0.999 - 0.1) }'; then
    ok "translate --stats: start-up, translating time and output tokens/s ($tl)"
else not_ok "translate --stats timing line" "$(grep start-up "$WORK/st")"; fi

# capacity on: a token-moe model with 32 experts and cf 0.5 (C = 4 per expert and sentence) drops,
# and the counts add up; a model file that records a training cf still drops nothing by default
$M init --preset tiny --variant token-moe --experts 32 --capacity-factor 1 --seed 5 -o "$WORK/e32.safetensors" 2>/dev/null
awk 'BEGIN { for (i = 0; i < 12; i++) { n = 12 + (i * 7) % 19; s = ""; for (t = 0; t < n; t++) s = s (t ? " " : "") (30 + (i * 131 + t * 17) % 400); print s } }' >"$WORK/long.txt"
$M translate "$WORK/e32.safetensors" --task en-de --ids --stats <"$WORK/long.txt" >/dev/null 2>"$WORK/st0"
$M translate "$WORK/e32.safetensors" --task en-de --ids --stats --capacity-factor 0.5 <"$WORK/long.txt" >"$WORK/c32" 2>"$WORK/st1"
drops0=$(( $(stat "$WORK/st0" encoder 3) + $(stat "$WORK/st0" decoder 3) ))
e_asg=$(stat "$WORK/st1" encoder 2); e_drop=$(stat "$WORK/st1" encoder 3); e_dtok=$(stat "$WORK/st1" encoder 4)
d_asg=$(stat "$WORK/st1" decoder 2); d_drop=$(stat "$WORK/st1" decoder 3); d_dtok=$(stat "$WORK/st1" decoder 4)
if [ "$drops0" = 0 ]; then ok "a model file's recorded capacity factor is not applied by default"
else not_ok "default drops nothing" "$(cat "$WORK/st0")"; fi
if [ "$e_drop" -gt 0 ] && [ "$d_drop" -gt 0 ] && [ "$e_drop" -lt "$e_asg" ] && [ "$d_drop" -lt "$d_asg" ] &&
   [ $((2 * e_dtok)) -le "$e_drop" ] && [ $((2 * d_dtok)) -le "$d_drop" ]; then
    ok "--capacity-factor 0.5 with 32 experts drops assignments; dropped tokens <= dropped assignments / k"
else not_ok "capacity drops" "$(cat "$WORK/st1")"; fi
for beam in 1 4; do
    $M translate "$WORK/e32.safetensors" --task en-de --ids --capacity-factor 0.5 --beam $beam <"$WORK/long.txt" >"$WORK/cb32" 2>/dev/null
    $M translate "$WORK/e32.safetensors" --task en-de --ids --capacity-factor 0.5 --beam $beam --batch 1 <"$WORK/long.txt" >"$WORK/cb1" 2>/dev/null
    tac "$WORK/long.txt" | $M translate "$WORK/e32.safetensors" --task en-de --ids --capacity-factor 0.5 --beam $beam 2>/dev/null | tac >"$WORK/cbr"
    if [ "$(wc -l <"$WORK/cb32")" -eq 12 ] && cmp -s "$WORK/cb32" "$WORK/cb1" && cmp -s "$WORK/cb32" "$WORK/cbr"; then
        ok "capacity on, beam $beam: batch 1, 32 and reversed give the same translations"
    else not_ok "capacity on, beam $beam: batch independence" "$(diff "$WORK/cb32" "$WORK/cb1" | head -5)"; fi
done
# a lone sentence drops nothing at the default, on a model where capacity on would drop
head -n 1 "$WORK/long.txt" | $M translate "$WORK/e32.safetensors" --task en-de --ids --stats --beam 4 >/dev/null 2>"$WORK/st2"
head -n 1 "$WORK/long.txt" | $M translate "$WORK/e32.safetensors" --task en-de --ids --stats --beam 4 --capacity-factor 0.5 >/dev/null 2>"$WORK/st3"
if [ "$(stat "$WORK/st2" encoder 3)" = 0 ] && [ "$(stat "$WORK/st2" decoder 3)" = 0 ] &&
   [ "$(stat "$WORK/st2" encoder 2)" -gt 0 ] && [ $(( $(stat "$WORK/st3" encoder 3) + $(stat "$WORK/st3" decoder 3) )) -gt 0 ]; then
    ok "a lone sentence, beam 4, drops nothing by default (and would with cf 0.5)"
else not_ok "lone sentence drops" "$(cat "$WORK/st2" "$WORK/st3")"; fi

# ---- batch independence at the defaults: batch 1, 8, 32 and reversed order, greedy and beam 4,
# token-, sentence- and task-moe, on every backend (tiny always; small unless sanitized: slow) ----
awk 'BEGIN { for (i = 0; i < 32; i++) { n = 1 + (i * 7) % 19; s = ""; for (t = 0; t < n; t++) s = s (t ? " " : "") (30 + (i * 131 + t * 17) % 400); print s } }' >"$WORK/src32.txt"
head -n 10 "$WORK/src32.txt" | cut -d" " -f1-6 >"$WORK/src10.txt"
batch_matrix() { # $1 = preset, $2 = source file, $3... = extra translate options
    preset=$1; src=$2; shift 2
    n=$(wc -l <"$src")
    for v in token-moe sentence-moe task-moe; do
        $M init --preset "$preset" --variant $v --seed 3 -o "$WORK/bm.safetensors" 2>/dev/null
        for be in ref openblas onednn; do
            if ! have_backend "$be"; then
                for beam in 1 4; do skip "$preset $v, $be, beam $beam: batch independence" "$be is not compiled in"; done
                continue
            fi
            for beam in 1 4; do
                T="$M translate $WORK/bm.safetensors --task en-de --ids --backend $be --beam $beam $*"
                $T <"$src" >"$WORK/b32" 2>"$WORK/berr"
                $T --batch 8 <"$src" >"$WORK/b8" 2>>"$WORK/berr"
                $T --batch 1 <"$src" >"$WORK/b1" 2>>"$WORK/berr"
                tac "$src" | $T 2>>"$WORK/berr" | tac >"$WORK/brev"
                if [ "$(wc -l <"$WORK/b32")" -eq "$n" ] && cmp -s "$WORK/b32" "$WORK/b8" && cmp -s "$WORK/b32" "$WORK/b1" &&
                   cmp -s "$WORK/b32" "$WORK/brev"; then
                    ok "$preset $v, $be, beam $beam: batch 1, 8, 32 and reversed order give identical ids"
                else not_ok "$preset $v, $be, beam $beam: batch independence" \
                    "$(cat "$WORK/berr"; diff "$WORK/b32" "$WORK/b1" | head -4; diff "$WORK/b32" "$WORK/brev" | head -4)"; fi
            done
        done
    done
}
batch_matrix tiny "$WORK/src32.txt"
if [ -n "$MOEBENCH_SANITIZED" ]; then
    skip "small preset batch independence" "too slow under the sanitizers (MOEBENCH_SANITIZED)"
else
    batch_matrix small "$WORK/src10.txt" --max-len 4
fi

check_fails "sub-network refuses another task" "serves target de only|sub-network for target de" \
    $M translate "$WORK/sub.safetensors" --task en-fr --ids
check_fails "a token id outside the vocabulary" "id 999999 is outside the vocabulary" \
    sh -c "echo '5 999999' | $M translate '$WORK/full.safetensors' --task en-de --ids"
check_fails "a word where an id belongs" "stdin:2: 'hello' is not a token id" \
    sh -c "printf '5 6\nhello 7\n' | $M translate '$WORK/full.safetensors' --task en-de --ids"
check_fails "text input without a vocabulary" "no vocabulary" $M translate "$WORK/full.safetensors" --task en-de
check_fails "several tasks and no --task" "choose one with --task" $M translate "$WORK/full.safetensors" --ids
check_fails "unknown backend" "unknown backend 'nope'" $M translate "$WORK/full.safetensors" --task en-de --ids --backend nope
check_fails "ref has no bf16" "precision bf16 is not supported" \
    $M translate "$WORK/full.safetensors" --task en-de --ids --backend ref --precision bf16

# ---- bad input, one line each ----
check_fails "unknown subcommand" "unknown subcommand 'frobnicate'" $M frobnicate
check_fails "unknown option" "unknown option '--colour'" $M info --colour
check_fails "option without its value" "option '--preset' needs a value" $M info --preset
check_fails "unknown preset" "unknown preset 'huge'" $M info --preset huge
check_fails "unknown variant" "unknown variant 'mixture'" $M init --variant mixture -o "$WORK/x.safetensors"
check_fails "bad number" "--experts: 'many' is not a whole number" $M info --preset tiny --experts many
check_fails "top-k above experts" "top_k 4 exceeds the 2 experts" $M info --preset tiny --variant token-moe --experts 2 --top-k 4
check_fails "beam out of range" "--beam: 0 is out of range; give a whole number in \[1, 64\]" \
    $M translate "$WORK/full.safetensors" --beam 0
check_fails "missing model file" "nothere.safetensors" $M info "$WORK/nothere.safetensors"
head -c 3000 "$WORK/full.safetensors" >"$WORK/trunc.safetensors"
check_fails "truncated model file" "trunc.safetensors" $M translate "$WORK/trunc.safetensors" --task en-de --ids
check_fails "init into a missing folder" "no/such/dir" $M init --preset tiny -o "$WORK/no/such/dir/m.safetensors"
check_fails "task-subnet is made by extract" "moebench extract" $M init --variant task-subnet -o "$WORK/s.safetensors"
check_fails "extract from a token-moe model" "no task-routed layers" \
    sh -c "$M init --variant token-moe -o '$WORK/tok.safetensors' 2>/dev/null; $M extract '$WORK/tok.safetensors' --task de -o '$WORK/s.safetensors'"
for cmd in init info extract translate backends; do
    if $M $cmd --help | grep -q "usage: moebench $cmd"; then ok "$cmd --help"; else not_ok "$cmd --help"; fi
done
case "$($M --version)" in "moebench "[0-9]*) ok "--version";; *) not_ok "--version";; esac
