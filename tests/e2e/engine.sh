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
    $M translate "$WORK/full.safetensors" --task en-de --ids --scores --beam $beam <"$WORK/src.txt" >"$WORK/full.$beam" 2>"$WORK/err"
    $M translate "$WORK/sub.safetensors" --task en-de --ids --scores --beam $beam <"$WORK/src.txt" >"$WORK/sub.$beam" 2>>"$WORK/err"
    if [ -s "$WORK/full.$beam" ] && [ "$(wc -l <"$WORK/full.$beam")" -eq 5 ] && cmp -s "$WORK/full.$beam" "$WORK/sub.$beam"; then
        ok "sub-network == full model for en-de, beam $beam (tokens and scores)"
    else not_ok "sub-network == full model, beam $beam" "$(cat "$WORK/err" "$WORK/full.$beam" "$WORK/sub.$beam")"; fi
done
# with capacity off, how sentences are batched does not change their translations
$M translate "$WORK/full.safetensors" --task en-de --ids --capacity-factor 0 <"$WORK/src.txt" >"$WORK/g1" 2>/dev/null
$M translate "$WORK/full.safetensors" --task en-de --ids --capacity-factor 0 --batch 2 <"$WORK/src.txt" >"$WORK/g2" 2>/dev/null
if cmp -s "$WORK/g1" "$WORK/g2" && [ "$(wc -l <"$WORK/g1")" -eq 5 ]; then ok "--batch 2 and --batch 32 translate alike"
else not_ok "--batch 2 and --batch 32 translate alike" "$(cat "$WORK/g1" "$WORK/g2")"; fi
check "translate --stats reports dropped assignments" sh -c \
    "$M translate '$WORK/full.safetensors' --task en-de --ids --stats <'$WORK/src.txt' 2>&1 >/dev/null | grep -q 'dropped'"
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
    $M translate "$WORK/full.safetensors" --task en-de --ids --precision bf16

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
